// Package ftjob runs `needle finetune` for the router (the playground's Fine-tune button):
// off unless the operator enables it (--finetune), one job at a time, every input bounded
// and checked before anything starts, the new model written beside the others under the
// models directory and renamed into place only when it is complete, so a half-written model
// is never servable. The router itself stays free of Python: the job is a subprocess of the
// project's own `needle` binary, which needs Python with torch and train/train.py where it
// runs (a checkout after `make deps`; the container image has neither).
package ftjob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/needle-router/needle/internal/finetune"
	"github.com/needle-router/needle/internal/modelname"
	"github.com/needle-router/needle/internal/registry"
)

// Config configures a Runner. Zero fields take the defaults named here.
type Config struct {
	// Enabled lets callers start fine-tunes; off, Start answers ErrDisabled.
	Enabled bool
	// Command is the needle binary (default: "needle" beside the running executable).
	Command string
	// Dir is the jobs' working directory, where needle finds train/train.py (default: the
	// process's).
	Dir string
	// ModelsDir receives the new models (the router's --models-dir); required when Enabled.
	ModelsDir string
	// MaxMinutes bounds a job's training budget (default 10); DefaultMinutes is used when a
	// request names none (default 5, at most MaxMinutes).
	MaxMinutes, DefaultMinutes float64
	// MaxExampleBytes and MaxExamples bound the examples of one job (default 1 MiB, 5000).
	MaxExampleBytes, MaxExamples int
	// Threads for the trainer (default 1: the router keeps serving on the other cores).
	Threads int
	// Keep is how many finished jobs are remembered for Get (default 8).
	Keep int
	Log  *slog.Logger
	Now  func() time.Time
}

// Errors of Start and Get; a bad request is a *registry.ValidationError.
var (
	ErrDisabled = errors.New("ftjob: fine-tuning is not enabled on this router")
	ErrBusy     = errors.New("ftjob: a fine-tune is already running")
	ErrNotFound = errors.New("ftjob: no such fine-tune")
)

// Request is one fine-tune to start.
type Request struct {
	Toolset string
	// Raw and Tools are the toolset's definitions (registry.Toolset) at start.
	Raw   []byte
	Tools []registry.Tool
	// Examples is JSONL, as `needle finetune --examples` reads it.
	Examples []byte
	// Model is the new model's name under ModelsDir; it must not exist.
	Model string
	// Minutes is the training budget (0: DefaultMinutes); Steps, when set, fixes the
	// optimizer steps instead (a run that repeats exactly).
	Minutes float64
	Steps   int
	Seed    uint64
}

// State of a job.
type State int

// States.
const (
	Running State = iota + 1
	Succeeded
	Failed
)

func (s State) String() string {
	return map[State]string{Running: "running", Succeeded: "succeeded", Failed: "failed"}[s]
}

// Job is a snapshot of one fine-tune.
type Job struct {
	ID, Toolset, Model string
	State              State
	// Phase: "starting", "train", "eval" (base vs fine-tuned on the held-out examples), "done".
	Phase           string
	Step            int
	Steps           int // the step budget when steps end the run (Request.Steps), else 0
	Elapsed, Budget time.Duration
	// Report is report.json and ReportMarkdown report.md of the new model (set when it
	// succeeded).
	Report         json.RawMessage
	ReportMarkdown string
	// Error is the public reason a job failed (fixed texts; the detail is in the log).
	Error string
	// Switched says whether the toolset now runs on the new model, Note why not.
	Switched       bool
	Note           string
	Started, Ended time.Time
}

// Runner runs fine-tunes, one at a time. It is safe for concurrent use.
type Runner struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	seq     int
	jobs    []*Job // oldest first, at most Keep finished ones plus the running one
	running bool
}

