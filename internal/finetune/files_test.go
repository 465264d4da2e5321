package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/registry"
)

// Examples written by WriteExamples read back the same; captures of another toolset are
// skipped and counted per file; a glob that matches nothing is an error.
func TestExampleAndCaptureFiles(t *testing.T) {
	tools, ex := homeTools(t), homeExamples(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ex.jsonl")
	if err := WriteExamples(path, ex[:5]); err != nil {
		t.Fatal(err)
	}
	back, err := ReadExampleFile(path, tools)
	if err != nil || len(back) != 5 {
		t.Fatalf("%d examples back, %v", len(back), err)
	}
	for i := range back {
		if back[i].Query != ex[i].Query || !reflect.DeepEqual(back[i].Answers, ex[i].Answers) {
			t.Errorf("example %d: %+v, wrote %+v", i, back[i], ex[i])
		}
	}

	ours := `{"query": "lock the front door", "tools": [{"name": "lock_door"}], "answers": [{"name": "lock_door", "arguments": {"door": "front"}}]}`
	other := `{"query": "play jazz", "tools": [{"name": "play_music"}], "answers": [{"name": "play_music", "arguments": {}}]}`
	for name, text := range map[string]string{"escalations.jsonl": ours + "\n" + other + "\n", "escalations.1.jsonl": ours + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var note bytes.Buffer
	got, err := ReadCaptureFiles(filepath.Join(dir, "escalations*.jsonl"), tools, &note)
	if err != nil || len(got) != 2 {
		t.Fatalf("%d capture examples, %v", len(got), err)
	}
	if n := note.String(); strings.Count(n, "\n") != 2 || !strings.Contains(n, "escalations.jsonl: 1 rows of this toolset, 1 of other toolsets skipped\n") {
		t.Errorf("note %q", n)
	}
	if _, err := ReadCaptureFiles(filepath.Join(dir, "none*.jsonl"), tools, &note); err == nil || !strings.Contains(err.Error(), "matches no file") {
		t.Errorf("no match: %v", err)
	}
}

func TestCopyModel(t *testing.T) {
	src := fstest.MapFS{}
	for _, n := range ModelFiles {
		src[n] = &fstest.MapFile{Data: []byte("data of " + n)}
	}
	dst := t.TempDir()
	if err := CopyModel(src, dst); err != nil {
		t.Fatal(err)
	}
	for _, n := range ModelFiles {
		if b, err := os.ReadFile(filepath.Join(dst, n)); err != nil || string(b) != "data of "+n {
			t.Errorf("%s: %q %v", n, b, err)
		}
	}
	delete(src, "tokenizer.model")
	if err := CopyModel(src, t.TempDir()); err == nil {
		t.Error("a model without its tokenizer copied")
	}
}

// The held-out lines pair each example with both models' answers; the rows keep HTML
// characters as they are.
func TestWriteHeldOutAndRows(t *testing.T) {
	ex := homeExamples(t)[:2]
	base := []eval.Item{{Confidence: 0.5, Verdict: eval.Fail}, {Confidence: 0.25}}
	tuned := []eval.Item{{Confidence: 0.75, Calls: []eval.Call{{Name: "set_thermostat"}}}, {Confidence: 1}}
	path := filepath.Join(t.TempDir(), "heldout_items.jsonl")
	if err := WriteHeldOut(path, ex, base, tuned); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["query"] != ex[0].Query || first["base_confidence"] != 0.5 || first["fine_tuned_confidence"] != 0.75 || first["base_verdict"] != "fail" {
		t.Errorf("line %s", lines[0])
	}
	if err := WriteHeldOut(path, ex, base[:1], tuned); err == nil {
		t.Error("items of fewer examples than held out written")
	}

	rows := Rows(registry.Specs(homeTools(t)), ex, RowOptions{PerExample: 1}, 1)
	rows[0].Query = "a <b> & c"
	rp := filepath.Join(t.TempDir(), "rows.jsonl")
	if err := WriteRows(rp, rows); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(rp); !bytes.Contains(b, []byte("a <b> & c")) || bytes.Count(b, []byte("\n")) != len(rows) {
		t.Errorf("rows file:\n%s", b)
	}
}

// The report takes the trainer's step count and the model's size from the output
// directory, and is written as report.md, report.json and the table on w.
func TestReportFiles(t *testing.T) {
	out := t.TempDir()
	rep := &Report{Tools: 4, Steps: 90}
	rep.ReadTrained(out) // nothing there: unchanged
	if rep.Steps != 90 || rep.ModelBytes != 0 {
		t.Fatalf("%+v", rep)
	}
	os.WriteFile(filepath.Join(out, "train_meta.json"), []byte(`{"steps": 100}`), 0o644)
	os.WriteFile(filepath.Join(out, "model.safetensors"), make([]byte, 1234), 0o644)
	rep.ReadTrained(out)
	if rep.Steps != 100 || rep.ModelBytes != 1234 {
		t.Fatalf("%+v", rep)
	}
	var w bytes.Buffer
	if err := rep.Write(out, &w); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	var back Report
	js, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if len(md) == 0 || !bytes.Equal(md, w.Bytes()) || json.Unmarshal(js, &back) != nil || back.Steps != 100 || back.ModelBytes != 1234 {
		t.Errorf("report.md %q, stdout %q, report.json %s", md, w.String(), js)
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	JSONProgress(&b)(Progress{Step: 7, Elapsed: 3 * time.Second, Budget: time.Minute})
	JSONProgress(&b)(Progress{Step: 9, Steps: 9, Finished: true})
	want := "{\"phase\": \"train\", \"step\": 7, \"steps\": 0, \"elapsed_s\": 3, \"budget_s\": 60}\n{\"phase\": \"trained\", \"step\": 9, \"steps\": 9, \"elapsed_s\": 0, \"budget_s\": 0}\n"
	if b.String() != want {
		t.Errorf("json progress %q", b.String())
	}
	for _, c := range []struct {
		p   Progress
		bar string
	}{
		{Progress{Step: 5, Elapsed: 30 * time.Second, Budget: time.Minute}, strings.Repeat("=", 15) + strings.Repeat(" ", 15) + "] step 5, 30s left "},
		// A step budget ends the run long before the 10-minute bound: the bar follows steps.
		{Progress{Step: 20, Steps: 80, Elapsed: 10 * time.Second, Budget: 10 * time.Minute}, strings.Repeat("=", 7) + strings.Repeat(" ", 23) + "] step 20/80, 30s left "},
		{Progress{Step: 0, Steps: 80, Budget: time.Minute}, strings.Repeat(" ", 30) + "] step 0/80, time left unknown "},
		{Progress{Step: 80, Steps: 80, Elapsed: 40 * time.Second, Budget: 10 * time.Minute, Finished: true}, strings.Repeat("=", 30) + "] step 80/80, 0s left "},
	} {
		b.Reset()
		DrawProgress(&b)(c.p)
		if got := b.String(); got != "\r["+c.bar {
			t.Errorf("%+v: bar %q, want %q", c.p, got, "\r["+c.bar)
		}
	}
}

func TestProgressDone(t *testing.T) {
	for _, c := range []struct {
		p    Progress
		frac float64
		left time.Duration
	}{
		{Progress{Elapsed: 15 * time.Second, Budget: time.Minute}, 0.25, 45 * time.Second},
		{Progress{Elapsed: 2 * time.Minute, Budget: time.Minute}, 1, 0},
		{Progress{Step: 10, Steps: 40, Elapsed: 5 * time.Second, Budget: time.Hour}, 0.25, 15 * time.Second},
		{Progress{Step: 50, Steps: 40, Elapsed: 5 * time.Second}, 1, 0},
		{Progress{Steps: 40}, 0, -1},
		{Progress{}, 0, -1},
		{Progress{Step: 3, Steps: 40, Finished: true}, 1, 0},
	} {
		frac, left := c.p.Done()
		if frac != c.frac || left != c.left {
			t.Errorf("%+v: Done() = %v, %v; want %v, %v", c.p, frac, left, c.frac, c.left)
		}
	}
}

// Train reports each step line, then the steps the trainer recorded as taken: its step lines
// come every 20 steps, so the last one is short of the end.
func TestTrainProgress(t *testing.T) {
	out := t.TempDir()
	py := filepath.Join(t.TempDir(), "python")
	script := "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --out ] && out=$2; shift; done\n" +
		"echo 'step 20 t=1s tok=1.0'\necho 'step 40 t=2s tok=0.9'\necho '{\"steps\": 47}' > \"$out/train_meta.json\"\n"
	if err := os.WriteFile(py, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var got []Progress
	err := Train(context.Background(), TrainConfig{Python: py, Script: "train.py", Base: t.TempDir(), Rows: "rows.jsonl", Out: out, Minutes: 1, Steps: 50},
		func(p Progress) { got = append(got, p) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Progress{
		{Step: 20, Steps: 50, Elapsed: time.Second, Budget: time.Minute},
		{Step: 40, Steps: 50, Elapsed: 2 * time.Second, Budget: time.Minute},
		{Step: 47, Steps: 50, Elapsed: time.Minute, Budget: time.Minute, Finished: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("progress %+v\nwant %+v", got, want)
	}
}
