package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/needle"
)

// Each subcommand over the golden tiny model (tinyModel), asserting on what it prints and
// writes.
func TestCommands(t *testing.T) {
	model := tinyModel(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	timer := []string{"--model", model, "--query", "set a timer for 5 minutes", "--tools", "testdata/tools.json"}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, stdout, stderr string)
	}{
		{"run json", append([]string{"run", "--json"}, timer...), func(t *testing.T, stdout, _ string) {
			r := decodeRun(t, stdout)
			// The tiny model's confidence is far below the router's threshold.
			if r.Model != "needle-test" || r.Threshold != 0.998731 || r.Confidence >= r.Threshold || r.Decision != "would-escalate" || r.Reason != "low_confidence" {
				t.Errorf("%+v: want the router's threshold and a low-confidence escalation", r)
			}
			if len(r.Calls) > 1 || len(r.Retrieved) != 2 || r.PromptTokens == 0 || r.OutputTokens == 0 || r.TimingsMs["total"] <= 0 {
				t.Errorf("%+v: want at most one call, both tools scored, tokens and times", r)
			}
		}},
		{"run json, threshold below the confidence", append([]string{"run", "--json", "--threshold", "1e-9"}, timer...), func(t *testing.T, stdout, _ string) {
			r := decodeRun(t, stdout)
			if r.Threshold != 1e-9 || r.Decision != "local" || r.Reason != "" || r.Confidence < r.Threshold {
				t.Errorf("%+v: want a local answer at threshold 1e-9", r)
			}
		}},
		{"run text", append([]string{"run"}, timer...), func(t *testing.T, stdout, _ string) {
			lines := strings.Split(stdout, "\n")
			if len(lines) < 4 || !strings.HasPrefix(lines[0], "model needle-test, confidence 0.") ||
				!strings.HasSuffix(lines[0], ", threshold 0.998731: would-escalate (low_confidence)") {
				t.Fatalf("first line %q", lines[0])
			}
			if !strings.Contains(stdout, "\nretrieved: set_timer(") || !strings.Contains(stdout, "\ntokens: ") {
				t.Errorf("no retrieval or token line:\n%s", stdout)
			}
		}},
		{"tokenize", []string{"tokenize", "set a timer"}, func(t *testing.T, stdout, _ string) {
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			var ids []int
			if len(lines) != 2 || json.Unmarshal([]byte(strings.ReplaceAll(lines[0], " ", ",")), &ids) != nil || len(ids) == 0 {
				t.Fatalf("ids line: %q", stdout)
			}
			var pieces []string
			for _, f := range strings.Fields(lines[1]) {
				var p string
				if err := json.Unmarshal([]byte(f), &p); err != nil {
					t.Fatalf("piece %s: %v", f, err)
				}
				pieces = append(pieces, p)
			}
			if len(pieces) != len(ids) || strings.Join(pieces, "") != "set▁a▁timer" {
				t.Errorf("pieces %q of ids %v, want them to spell the text", pieces, ids)
			}
		}},
		{"eval synth", []string{"eval", "synth", "--model", model, "-n", "3", "--catalogue", "0", "--per-item", path("synth.jsonl"), "--json", path("synth.json")}, func(t *testing.T, stdout, stderr string) {
			if !strings.HasPrefix(stdout, "held-out rows 3\n  exact match ") || !strings.Contains(stdout, "request errors") {
				t.Errorf("table:\n%s", stdout)
			}
			if !strings.Contains(stderr, "3/3 held-out") {
				t.Errorf("progress: %q", stderr)
			}
			rows := jsonLines(t, path("synth.jsonl"))
			if len(rows) != 3 || rows[0]["query"] == "" || rows[0]["expected"] == nil {
				t.Errorf("per-item rows %v", rows)
			}
			var rep struct {
				Model string
				Synth struct{ N int }
			}
			readJSON(t, path("synth.json"), &rep)
			if rep.Model != "needle-test" || rep.Synth.N != 3 {
				t.Errorf("report %+v", rep)
			}
		}},
		{"eval bfcl", []string{"eval", "bfcl", "--model", model, "--data", "testdata/bfcl", "--per-item", path("bfcl.jsonl"), "--json", path("bfcl.json")}, func(t *testing.T, stdout, _ string) {
			if !strings.HasPrefix(stdout, "model needle-test\ncategory ") || !strings.Contains(stdout, "coverage precision") {
				t.Errorf("table:\n%s", stdout)
			}
			rep := readBFCL(t, path("bfcl.json"))
			if rep.Categories["simple_python"].Total != 3 || rep.Categories["irrelevance"].Total != 1 {
				t.Errorf("report %+v", rep)
			}
			items := jsonLines(t, path("bfcl.jsonl"))
			if len(items) != 4 || items[0]["id"] != "irrelevance_0" || items[1]["id"] != "simple_python_0" {
				t.Errorf("per-item %v", items)
			}
		}},
		// A toolset's example requests, as needle finetune reads them, scored in place.
		{"eval examples", []string{"eval", "examples", "--model", model, "--tools", "testdata/tools.json", "--examples", "testdata/examples.jsonl", "--per-item", path("examples.jsonl"), "--json", path("examples.json")}, func(t *testing.T, stdout, _ string) {
			if !strings.HasPrefix(stdout, "model needle-test\ncategory ") || !strings.Contains(stdout, "finetune_simple ") {
				t.Errorf("table:\n%s", stdout)
			}
			rep := readBFCL(t, path("examples.json"))
			if rep.Categories["finetune_simple"].Total != 2 || rep.Categories["finetune_irrelevance"].Total != 1 {
				t.Errorf("report %+v", rep)
			}
			if items := jsonLines(t, path("examples.jsonl")); len(items) != 3 {
				t.Errorf("per-item %v", items)
			}
		}},
		{"eval bfcl --limit", []string{"eval", "bfcl", "--model", model, "--data", "testdata/bfcl", "--categories", "simple_python", "--limit", "2", "--json", path("limit.json")}, func(t *testing.T, stdout, _ string) {
			rep := readBFCL(t, path("limit.json"))
			if len(rep.Categories) != 1 || rep.Categories["simple_python"].Total != 2 {
				t.Errorf("report %+v", rep)
			}
		}},
		// The same items with every function's parameters in reverse order.
		{"eval bfcl --param-order", []string{"eval", "bfcl", "--model", model, "--data", "testdata/bfcl", "--categories", "simple_python", "--limit", "2", "--param-order", "reversed", "--json", path("reversed.json")}, func(t *testing.T, stdout, _ string) {
			if rep := readBFCL(t, path("reversed.json")); rep.Categories["simple_python"].Total != 2 {
				t.Errorf("report %+v", rep)
			}
		}},
		// Another system's answers: the first right, the second the wrong city, the third
		// missing (an error), the no-call item declined.
		{"eval bfcl --predictions", []string{"eval", "bfcl", "--data", "testdata/bfcl", "--predictions", "testdata/predictions.jsonl", "--per-item", path("pred.jsonl"), "--json", path("pred.json")}, func(t *testing.T, stdout, _ string) {
			rep := readBFCL(t, path("pred.json"))
			sp, irr := rep.Categories["simple_python"], rep.Categories["irrelevance"]
			if rep.Model != "predictions:testdata/predictions.jsonl" || sp.Total != 3 || sp.Correct != 1 || sp.Errors != 1 || irr.Correct != 1 {
				t.Errorf("report %+v", rep)
			}
			verdicts := map[any]any{}
			for _, it := range jsonLines(t, path("pred.jsonl")) {
				verdicts[it["id"]] = it["verdict"]
			}
			if verdicts["simple_python_0"] != "pass" || verdicts["simple_python_1"] != "fail" || verdicts["simple_python_2"] != "error" || verdicts["irrelevance_0"] != "pass" {
				t.Errorf("verdicts %v", verdicts)
			}
		}},
		// eval threshold reads the validation files together, chooses the lowest threshold
		// at the precision, and reports what it gives on a further file. Sorted: .99999 ok,
		// .9 ok, .8 ok, .5 wrong, .2 ok: 98% holds down to 0.8 (3 of 5 rows).
		{"eval threshold", []string{"eval", "threshold", "testdata/val_a.jsonl,testdata/val_b.jsonl", "testdata/val_b.jsonl"}, func(t *testing.T, stdout, _ string) {
			want := "validation (5 rows): threshold 0.8 covers 60.0%\ntestdata/val_b.jsonl: at 0.8: coverage 50.0%, precision 100.0% (1 of 2)\n"
			if stdout != want {
				t.Errorf("got\n%swant\n%s", stdout, want)
			}
		}},
		{"eval threshold --precision", []string{"eval", "threshold", "--precision", "0.75", "testdata/val_a.jsonl,testdata/val_b.jsonl"}, func(t *testing.T, stdout, _ string) {
			if stdout != "validation (5 rows): threshold 0.2 covers 100.0%\n" {
				t.Errorf("got %q", stdout)
			}
		}},
		{"data", []string{"data", "-n", "5", "-seed", "3"}, func(t *testing.T, stdout, stderr string) {
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != 5 {
				t.Fatalf("%d rows, want 5", len(lines))
			}
			for _, l := range lines {
				var row struct {
					Query string
					Tools json.RawMessage
				}
				if err := json.Unmarshal([]byte(l), &row); err != nil || row.Query == "" || len(row.Tools) == 0 {
					t.Errorf("row %s: %v", l, err)
				}
			}
			if !strings.HasPrefix(stderr, "5 rows in ") {
				t.Errorf("stderr %q", stderr)
			}
		}},
		{"data -o", []string{"data", "-n", "2", "-split", "heldout", "-o", path("rows.jsonl")}, func(t *testing.T, stdout, _ string) {
			if stdout != "" || len(jsonLines(t, path("rows.jsonl"))) != 2 {
				t.Errorf("stdout %q; want 2 rows in the file", stdout)
			}
		}},
		{"bench", []string{"bench", "--model", model, "-n", "2", "--json"}, func(t *testing.T, stdout, _ string) {
			var r struct {
				Model            string             `json:"model"`
				Runs             int                `json:"runs"`
				Prefill          map[string]float64 `json:"prefill_ms"`
				Decode           float64            `json:"decode_ms_per_token"`
				P50              float64            `json:"route_p50_ms"`
				WeightsBytes     int64              `json:"weights_bytes"`
				WeightsFormat    string             `json:"weights"`
				KernelsAvailable any                `json:"kernels"`
			}
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatal(err)
			}
			if r.Model != "needle-test" || r.Runs != 2 || len(r.Prefill) != 3 || r.Prefill["300"] <= 0 || r.Decode <= 0 || r.P50 <= 0 || r.WeightsBytes == 0 || r.WeightsFormat == "" {
				t.Errorf("%+v", r)
			}
		}},
		{"corpus", []string{"corpus", "-datasets", filepath.Join("..", "..", "internal", "corpus", "testdata"), "-out", path("real")}, func(t *testing.T, _, _ string) {
			for _, f := range []string{"bfcl-dev/BFCL_v4_hwu64_dev.json", "bfcl-test/possible_answer/BFCL_v4_clinc150_test.json"} {
				if st, err := os.Stat(filepath.Join(path("real"), f)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := cli(t, tc.args...)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			tc.check(t, stdout, stderr)
		})
	}
}

