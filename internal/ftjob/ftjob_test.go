package ftjob

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/registry"
)

// The test binary doubles as the needle command (the os/exec tests' pattern): with
// FAKE_NEEDLE set it parses needle finetune's flags, prints JSON progress, and writes a
// model directory, or fails the way FAKE_NEEDLE says. The real command runs in the router's
// flywheel test (cmd/router), with PyTorch.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_NEEDLE"); mode != "" {
		os.Exit(fakeNeedle(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeNeedle(mode string, args []string) int {
	if len(args) == 0 || args[0] != "finetune" {
		return 2
	}
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	out := fs.String("out", "", "")
	examples := fs.String("examples", "", "")
	tools := fs.String("tools", "", "")
	fs.Bool("progress-json", false, "")
	for _, f := range []string{"minutes", "steps", "seed", "threads"} {
		fs.String(f, "", "")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	switch mode {
	case "no-torch":
		fmt.Fprintln(os.Stderr, "needle: finetune: no trainer: /usr/bin/python3 cannot import torch")
		return 1
	case "crash":
		fmt.Fprintln(os.Stderr, "Traceback: secret /work/x.py")
		return 1
	case "hang":
		fmt.Fprintln(os.Stderr, `{"phase": "train", "step": 1, "elapsed_s": 1, "budget_s": 60}`)
		time.Sleep(time.Minute)
		return 1
	}
	if b, _ := os.ReadFile(*examples); len(b) == 0 {
		return 3
	}
	if b, _ := os.ReadFile(*tools); len(b) == 0 {
		return 3
	}
	os.MkdirAll(*out, 0o755)
	for step := 1; step <= 3; step++ {
		fmt.Fprintf(os.Stderr, "{\"phase\": \"train\", \"step\": %d, \"elapsed_s\": %d, \"budget_s\": 60}\n", step, step)
	}
	// The steps taken: more than the last step line says.
	fmt.Fprintln(os.Stderr, `{"phase": "trained", "step": 4, "steps": 4, "elapsed_s": 60, "budget_s": 60}`)
	fmt.Fprintln(os.Stderr, `{"phase": "eval"}`)
	for name, body := range map[string]string{"config.json": "{}", "model.safetensors": "w", "tokenizer.model": "t",
		"report.json": `{"base": {"exact": 0.5}, "fine_tuned": {"exact": 0.9}}`, "report.md": "| model | exact |\n"} {
		os.WriteFile(filepath.Join(*out, name), []byte(body), 0o644)
	}
	fmt.Fprintln(os.Stderr, `{"phase": "done"}`)
	return 0
}

const homeTools = `[{"name": "lock_door", "description": "Lock a door.", "parameters": {"type": "object", "properties": {"door": {"type": "string", "enum": ["front", "back"]}}, "required": ["door"]}}]`

func runner(t *testing.T, mode string, mod func(*Config)) (*Runner, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_NEEDLE", mode)
	models := t.TempDir()
	cfg := Config{Enabled: true, Command: exe, ModelsDir: models}
	if mod != nil {
		mod(&cfg)
	}
	r := New(cfg)
	t.Cleanup(r.Close)
	return r, models
}

func request(t *testing.T, model, examples string) Request {
	tools, err := registry.Parse([]byte(homeTools), registry.Limits{}, "tools")
	if err != nil {
		t.Fatal(err)
	}
	return Request{Toolset: "home", Raw: []byte(homeTools), Tools: tools, Examples: []byte(examples), Model: model}
}

const examples = `{"query": "lock the front door", "answers": [{"name": "lock_door", "arguments": {"door": "front"}}]}
{"query": "lock the back door", "answers": [{"name": "lock_door", "arguments": {"door": "back"}}]}
`

func wait(t *testing.T, r *Runner, id string) Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		j, err := r.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != Running {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the job did not end")
	return Job{}
}

func TestJobWritesTheModelAndSwitches(t *testing.T) {
	r, models := runner(t, "ok", nil)
	var done atomic.Value
	req := request(t, "home-ft", examples)
	req.Steps = 4
	j, err := r.Start(req, func(j Job) (bool, string) { done.Store(j); return true, "" })
	if err != nil {
		t.Fatal(err)
	}
	if j.State != Running || j.ID == "" {
		t.Fatalf("started %+v", j)
	}
	j = wait(t, r, j.ID)
	if j.State != Succeeded || j.Phase != "done" || j.Step != 4 || j.Steps != 4 || !j.Switched || !strings.Contains(j.ReportMarkdown, "| model |") || !strings.Contains(string(j.Report), "fine_tuned") {
		t.Fatalf("job %+v", j)
	}
	if got := done.Load().(Job); got.Model != "home-ft" {
		t.Errorf("done saw %+v", got)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.model", "report.json"} {
		if _, err := os.Stat(filepath.Join(models, "home-ft", f)); err != nil {
			t.Errorf("model dir: %v", err)
		}
	}
	if ents, _ := os.ReadDir(models); len(ents) != 1 {
		t.Errorf("left behind in the models dir: %v", ents)
	}
	if latest, err := r.Get("latest"); err != nil || latest.ID != j.ID {
		t.Errorf("latest %+v %v", latest, err)
	}
	// The name is taken now.
	_, err = r.Start(request(t, "home-ft", examples), nil)
	var ve *registry.ValidationError
	if !errors.As(err, &ve) || ve.Violations[0].Field != "model" {
		t.Errorf("reused name: %v", err)
	}
}

// Everything a caller sends is bounded and checked before anything runs.
func TestRequestsAreCheckedBeforeAnythingStarts(t *testing.T) {
	r, _ := runner(t, "ok", func(c *Config) { c.MaxExampleBytes = 4096; c.MaxExamples = 10; c.MaxMinutes = 10 })
	many := strings.Repeat(`{"query": "lock the front door", "answers": [{"name": "lock_door", "arguments": {"door": "front"}}]}`+"\n", 11)
	for _, tc := range []struct {
		req   Request
		field string
		desc  string
	}{
		{request(t, "../x", examples), "model", "must match"},
		{request(t, "default", examples), "model", "must match"},
		{request(t, "ok", strings.Repeat("x", 5000)), "examples_jsonl", "at most 4096"},
		{request(t, "ok", many[:len(many)-1]), "examples_jsonl", "at most 10"},
		{request(t, "ok", `{"query": "lock the side door", "answers": [{"name": "lock_door", "arguments": {"door": "side"}}]}`), "examples_jsonl", "examples:1: answers[0].arguments"},
		{request(t, "ok", `{"query": "open", "answers": [{"name": "open_door", "arguments": {}}]}`), "examples_jsonl", `"open_door" is not a tool`},
		{request(t, "ok", "\n\n"), "examples_jsonl", "no examples"},
		{func() Request { q := request(t, "ok", examples); q.Minutes = 11; return q }(), "minutes", "(0, 10]"},
		{func() Request { q := request(t, "ok", examples); q.Steps = MaxStepsPerJob + 1; return q }(), "steps", ""},
	} {
		_, err := r.Start(tc.req, nil)
		var ve *registry.ValidationError
		if !errors.As(err, &ve) || ve.Violations[0].Field != tc.field || !strings.Contains(ve.Violations[0].Description, tc.desc) {
			t.Errorf("%s %q: %v", tc.field, tc.desc, err)
		}
	}
	if _, err := r.Get("latest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused request started a job: %v", err)
	}
}

func TestDisabled(t *testing.T) {
	r, _ := runner(t, "ok", func(c *Config) { c.Enabled = false })
	if _, err := r.Start(request(t, "x", examples), nil); !errors.Is(err, ErrDisabled) {
		t.Errorf("got %v", err)
	}
}

// One job at a time; closing the runner stops the job and removes its partial model.
func TestOneAtATimeAndStop(t *testing.T) {
	r, models := runner(t, "hang", nil)
	j, err := r.Start(request(t, "a", examples), nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, _ := r.Get(j.ID)
		if cur.Step == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := r.Start(request(t, "b", examples), nil); !errors.Is(err, ErrBusy) {
		t.Errorf("second job: %v", err)
	}
	t0 := time.Now()
	r.Close()
	if d := time.Since(t0); d > 20*time.Second {
		t.Errorf("stopping took %v", d)
	}
	cur, _ := r.Get(j.ID)
	if cur.State != Failed || !strings.Contains(cur.Error, "shutting down") {
		t.Errorf("stopped job %+v", cur)
	}
	if ents, _ := os.ReadDir(models); len(ents) != 0 {
		t.Errorf("left in the models dir: %v", ents)
	}
}

// A trainer that is missing or fails is a fixed public reason; the detail stays in the log.
func TestFailuresArePublicReasons(t *testing.T) {
	for mode, want := range map[string]string{"no-torch": "cannot train", "crash": "the router's log"} {
		r, models := runner(t, mode, nil)
		j, err := r.Start(request(t, "m", examples), nil)
		if err != nil {
			t.Fatal(err)
		}
		j = wait(t, r, j.ID)
		if j.State != Failed || !strings.Contains(j.Error, want) || strings.Contains(j.Error, "secret") {
			t.Errorf("%s: %+v", mode, j)
		}
		if ents, _ := os.ReadDir(models); len(ents) != 0 {
			t.Errorf("%s: left in the models dir: %v", mode, ents)
		}
	}
}
