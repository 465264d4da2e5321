package needle

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

// fixtureTokenizer is a SentencePiece model nobody on this project wrote.
const fixtureTokenizer = "../../../shared/fixtures/sentencepiece/san_needle_lm_8k.model"

func checkAgainstPython(t *testing.T, model, cases string) {
	t.Helper()
	tok, err := LoadTokenizer(model)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(cases)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		var c struct {
			Text string  `json:"text"`
			IDs  []int32 `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		got := tok.Encode(c.Text)
		if !slices.Equal(got, c.IDs) {
			bad++
			if bad <= 5 {
				t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d cases in %s", n, cases)
	}
	if bad > 0 {
		t.Errorf("%d of %d lines differ from Python SentencePiece", bad, n)
	}
}

func TestTokenizerMatchesPythonOnFixture(t *testing.T) {
	if _, err := os.Stat(fixtureTokenizer); err != nil {
		t.Skip("shared fixture not present:", err)
	}
	checkAgainstPython(t, fixtureTokenizer, "testdata/tokenize/san_needle_lm_8k.jsonl.gz")
}

func TestTokenizerMatchesPythonOnShipped(t *testing.T) {
	checkAgainstPython(t, filepath.Join("..", "..", "models", "tokenizer.model"), "testdata/tokenize/needle.jsonl.gz")
}

func FuzzTokenizerRoundTrip(f *testing.F) {
	tok, err := LoadTokenizer(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "hello world", "set a timer for 5 minutes", "東京 😀", `{"a":[1,2]}`, "a  b\t\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // SentencePiece maps invalid bytes to U+FFFD; no round trip is promised
		}
		if got := tok.Decode(tok.Encode(s)); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
	})
}