func decodeRun(t *testing.T, s string) runResult {
	t.Helper()
	var r runResult
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return r
}

type bfclReport struct {
	Model      string
	Categories map[string]struct{ Total, Correct, Errors int }
}

func readBFCL(t *testing.T, path string) bfclReport {
	t.Helper()
	var r bfclReport
	readJSON(t, path, &r)
	return r
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

// A fine-tuned model's own threshold judges its answers in run and eval bfcl, as the router
// would for its toolset; --threshold overrides it.
func TestModelThresholdInCommands(t *testing.T) {
	model := tinyModel(t)
	if err := needle.SetMetadata(filepath.Join(model, "model.safetensors"), map[string]string{needle.MetaThreshold: "0.25"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	query := []string{"--model", model, "--query", "set a timer for 5 minutes", "--tools", "testdata/tools.json", "--json"}
	for _, tc := range []struct {
		args []string
		want float64
	}{
		{query, 0.25},
		{append(slices.Clone(query), "--threshold", "0.9"), 0.9},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), append([]string{"run"}, tc.args...), &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		if r := decodeRun(t, out.String()); r.Threshold != tc.want {
			t.Errorf("run %v: threshold %v, want %v", tc.args, r.Threshold, tc.want)
		}
	}
	for _, tc := range []struct {
		extra []string
		want  float64
	}{{nil, 0.25}, {[]string{"--threshold", "0.9"}, 0.9}} {
		js := filepath.Join(dir, "t.json")
		var out, errb bytes.Buffer
		args := append([]string{"eval", "bfcl", "--model", model, "--data", "testdata/bfcl", "--categories", "simple_python", "--limit", "1", "--json", js}, tc.extra...)
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		var rep struct {
			Categories map[string]struct{ Threshold float64 }
		}
		readJSON(t, js, &rep)
		if got := rep.Categories["simple_python"].Threshold; got != tc.want {
			t.Errorf("eval bfcl %v: threshold %v, want %v", tc.extra, got, tc.want)
		}
	}
}
