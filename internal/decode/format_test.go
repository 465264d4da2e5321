package decode

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/toolspec"
)

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
	m := randomModel(t, 1).Model() // the shipped tokenizer
	vb := m.Tokenizer().TokenBytes()
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
		if text := appendToolsText(nil, mustPrepare(t, tools)); string(text) != string(toolspec.AppendJSON(nil, tools)) {
			t.Fatalf("case %d: tools rendered one by one differ from toolspec.AppendJSON:\n%s", n, text)
		}
		ids, _ := m.AppendPrompt(nil, c.Query, appendToolsText(nil, mustPrepare(t, tools)))
		if !slices.Equal(ids, c.Enc) {
			t.Errorf("case %d %q: encoder ids differ from Python's\n go %v\n py %v", n, c.Query, ids, c.Enc)
		}
		g, err := grammar.CompileAll(tools)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		var st grammar.State
		var out []byte
		for k, id := range c.Dec {
			for _, b := range vb[id] {
				if !g.Feed(&st, b) {
					t.Fatalf("case %d: grammar rejects byte %q of token %d (%q) after %q", n, b, k, vb[id], out)
				}
				if st.Virtual() {
					valueStrings++
				} else {
					out = append(out, b)
				}
			}
		}
		if !st.Done() {
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
	tok, err := needle.LoadTokenizer(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"lisbon", "kitchen", "priya", "Paris", "San Francisco"} {
		q := tok.Encode(needle.QueryText("what is the forecast for " + w))
		v := tok.Encode(" " + w)
		if len(q) < len(v) || !slices.Equal(q[len(q)-len(v):], v) {
			t.Errorf("%q: transcript ids end %v, value ids %v", w, q, v)
		}
	}
}
