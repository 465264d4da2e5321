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
// argument needs evidence the decoder's key choice alone does not give. Required parameters,
// enums, numbers and booleans keep the model's value (a spoken "ten" must become 10, a
// closed choice need not be said verbatim); a required free value that was not said still
// reaches the schema check and the confidence rule.

// dropUnsaid returns calls without the optional free string arguments whose value does not
// occur in the transcript (compared as lowercase words, punctuation ignored), and whether it
// dropped any. Arguments keep their order and bytes otherwise.
func dropUnsaid(calls []toolspec.Call, tools []Tool, transcript string) ([]toolspec.Call, bool) {
	said := " " + words(transcript) + " "
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
			if p == nil || p.Required || !freeString(p) {
				continue
			}
			var s string
			if json.Unmarshal(vals[k], &s) != nil {
				continue
			}
			if w := words(s); w == "" || !strings.Contains(said, " "+w+" ") {
				keep[k], drop = false, true
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
