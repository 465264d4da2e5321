package decode

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

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
// right. A choice counts as said when each of its words is said in some form (Porter2 stems,
// accents removed: "historical record" says "historical records", "walk me" says "walking"),
// since a choice is a name for a thing rather than a copy. Required parameters, numbers,
// booleans, enums whose values read as numbers or booleans ("4", "True") and formatted
// strings keep the model's value (a spoken "ten" must become 10); a required free value that
// was not said still reaches the schema check and the confidence rule.

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

// stringChoice reports whether p is a closed choice among words: an enum of strings, without
// a format, none of which reads as a number or a boolean. SGD writes star ratings, years and
// yes/no slots as string enums ("4", "2018", "True"); a spoken "four star" or "two years
// ago" is such a value rewritten, so those keep the model's value like numbers do.
func stringChoice(p *toolspec.Param) bool {
	if len(p.Enum) == 0 || p.Format != "" {
		return false
	}
	if ts := p.TypeList(); len(ts) > 0 && !slices.Contains(ts, "string") {
		return false
	}
	for _, v := range p.Enum {
		s, ok := v.(string)
		if !ok {
			return false
		}
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return false
		}
		if _, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return false
		}
	}
	return true
}

// saidChoice reports whether a choice (in words form) was said: each of its words is among
// the transcript's stems, or the words run together are one of them ("e-mail" / "email").
func saidChoice(w string, stems map[string]bool) bool {
	f := strings.Fields(w)
	if len(f) == 0 {
		return false
	}
	if len(f) > 1 && stems[stem(strings.Join(f, ""))] {
		return true
	}
	for _, x := range f {
		if !stems[stem(x)] {
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

// stem is a word's Porter2 stem with its accents removed, so a choice matches the forms a
// speaker uses ("walking" / "walk", "boxes" / "box", "café" / "cafe").
func stem(w string) string {
	if folded, _, err := transform.String(unaccent, w); err == nil {
		w = folded
	}
	return english.Stem(w, false)
}

// unaccent removes combining marks after canonical decomposition.
var unaccent = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

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
