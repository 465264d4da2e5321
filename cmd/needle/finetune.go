package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/needle-router/needle/internal/config"
	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/finetune"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/models"
)

// runFinetune fine-tunes the local model on a toolset and its example requests, and
// reports base vs fine-tuned on held-out examples (both run as the router serves them: its
// default settings). --teacher reads the cloud model's NEEDLE_CLOUD_* variables.
func runFinetune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("finetune", stderr)
	toolsPath := fl.String("tools", "", "toolset file, in any form the registry accepts (required)")
	examplesPath := fl.String("examples", "", `JSONL examples {"query": ..., "answers": [{"name": ..., "arguments": {...}}]} ("answers": [] when no tool serves the request); 10 or more per tool (this, --captures, or both)`)
	captures := fl.String("captures", "", "glob of the router's capture files (--capture-dir) to add as examples")
	minutes := fl.Float64("minutes", 5, "time budget of the optimisation, minutes")
	steps := fl.Int("steps", 0, "optimizer steps (0: as many as --minutes allow; set it for a run that repeats exactly)")
	seed := fl.Uint64("seed", 1, "random seed: rows, held-out draw and training")
	holdout := fl.Float64("holdout", 0.2, "share of each tool's examples held out for the report (with --test: none)")
	testPath := fl.String("test", "", "examples file to report on instead of a held-out share of --examples")
	perExample := fl.Int("per-example", 6, "training rows per example (the example, then variations with other values)")
	base := fl.String("base", "", "model directory to start from (default: the shipped model)")
	out := fl.String("out", "", "output model directory (required): config.json, model.safetensors, tokenizer.model, report.json, report.md")
	threads := fl.Int("threads", runtime.NumCPU(), "trainer threads")
	python := fl.String("python", "/usr/bin/python3", "Python with torch")
	teacher := fl.Int("teacher", 0, "ask the cloud model (NEEDLE_CLOUD_BASE_URL, NEEDLE_CLOUD_API_KEY, NEEDLE_CLOUD_MODEL) for this many more examples per tool, each checked against the tool's schema before use; written to OUT/teacher_examples.jsonl")
	calibrate := fl.Bool("calibrate", true, "choose the fine-tuned model's own confidence threshold on half of the held-out examples (40 or more) and write it into the model; the router then judges the toolset's answers by it")
	progressJSON := fl.Bool("progress-json", false, `progress as JSON lines on stderr ({"phase": "train"|"eval"|"done", "step": N, "steps": N or 0, "elapsed_s": S, "budget_s": B}) instead of a bar: for the router's fine-tune jobs`)
	if err := parse(fl, args); err != nil {
		return err
	}
	if *toolsPath == "" || (*examplesPath == "" && *captures == "") || *out == "" {
		return usagef("finetune needs --tools, --examples or --captures (or both), and --out")
	}
	if *teacher < 0 || *teacher > 500 {
		return usagef("finetune: --teacher must be in [0, 500]")
	}
	// Checked here, not left to the trainer: 0 minutes divided by zero there and a negative
	// budget never ended.
	switch {
	case *steps < 0:
		return usagef("finetune: --steps must be >= 0 (0: as many as --minutes allow)")
	case *steps == 0 && !(*minutes > 0 && *minutes <= 24*60):
		return usagef("finetune: --minutes must be in (0, 1440], got %v", *minutes)
	case !(*holdout >= 0 && *holdout < 1):
		return usagef("finetune: --holdout must be in [0, 1), got %v", *holdout)
	case *perExample < 1:
		return usagef("finetune: --per-example must be >= 1")
	case *threads < 1:
		return usagef("finetune: --threads must be >= 1")
	}
	// A fine-tune writes a whole model directory; files left from something else beside it
	// would be mistaken for its own.
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		return usagef("finetune: --out %s is not empty: give a new directory or remove it", *out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("finetune: --out %s: %w", *out, err)
	}
	raw, err := os.ReadFile(*toolsPath)
	if err != nil {
		return err
	}
	tools, err := registry.Parse(raw, registry.Limits{}, "tools")
	if err != nil {
		return fmt.Errorf("finetune: --tools %s: %w", *toolsPath, err)
	}
	var ex []finetune.Example
	if *examplesPath != "" {
		if ex, err = finetune.ReadExampleFile(*examplesPath, tools); err != nil {
			return err
		}
	}
	if *captures != "" {
		more, err := finetune.ReadCaptureFiles(*captures, tools, stderr)
		if err != nil {
			return err
		}
		ex = append(ex, more...)
	}
	if *teacher > 0 {
		// The router's variables, defaults and checks (internal/config).
		var cloud config.Config
		if err := config.FromEnv(os.Getenv, &cloud, "NEEDLE_CLOUD_BASE_URL", "NEEDLE_CLOUD_MODEL", "NEEDLE_CLOUD_API_KEY"); err != nil {
			return err
		}
		if err := cloud.ValidateFlags("cloud-url"); err != nil {
			return err
		}
		if cloud.CloudURL == "" {
			return errors.New("finetune: --teacher needs a cloud model: set NEEDLE_CLOUD_BASE_URL (and NEEDLE_CLOUD_API_KEY, NEEDLE_CLOUD_MODEL)")
		}
		more, rep, err := finetune.Teacher{BaseURL: cloud.CloudURL, APIKey: cloud.CloudAPIKey, Model: cloud.CloudModel}.Examples(ctx, tools, *teacher)
		if err != nil {
			return err
		}
		for name, r := range rep {
			fmt.Fprintf(stderr, "teacher %s: %d kept, %d dropped (failed the schema or named another tool)\n", name, r.Kept, r.Dropped)
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		if err := finetune.WriteExamples(filepath.Join(*out, "teacher_examples.jsonl"), more); err != nil {
			return err
		}
		ex = append(ex, more...)
	}
	// The trainer is checked before anything is written, so a machine without it (the
	// container image) leaves no half-filled --out behind.
	script, err := finetune.FindScript()
	if err != nil {
		return err
	}
	if err := finetune.CheckPython(ctx, *python); err != nil {
		return err
	}
	if len(ex) == 0 {
		if *captures != "" {
			return errors.New("finetune: no examples (the examples file is empty and the capture files hold no rows of this toolset)")
		}
		return fmt.Errorf("finetune: --examples %s holds no examples", *examplesPath)
	}
	for _, w := range finetune.FewExamples(ex, tools, 10) {
		fmt.Fprintln(stderr, "finetune: warning:", w)
	}
	progress := finetune.DrawProgress(stderr)
	if *progressJSON {
		progress = finetune.JSONProgress(stderr)
	}
	var train, held []finetune.Example
	if *testPath != "" {
		train = ex
		if held, err = finetune.ReadExampleFile(*testPath, tools); err != nil {
			return err
		}
	} else {
		train, held = finetune.Split(ex, *holdout, *seed)
	}
	specs := registry.Specs(tools)
	rows := finetune.Rows(specs, train, finetune.RowOptions{PerExample: *perExample}, *seed)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rowsPath := filepath.Join(*out, "finetune_rows.jsonl")
	if err := finetune.WriteRows(rowsPath, rows); err != nil {
		return err
	}
	if *testPath != "" {
		fmt.Fprintf(stderr, "%d tools, %d examples, %d test examples (%s), %d training rows -> %s\n", len(tools), len(ex), len(held), *testPath, len(rows), rowsPath)
	} else {
		fmt.Fprintf(stderr, "%d tools, %d examples (%d of them held out), %d training rows -> %s\n", len(tools), len(ex), len(held), len(rows), rowsPath)
	}

	baseDir := *base
	if baseDir == "" {
		if baseDir, err = os.MkdirTemp("", "needle-base-"); err != nil {
			return err
		}
		defer os.RemoveAll(baseDir)
		if err := finetune.CopyModel(models.FS, baseDir); err != nil {
			return err
		}
	}
	t0 := time.Now()
	logf, err := os.Create(filepath.Join(*out, "train.txt"))
	if err != nil {
		return err
	}
	defer logf.Close()
	lastStep := 0
	err = finetune.Train(ctx, finetune.TrainConfig{Python: *python, Script: script, Base: baseDir, Rows: rowsPath, Out: *out,
		Minutes: *minutes, Steps: *steps, Threads: *threads, Seed: *seed, Log: filepath.Join(*out, "train_log.jsonl")},
		func(p finetune.Progress) {
			if p.Finished && p.Step == 0 { // no train_meta.json: the last step line
				p.Step = lastStep
			}
			lastStep = p.Step
			progress(p)
		}, logf)
	if !*progressJSON {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	rep := &finetune.Report{Tools: len(tools), Examples: len(ex), HeldOut: len(held), Rows: len(rows), Steps: lastStep,
		Minutes: time.Since(t0).Minutes(), Threshold: router.DefaultThreshold, ScriptAndLog: "train.txt", FromTest: *testPath != ""}
	rep.ReadTrained(*out)
	if *progressJSON {
		fmt.Fprintln(stderr, `{"phase": "eval"}`)
	}
	entries, err := finetune.HeldOutEntries(specs, raw, held)
	if err != nil {
		return err
	}
	var sides [2][]eval.Item
	for i, side := range []struct {
		dir string
		dst *finetune.Side
	}{{*base, &rep.Base}, {*out, &rep.FineTuned}} {
		items, id, err := heldOutItems(ctx, side.dir, entries)
		if err != nil {
			return err
		}
		*side.dst = finetune.SideOf(id, items, router.DefaultThreshold)
		sides[i] = items
	}
	if err := finetune.WriteHeldOut(filepath.Join(*out, "heldout_items.jsonl"), held, sides[0], sides[1]); err != nil {
		return err
	}
	if *calibrate {
		cal := finetune.Calibrate(sides[1], router.DefaultThreshold, finetune.CalibrationPrecision, finetune.MinCalibrationItems, *seed)
		rep.Calibration = &cal
		if cal.Threshold > 0 {
			// A model without its threshold still serves at the default: say so in the
			// report rather than lose the training and both evaluations.
			if err := needle.SetMetadata(filepath.Join(*out, "model.safetensors"), map[string]string{needle.MetaThreshold: strconv.FormatFloat(cal.Threshold, 'g', -1, 64)}); err != nil {
				fmt.Fprintf(stderr, "finetune: warning: the calibrated threshold could not be written into the model: %v\n", err)
				cal.Why = fmt.Sprintf("threshold %.6g was chosen but could not be written into the model (%v)", cal.Threshold, err)
				cal.Threshold = 0
			}
		}
	}
	if err := rep.Write(*out, stdout); err != nil {
		return err
	}
	if *progressJSON {
		fmt.Fprintln(stderr, `{"phase": "done"}`)
	}
	return nil
}

// heldOutItems runs the router's local pipeline of the model in dir ("" = shipped), with
// the router's default settings, on the entries.
func heldOutItems(ctx context.Context, dir string, entries []eval.Entry) ([]eval.Item, string, error) {
	mf := routerDefaults(dir)
	m, err := mf.load()
	if err != nil {
		return nil, "", err
	}
	p, err := mf.pipeline(m)
	if err != nil {
		return nil, "", err
	}
	return eval.ScoreEntries(ctx, entries, predictor(p)), m.ID(), nil
}
