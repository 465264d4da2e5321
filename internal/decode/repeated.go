package decode

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/needle-router/needle/internal/toolspec"
)

// Repeated values. A call that gives two of its free string arguments the same value has
// mixed its parameters up: "from" and "to" both "garching forschungszentrum", a city and a
// state both "babies". Measured on needle-small@12338's answers (session 10's per-item files,
// final answers after the unsaid rule): 47 of 2,875 real dev answers, 18 of 913 HWU64 test
// answers and 49 of 840 BFCL answers had one, and none of the 114 was right; some came with
// confidence 0.998, the confident errors that held a fine-tuned toolset's threshold up. Such
// an answer keeps its calls (the caller may still want to see them) but scores confidence 0,
// so no threshold (they are in (0, 1]) answers it locally.

// A value that repeats a word ("some some some", "was was was") is the same fault inside one
// argument: the copy stuck on a word. On needle-small@17253-soup it zeroes 23 more BFCL
// answers (`needle eval bfcl --per-item`, before and after), none of them right; the
// playground's "um I'd like to hear some music" gave play_music(query "some some some") at
// 0.955. Digits are left alone ("2021-01-01").

// stutteredValue reports whether some call gives a free string parameter of its tool a value
// in which a word of letters follows itself while the transcript never says it twice in a
// row ("bora bora" said is fine).
func stutteredValue(calls []toolspec.Call, tools []Tool, transcript string) bool {
	said := " " + words(transcript) + " "
	return anyCall(calls, tools, func(values []string) bool {
		for _, v := range values {
			f := strings.Fields(v)
			for i := 1; i < len(f); i++ {
				if f[i] == f[i-1] && strings.IndexFunc(f[i], unicode.IsDigit) < 0 && !strings.Contains(said, " "+f[i]+" "+f[i]+" ") {
					return true
				}
			}
		}
		return false
	})
}

// repeatedValue reports whether some call gives two free string parameters of its tool (no
// enum, no format) the same non-empty value, compared as lowercase words.
func repeatedValue(calls []toolspec.Call, tools []Tool) bool {
	return anyCall(calls, tools, func(values []string) bool {
		seen := make(map[string]bool, len(values))
		for _, w := range values {
			if w == "" {
				continue
			}
			if seen[w] {
				return true
			}
			seen[w] = true
		}
		return false
	})
}

// anyCall reports whether bad holds for some call's free string values (freeString
// parameters of its tool, in words form, in the call's order); calls to tools without a
// spec and arguments that do not parse are skipped.
func anyCall(calls []toolspec.Call, tools []Tool, bad func(values []string) bool) bool {
	for _, c := range calls {
		spec := specOf(tools, c.Name)
		if spec == nil {
			continue
		}
		keys, vals, err := toolspec.OrderedObject(c.Arguments)
		if err != nil {
			continue
		}
		var values []string
		for k, key := range keys {
			var s string
			if p := spec.Param(key); p == nil || !freeString(p) || json.Unmarshal(vals[k], &s) != nil {
				continue
			}
			values = append(values, words(s))
		}
		if bad(values) {
			return true
		}
	}
	return false
}

// freeString reports whether p takes a string the schema leaves free: string among its types
// (["string", "null"] included), no enum, no format.
func freeString(p *toolspec.Param) bool {
	return slices.Contains(p.TypeList(), "string") && len(p.Enum) == 0 && p.Format == ""
}
