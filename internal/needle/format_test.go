package needle

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

// toWire inserts the virtual leading space of every string value inside a call's arguments
// (the inverse of what the decoder drops; train/answer_format.py). It works on prefixes.
func toWire(s string) string {
	var b strings.Builder
	type ctr struct {
		obj     bool
		wantKey bool
	}
	var stack []ctr
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			isKey := len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].wantKey
			b.WriteByte('"')
			if len(stack) >= 3 && !isKey {
				b.WriteByte(' ')
			}
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteString(s[j : j+2])
					j += 2
					continue
				}
				b.WriteByte(s[j])
				j++
			}
			if j < len(s) {
				b.WriteByte('"')
			}
			i = j
			if isKey {
				stack[len(stack)-1].wantKey = false
			}
			continue
		case '[', '{':
			stack = append(stack, ctr{obj: c == '{', wantKey: c == '{'})
		case ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantKey = true
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

type formatCase struct {
	Query   string          `json:"query"`
	Tools   json.RawMessage `json:"tools"`
	Answers json.RawMessage `json:"answers"`
	Enc     []int32         `json:"enc"`
	Dec     []int32         `json:"dec"`
	JSON    string          `json:"json"`
}

// The Go side of the copy-consistent format agrees with train/answer_format.py: the encoder
// ids of (query, tools) are Python's, and the answer ids Python trains on are accepted by the
// grammar token by token and decode (virtual spaces dropped) to exactly the answer JSON.
func TestFormatParityWithPython(t *testing.T) {
	tok, err := LoadTokenizer(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	vb := tok.TokenBytes()
	f, err := os.Open("testdata/format/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	n, valueStrings := 0, 0
	for sc.Scan() {
		var c formatCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		tools, err := toolspec.ParseFlat(c.Tools)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		ids := tok.Encode(queryText(c.Query))
		ids = append(ids, TokTools)
		ids = tok.AppendEncode(ids, string(toolspec.AppendJSON(nil, tools)))
		if !slices.Equal(ids, c.Enc) {
			t.Errorf("case %d %q: encoder ids differ from Python's\n go %v\n py %v", n, c.Query, ids, c.Enc)
		}
		g, err := newGrammar(tools)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		var st gstate
		var out []byte
		for k, id := range c.Dec {
			for _, b := range vb[id] {
				if !g.feed(&st, b) {
					t.Fatalf("case %d: grammar rejects byte %q of token %d (%q) after %q", n, b, k, vb[id], out)
				}
				if st.virt {
					valueStrings++
				} else {
					out = append(out, b)
				}
			}
		}
		if st.phase != phDone {
			t.Errorf("case %d: answer incomplete after all tokens: %s", n, out)
		}
		if string(out) != c.JSON {
			t.Errorf("case %d: decoded %s, want %s", n, out, c.JSON)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 || valueStrings < 10 {
		t.Fatalf("fixture too small: %d cases, %d value strings", n, valueStrings)
	}
}

// A copied word gets the same ids in the transcript and in the answer (the point of the format).
func TestCopiedValueTokensMatchTranscript(t *testing.T) {
	tok, err := LoadTokenizer(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"lisbon", "kitchen", "priya", "Paris", "San Francisco"} {
		q := tok.Encode(queryText("what is the forecast for " + w))
		v := tok.Encode(" " + w)
		if len(q) < len(v) || !slices.Equal(q[len(q)-len(v):], v) {
			t.Errorf("%q: transcript ids end %v, value ids %v", w, q, v)
		}
	}
}

func TestToWire(t *testing.T) {
	for in, want := range map[string]string{
		`[]`: `[]`,
		`[{"name":"f","arguments":{"a":"x","b":["y",1],"c":{"k":"v"}}}]`: `[{"name":"f","arguments":{"a":" x","b":[" y",1],"c":{"k":" v"}}}]`,
		`[{"name":"f","arguments":{"a":"say \"hi\"`:                      `[{"name":"f","arguments":{"a":" say \"hi\"`,
	} {
		if got := toWire(in); got != want {
			t.Errorf("toWire(%s) = %s, want %s", in, got, want)
		}
	}
}

// A value string must start with its virtual space (which the decoder drops); keys and names
// must not have one; string enum literals carry it too.
func TestGrammarValueLeadingSpace(t *testing.T) {
	tools := mustTools(t, `[{"name":"f","description":"d","parameters":{"s":{"type":"string","required":true},"u":{"type":"string","enum":["c","f"]}}}]`)
	g, err := newGrammar(tools)
	if err != nil {
		t.Fatal(err)
	}
	for in, ok := range map[string]bool{
		`[{"name":"f","arguments":{"s":" x"}}]`:          true,
		`[{"name":"f","arguments":{"s":"x"`:              false,
		`[{"name":"f","arguments":{"s":""}}]`:            false,
		`[{"name":"f","arguments":{"s":" "}}]`:           true, // the empty string
		`[{"name":"f","arguments":{"s":"  x"}}]`:         true, // " x"
		`[{"name":"f","arguments":{"s":" a","u":" c"}}]`: true,
		`[{"name":"f","arguments":{"s":" a","u":"c"`:     false,
		`[{"name":" f"`:                  false,
		`[{"name":"f","arguments":{" s"`: false,
	} {
		var s gstate
		got := true
		for i := 0; i < len(in); i++ {
			if !g.feed(&s, in[i]) {
				got = false
				break
			}
		}
		if got != ok {
			t.Errorf("%s: accepted %v, want %v", in, got, ok)
		}
	}
}