// New returns a Runner; Close stops its job.
func New(cfg Config) *Runner {
	if cfg.MaxMinutes <= 0 {
		cfg.MaxMinutes = 10
	}
	if cfg.DefaultMinutes <= 0 {
		cfg.DefaultMinutes = 5
	}
	cfg.DefaultMinutes = min(cfg.DefaultMinutes, cfg.MaxMinutes)
	if cfg.MaxExampleBytes <= 0 {
		cfg.MaxExampleBytes = 1 << 20
	}
	if cfg.MaxExamples <= 0 {
		cfg.MaxExamples = 5000
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 8
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Command == "" {
		if exe, err := os.Executable(); err == nil {
			cfg.Command = filepath.Join(filepath.Dir(exe), "needle")
		}
	}
	r := &Runner{cfg: cfg}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Enabled reports whether Start may run jobs here.
func (r *Runner) Enabled() bool { return r.cfg.Enabled && r.cfg.ModelsDir != "" }

// Close stops the running job (its partial model is removed) and waits for it.
func (r *Runner) Close() {
	r.cancel()
	r.wg.Wait()
}

// MaxStepsPerJob bounds Request.Steps.
const MaxStepsPerJob = 100000

// Check validates req without starting anything: the model name (free under the models
// directory), the budget and the examples (bounded, then checked against the toolset's
// schemas). Violations name the request fields: model, minutes, steps, examples_jsonl.
func (r *Runner) Check(req Request) ([]finetune.Example, error) {
	var ve registry.ValidationError
	switch {
	case !modelname.Valid(req.Model) || modelname.IsDefault(req.Model):
		ve.Add("model", "model name %q must match ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ and not be %q", req.Model, modelname.Default)
	default:
		if _, err := os.Lstat(filepath.Join(r.cfg.ModelsDir, req.Model)); err == nil {
			ve.Add("model", "a model %q exists already: choose a new name", req.Model)
		}
	}
	if req.Minutes < 0 || req.Minutes > r.cfg.MaxMinutes || req.Minutes != req.Minutes {
		ve.Add("minutes", "must be in (0, %g] (0: %g)", r.cfg.MaxMinutes, r.cfg.DefaultMinutes)
	}
	if req.Steps < 0 || req.Steps > MaxStepsPerJob {
		ve.Add("steps", "must be in [0, %d]", MaxStepsPerJob)
	}
	var ex []finetune.Example
	switch n := bytes.Count(bytes.TrimRight(req.Examples, "\n"), []byte("\n")) + 1; {
	case len(req.Examples) > r.cfg.MaxExampleBytes:
		ve.Add("examples_jsonl", "is %d bytes, at most %d allowed", len(req.Examples), r.cfg.MaxExampleBytes)
	case n > r.cfg.MaxExamples:
		ve.Add("examples_jsonl", "has %d lines, at most %d allowed", n, r.cfg.MaxExamples)
	default:
		var err error
		ex, err = finetune.ReadExamples(bytes.NewReader(req.Examples), "examples", req.Tools)
		if err != nil {
			ve.Add("examples_jsonl", "%s", strings.TrimPrefix(err.Error(), "finetune: "))
		} else if len(ex) == 0 {
			ve.Add("examples_jsonl", "no examples: one JSON object per line, {\"query\": ..., \"answers\": [...]}")
		}
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return ex, nil
}

// Start checks req and starts the job in the background; done is called when it succeeded,
// after the model is in place, and says whether the toolset was switched to it (and if
// not, why). Errors: ErrDisabled, a *registry.ValidationError, ErrBusy.
func (r *Runner) Start(req Request, done func(Job) (switched bool, note string)) (Job, error) {
	if !r.Enabled() {
		return Job{}, ErrDisabled
	}
	if _, err := r.Check(req); err != nil {
		return Job{}, err
	}
	if req.Minutes == 0 {
		req.Minutes = r.cfg.DefaultMinutes
	}
	r.mu.Lock()
	if r.running || r.ctx.Err() != nil {
		r.mu.Unlock()
		return Job{}, ErrBusy
	}
	r.running = true
	r.seq++
	j := &Job{ID: fmt.Sprintf("ft-%d", r.seq), Toolset: req.Toolset, Model: req.Model, State: Running, Phase: "starting",
		Steps: req.Steps, Budget: time.Duration(req.Minutes * float64(time.Minute)), Started: r.cfg.Now()}
	r.jobs = append(r.jobs, j)
	snap := *j
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.run(j, req)
		var switched bool
		var note string
		if err == nil && done != nil {
			// Before the job reads as succeeded, so whoever sees that sees the switch too.
			r.mu.Lock()
			snap := *j
			r.mu.Unlock()
			snap.State, snap.Phase = Succeeded, "done"
			switched, note = done(snap)
		}
		r.mu.Lock()
		j.Ended = r.cfg.Now()
		if err != nil {
			j.State, j.Error = Failed, publicError(err, r.ctx.Err() != nil)
			r.cfg.Log.Error("fine-tune failed", "job", j.ID, "toolset", j.Toolset, "model", j.Model, "err", err.Error())
		} else {
			j.State, j.Phase, j.Switched, j.Note = Succeeded, "done", switched, note
		}
		r.running = false
		r.trim()
		r.mu.Unlock()
	}()
	return snap, nil
}

// trim forgets the oldest finished jobs past Keep. Called with mu held.
func (r *Runner) trim() {
	for len(r.jobs) > r.cfg.Keep {
		r.jobs = r.jobs[1:]
	}
}

// Get returns the job with this id, or the latest one for "latest" (ErrNotFound when none).
func (r *Runner) Get(id string) (Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.jobs) - 1; i >= 0; i-- {
		if j := r.jobs[i]; id == "latest" || j.ID == id {
			return *j, nil
		}
	}
	return Job{}, ErrNotFound
}

// errNoTrainer: needle finetune found no Python with torch or no train/train.py.
var errNoTrainer = errors.New("ftjob: no trainer where the router runs")

func publicError(err error, stopping bool) string {
	switch {
	case stopping:
		return "stopped: the router is shutting down"
	case errors.Is(err, errNoTrainer):
		return "this router cannot train: it has no Python with torch, or no train/train.py, where it runs; run needle finetune where they are (the command below)"
	}
	return "the fine-tune failed: the router's log has the trainer's last lines"
}

// run runs needle finetune into a hidden directory beside the models and renames it into
// place when complete.
func (r *Runner) run(j *Job, req Request) error {
	work, err := os.MkdirTemp("", "needle-ft-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tools, examples := filepath.Join(work, "tools.json"), filepath.Join(work, "examples.jsonl")
	if err := os.WriteFile(tools, req.Raw, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(examples, req.Examples, 0o600); err != nil {
		return err
	}
	// A name no request can give (it starts with '.'), on the same file system as the
	// models, so the rename below is atomic.
	partial := filepath.Join(r.cfg.ModelsDir, "."+req.Model+".partial-"+j.ID)
	defer os.RemoveAll(partial)
	args := []string{"finetune", "--tools", tools, "--examples", examples, "--out", partial, "--progress-json",
		"--minutes", strconv.FormatFloat(req.Minutes, 'f', -1, 64), "--steps", strconv.Itoa(req.Steps),
		"--seed", strconv.FormatUint(max(req.Seed, 1), 10), "--threads", strconv.Itoa(r.cfg.Threads)}
	cmd := exec.CommandContext(r.ctx, r.cfg.Command, args...)
	cmd.Dir = r.cfg.Dir
	// needle stops its trainer on SIGTERM; SIGKILL would leave the trainer running.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: %v", errNoTrainer, err)
	}
	var tail []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		var p struct {
			Phase   string  `json:"phase"`
			Step    int     `json:"step"`
			Elapsed float64 `json:"elapsed_s"`
		}
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &p) == nil && p.Phase != "" {
			r.mu.Lock()
			j.Phase = p.Phase
			switch p.Phase {
			case "train":
				j.Step, j.Elapsed = p.Step, time.Duration(p.Elapsed*float64(time.Second))
			case "trained": // the steps the trainer took (its step lines come every few)
				if p.Step > 0 {
					j.Step = p.Step
				}
			}
			r.mu.Unlock()
			continue
		}
		if tail = append(tail, line); len(tail) > 20 {
			tail = tail[1:]
		}
	}
	err = cmd.Wait()
	if err != nil {
		detail := strings.Join(tail, "\n")
		if strings.Contains(detail, "no trainer") {
			return fmt.Errorf("%w: %s", errNoTrainer, detail)
		}
		return fmt.Errorf("needle finetune: %v:\n%s", err, detail)
	}
	final := filepath.Join(r.cfg.ModelsDir, req.Model)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("model %q was created by someone else while this job ran", req.Model)
	}
	if err := os.Rename(partial, final); err != nil {
		return err
	}
	rep, err := os.ReadFile(filepath.Join(final, "report.json"))
	if err != nil {
		return err
	}
	md, err := os.ReadFile(filepath.Join(final, "report.md"))
	if err != nil {
		return err
	}
	r.mu.Lock()
	j.Report, j.ReportMarkdown = rep, string(md)
	r.mu.Unlock()
	return nil
}
