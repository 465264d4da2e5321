package decode

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/needle-router/needle/internal/toolspec"
)

// Unsaid optional arguments. On real voice commands the model gave an argument to 96% of
// right-tool answers whose call wants none, and 477 of 507 such values were not in the
// sentence (issue 20): an optional parameter nobody mentioned was filled with a plausible
// value. A free string value (no enum, no format) of an optional parameter is only ever
// right when it was said, so one that the transcript does not contain is dropped: the
// argument needs evidence the decoder's key choice alone does not give. The same holds for
// a closed choice (a string enum): "what's the weather in Paris" gained unit "fahrenheit",
// and on BFCL 8 of 10 optional enum values nobody said were wrong where leaving them out was
// right. A choice counts as said when each of its words is said, a plural matching its
// singular ("historical records" / "historical record"), since a choice is a name for a
// thing rather than a copy. Required parameters, numbers, booleans and formatted strings
// keep the model's value (a spoken "ten" must become 10); a required free value that was
// not said still reaches the schema check and the confidence rule.

// dropUnsaid returns calls without the optional free string arguments whose value does not
// occur in the transcript (compared as lowercase words, punctuation ignored) and, unless
// keepChoices, the optional string enum values not said (saidChoice), and whether it dropped
// any. Arguments keep their order and bytes otherwise.
func dropUnsaid(calls []toolspec.Call, tools []Tool, transcript string, keepChoices bool) ([]toolspec.Call, bool) {
	said := " " + words(transcript) + " "
	var stems map[string]bool // of the transcript's words, built on the first choice seen
	changed := false
	for i := range calls {
		spec := specOf(tools, calls[i].Name)
		if spec == nil {
			continue
		}
		keys, vals, err := toolspec.OrderedObject(calls[i].Arguments)
		if err != nil {
			continue
		}
		keep := make([]bool, len(keys))
		drop := false
		for k, key := range keys {
			keep[k] = true
			p := spec.Param(key)
			if p == nil || p.Required {
				continue
			}
			free, choice := freeString(p), !keepChoices && stringChoice(p)
			if !free && !choice {
				continue
			}
			var s string
			if json.Unmarshal(vals[k], &s) != nil {
				continue
			}
			w := words(s)
			if free && (w == "" || !strings.Contains(said, " "+w+" ")) {
				keep[k], drop = false, true
			}
			if choice {
				if stems == nil {
					stems = stemSet(said)
				}
				if !saidChoice(w, stems) {
					keep[k], drop = false, true
				}
			}
		}
		if !drop {
			continue
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for k, key := range keys {
			if !keep[k] {
				continue
			}
			if b.Len() > 1 {
				b.WriteString(", ")
			}
			b.Write(toolspec.AppendString(nil, key))
			b.WriteString(": ")
			b.Write(vals[k])
		}
		b.WriteByte('}')
		calls[i].Arguments = json.RawMessage(b.Bytes())
		changed = true
	}
	return calls, changed
}

func specOf(tools []Tool, name string) *toolspec.Tool {
	for i := range tools {
		if tools[i].Spec != nil && tools[i].Spec.Name == name {
			return tools[i].Spec
		}
	}
	return nil
}

// stringChoice reports whether p is a closed choice among strings: an enum whose values
// are all strings, without a format.
func stringChoice(p *toolspec.Param) bool {
	if len(p.Enum) == 0 || p.Format != "" {
		return false
	}
	for _, v := range p.Enum {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

// saidChoice reports whether every word of w (a choice in words form) is among stems.
func saidChoice(w string, stems map[string]bool) bool {
	if w == "" {
		return false
	}
	for _, f := range strings.Fields(w) {
		if !stems[stem(f)] {
			return false
		}
	}
	return true
}

// stemSet returns the stems of the words in w.
func stemSet(w string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(w) {
		m[stem(f)] = true
	}
	return m
}

// stem folds a plural onto its singular: a final "s" goes from words of four or more
// letters ("records", not "gas" or "is"), "ies" becomes "y".
func stem(w string) string {
	switch {
	case len(w) >= 5 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) >= 4 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return w[:len(w)-1]
	}
	return w
}

// words lowercases s and keeps its letters and digits as single-space separated words.
func words(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return strings.Join(f, " ")
}

// rawCalls renders calls as the answer's JSON list, in the model's format.
func rawCalls(calls []toolspec.Call) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, c := range calls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"name": `)
		b.Write(toolspec.AppendString(nil, c.Name))
		b.WriteString(`, "arguments": `)
		b.Write(c.Arguments)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}
