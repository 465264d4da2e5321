package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// tinyModel is a model directory over the golden tiny model of internal/needle (random
// weights, 512-token vocabulary) with the shipped tokenizer cut to its first 512 pieces (the
// byte pieces and the first merges) and room for a prompt with tools: fast, and independent
// of the trained model in models/.
func tinyModel(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	golden := filepath.Join("..", "..", "internal", "needle", "testdata", "golden")
	w, err := os.ReadFile(filepath.Join(golden, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(golden, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Positions are rotary: the lengths size only the caches.
	cfg["max_enc_len"], cfg["max_dec_len"] = 1024, 96
	b, _ = json.Marshal(cfg)
	tok, err := os.ReadFile(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"model.safetensors": w, "config.json": b, "tokenizer.model": cutTokenizer(t, tok, 512)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cutTokenizer keeps the first n pieces (field 1) of a SentencePiece model and every other
// field.
func cutTokenizer(t testing.TB, b []byte, n int) []byte {
	var out []byte
	kept := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			t.Fatal(protowire.ParseError(l))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[l:])
		if m < 0 {
			t.Fatal(protowire.ParseError(m))
		}
		if num != 1 || kept < n {
			out = append(out, b[:l+m]...)
		}
		if num == 1 {
			kept++
		}
		b = b[l+m:]
	}
	return out
}

// cli runs the command line and returns its stdout, stderr and error.
func cli(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// Command lines the command refuses: each a usage error (exit status 2) with the message
// the router gives for the same option.
func TestBadCommandLines(t *testing.T) {
	model := tinyModel(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"serve"}, `unknown command "serve"`},
		{[]string{"eval"}, `eval needs "bfcl", "examples", "synth" or "threshold"`},
		{[]string{"eval", "examples", "--tools", "x.json"}, "eval examples needs --tools FILE and --examples FILE"},
		{[]string{"eval", "ast"}, `unknown eval "ast"`},
		{[]string{"run", "--tools", "testdata/tools.json"}, "run needs --query and --tools"},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--threshold", "2"}, "--threshold: 2 is not in (0, 1]"},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--threshold", "0"}, "--threshold: 0 is not in (0, 1]"},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--top-k", "0"}, "--top-k: 0 is not in [1, 64]"},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--lexical-weight", "-1"}, "--lexical-weight: -1 is not in [0, 10]"},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--weights", "int3"}, `--weights: "int3" is not one of`},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--model", filepath.Join(model, "missing")}, "is not a directory"},
		{[]string{"run", "--query", "x", "--tools", "testdata/tools.json", "--ground", "loud"}, "--ground"},
		{[]string{"run", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"eval", "bfcl", "--top-k", "65"}, "eval bfcl needs --data DIR"},
		{[]string{"eval", "bfcl", "--data", "testdata/bfcl", "--top-k", "65"}, "--top-k: 65 is not in [1, 64]"},
		{[]string{"eval", "bfcl", "--data", "testdata/bfcl", "--param-order", "random"}, `--param-order must be one of given, sorted, reversed, shuffled, got "random"`},
		{[]string{"eval", "synth", "--lexical-sweep", "a"}, `--lexical-sweep: "a" is not a weight >= 0`},
		{[]string{"eval", "synth", "--threshold", "0.5"}, "flag provided but not defined: -threshold"},
		{[]string{"eval", "threshold"}, "eval threshold needs validation per-item files"},
		{[]string{"bench", "-n", "0"}, "-n must be at least 1"},
		{[]string{"data", "--split", "dev"}, `--split must be train or heldout, not "dev"`},
		{[]string{"finetune", "--tools", "x.json"}, "finetune needs --tools"},
		{[]string{"finetune", "--tools", "x.json", "--examples", "x.jsonl", "--out", "o", "--minutes", "0"}, "--minutes must be in (0, 1440], got 0"},
		{[]string{"finetune", "--tools", "x.json", "--examples", "x.jsonl", "--out", "o", "--minutes", "-1"}, "--minutes must be in (0, 1440], got -1"},
		{[]string{"finetune", "--tools", "x.json", "--examples", "x.jsonl", "--out", "o", "--steps", "-3"}, "--steps must be >= 0"},
		{[]string{"finetune", "--tools", "x.json", "--examples", "x.jsonl", "--out", "o", "--holdout", "1"}, "--holdout must be in [0, 1)"},
		{[]string{"finetune", "--tools", "x.json", "--examples", "x.jsonl", "--out", "testdata"}, "--out testdata is not empty"},
	} {
		_, _, err := cli(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.args, err, tc.want)
			continue
		}
		if !errors.Is(err, errUsage) {
			t.Errorf("%q: %v is not a usage error", tc.args, err)
		}
		if code := exitCode(err, &bytes.Buffer{}); code != 2 {
			t.Errorf("%q: exit status %d, want 2", tc.args, code)
		}
	}
	// An example that names a tool the toolset does not offer is the file's fault, named by line.
	if _, _, err := cli(t, "eval", "examples", "--tools", "testdata/tools.json", "--examples", "testdata/examples_bad.jsonl"); err == nil ||
		!strings.Contains(err.Error(), "examples_bad.jsonl:1") || !strings.Contains(err.Error(), "play_music") {
		t.Errorf("bad example: %v", err)
	}
	// The router says the same of the same values.
	var errb bytes.Buffer
	_, err := needleErr(&errb, "run", "--query", "x", "--tools", "testdata/tools.json", "--threshold", "2", "--top-k", "0")
	if err == nil || err.Error() != "--threshold: 2 is not in (0, 1]\n--top-k: 0 is not in [1, 64]" {
		t.Errorf("two bad values: %v", err)
	}
	if code := exitCode(errors.New("needle: boom"), &errb); code != 1 || !strings.HasSuffix(errb.String(), "needle: boom\n") {
		t.Errorf("a failure: status %d, printed %q", code, errb.String())
	}
}

func needleErr(stderr *bytes.Buffer, args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), args, &out, stderr)
	return out.String(), err
}

// help prints the commands, and each subcommand's help shows the router's text for the
// options it shares with it.
func TestHelp(t *testing.T) {
	out, _, err := cli(t, "help")
	if err != nil || !strings.Contains(out, "usage: needle <command>") || !strings.Contains(out, "tokenize") {
		t.Fatalf("help: %v %q", err, out)
	}
	_, stderr, err := cli(t, "run", "-h")
	if !errors.Is(err, flag.ErrHelp) || exitCode(err, &bytes.Buffer{}) != 0 {
		t.Fatalf("run -h: %v", err)
	}
	for _, want := range []string{"local answers below this confidence escalate, in (0, 1]", "(default 0.998731)", "tools kept by retrieval, in [1, 64]", "-ground"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("run -h lacks %q:\n%s", want, stderr)
		}
	}
}
