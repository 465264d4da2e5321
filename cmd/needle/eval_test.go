package main

import (
	"strings"
	"testing"
)

// eval threshold reads the validation files together, chooses the lowest threshold at the
// precision, and reports what it gives on a further file.
func TestEvalThreshold(t *testing.T) {
	var b strings.Builder
	if err := evalThreshold([]string{"testdata/val_a.jsonl,testdata/val_b.jsonl", "testdata/val_b.jsonl"}, &b); err != nil {
		t.Fatal(err)
	}
	// Sorted: .99999 ok, .9 ok, .8 ok, .5 wrong, .2 ok: 98% holds down to 0.8 (3 of 5 rows).
	want := "validation (5 rows): threshold 0.8 covers 60.0%\ntestdata/val_b.jsonl: at 0.8: coverage 50.0%, precision 100.0% (1 of 2)\n"
	if b.String() != want {
		t.Errorf("got\n%swant\n%s", b.String(), want)
	}
	b.Reset()
	if err := evalThreshold([]string{"--precision", "0.75", "testdata/val_a.jsonl,testdata/val_b.jsonl"}, &b); err != nil || !strings.Contains(b.String(), "threshold 0.2 covers 100.0%") {
		t.Errorf("precision 0.75: %v %s", err, b.String())
	}
	if err := evalThreshold(nil, &b); err == nil {
		t.Error("no files accepted")
	}
	if err := evalThreshold([]string{"testdata/missing.jsonl"}, &b); err == nil {
		t.Error("a missing file accepted")
	}
}
