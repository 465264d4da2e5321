package finetune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/synth"
)

// The files of `needle finetune`: what it reads (examples, the router's captures, the base
// model) and what it writes into its output model directory beside the trainer's files
// (the training rows, the held-out items, the report).

// ReadExampleFile is ReadExamples over the file at path.
func ReadExampleFile(path string, tools []registry.Tool) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadExamples(f, path, tools)
}

// ReadCaptureFiles is ReadCaptures over every file pattern matches (a glob: a pattern that
// matches none is an error); a line per file on note says how many rows it gave and how
// many of other toolsets it skipped.
func ReadCaptureFiles(pattern string, tools []registry.Tool, note io.Writer) ([]Example, error) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("finetune: --captures %q matches no file", pattern)
	}
	var ex []Example
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		more, skipped, err := ReadCaptures(f, path, tools)
		f.Close()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(note, "%s: %d rows of this toolset", path, len(more))
		if skipped > 0 {
			fmt.Fprintf(note, ", %d of other toolsets skipped", skipped)
		}
		fmt.Fprintln(note)
		ex = append(ex, more...)
	}
	return ex, nil
}

// WriteExamples writes ex as an examples file (MarshalExample, a line each): what
// ReadExampleFile reads back.
func WriteExamples(path string, ex []Example) error {
	var b bytes.Buffer
	for _, e := range ex {
		b.Write(MarshalExample(e))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// ModelFiles are the files of a model directory the trainer starts from.
var ModelFiles = []string{"config.json", "model.safetensors", "tokenizer.model"}

// CopyModel writes src's ModelFiles into the directory dst (the shipped model, embedded,
// made a directory the trainer can read).
func CopyModel(src fs.FS, dst string) error {
	for _, name := range ModelFiles {
		b, err := fs.ReadFile(src, name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteRows writes the training rows as JSONL (HTML characters unescaped, as the trainer
// and the generator write them).
func WriteRows(path string, rows []synth.Row) error {
	return writeJSONL(path, len(rows), func(i int) any { return &rows[i] })
}

// WriteHeldOut writes one line per held-out example: the query, the wanted calls and both
// models' calls, confidences and verdicts (scripts/snips_table.py reads it for per-slot
// metrics). base and tuned are the items of held, in its order.
func WriteHeldOut(path string, held []Example, base, tuned []eval.Item) error {
	if len(base) != len(held) || len(tuned) != len(held) {
		return fmt.Errorf("finetune: %d held-out examples, %d base and %d fine-tuned items", len(held), len(base), len(tuned))
	}
	return writeJSONL(path, len(held), func(i int) any {
		return map[string]any{"query": held[i].Query, "want": held[i].Answers,
			"base": base[i].Calls, "base_confidence": base[i].Confidence, "base_verdict": base[i].Verdict,
			"fine_tuned": tuned[i].Calls, "fine_tuned_confidence": tuned[i].Confidence, "fine_tuned_verdict": tuned[i].Verdict}
	})
}

func writeJSONL(path string, n int, line func(int) any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range n {
		if err := enc.Encode(line(i)); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// ReadTrained fills in what the trainer left in the output directory out: the optimizer
// steps it counted (train_meta.json; its progress lines come only every few steps, so
// Steps is kept when the file says none) and the model's size.
func (r *Report) ReadTrained(out string) {
	if n := trainedSteps(out); n > 0 {
		r.Steps = n
	}
	if st, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		r.ModelBytes = st.Size()
	}
}

// trainedSteps is the optimizer steps the trainer recorded in out/train_meta.json; 0 when
// it recorded none.
func trainedSteps(out string) int {
	var meta struct{ Steps int }
	if b, err := os.ReadFile(filepath.Join(out, "train_meta.json")); err == nil && json.Unmarshal(b, &meta) == nil {
		return meta.Steps
	}
	return 0
}

// Write writes the report into the output directory out, as report.md and report.json,
// then report.md's table to w.
func (r *Report) Write(out string, w io.Writer) error {
	var md bytes.Buffer
	r.WriteTable(&md)
	if err := os.WriteFile(filepath.Join(out, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	if err := eval.WriteJSON(filepath.Join(out, "report.json"), r); err != nil {
		return err
	}
	_, err := w.Write(md.Bytes())
	return err
}

// JSONProgress is --progress-json's line per training step, which the router's fine-tune
// jobs (internal/ftjob) read: {"phase": "train"|"trained", "step", "elapsed_s", "budget_s"}.
func JSONProgress(w io.Writer) func(Progress) {
	return func(p Progress) {
		phase := "train"
		if p.Finished {
			phase = "trained"
		}
		fmt.Fprintf(w, "{\"phase\": %q, \"step\": %d, \"steps\": %d, \"elapsed_s\": %.0f, \"budget_s\": %.0f}\n", phase, p.Step, p.Steps, p.Elapsed.Seconds(), p.Budget.Seconds())
	}
}

// DrawProgress is the training's progress bar, redrawn in place: by steps when a step
// budget ends the run, else by time.
func DrawProgress(w io.Writer) func(Progress) {
	return func(p Progress) {
		frac, left := p.Done()
		n := int(frac * 30)
		step := strconv.Itoa(p.Step)
		if p.Steps > 0 {
			step += "/" + strconv.Itoa(p.Steps)
		}
		eta := "time left unknown"
		if left >= 0 {
			eta = left.Round(time.Second).String() + " left"
		}
		fmt.Fprintf(w, "\r[%s%s] step %s, %s ", strings.Repeat("=", n), strings.Repeat(" ", 30-n), step, eta)
	}
}
