package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/finetune"
	"github.com/needle-router/needle/internal/registry"
)

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef(`eval needs "bfcl", "examples", "synth" or "threshold"`)
	}
	switch args[0] {
	case "bfcl":
		return runEvalBFCL(ctx, args[1:], stdout, stderr)
	case "examples":
		return runEvalExamples(ctx, args[1:], stdout, stderr)
	case "synth":
		return runEvalSynth(ctx, args[1:], stdout, stderr)
	case "threshold":
		return runEvalThreshold(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown eval %q", args[0])
}

func runEvalBFCL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval bfcl", stderr)
	dir := fs.String("data", "", "directory laid out like BFCL: BFCL_v4_<category>.json and possible_answer/")
	cats := fs.String("categories", "", "comma-separated categories (default: every file in --data)")
	preds := fs.String("predictions", "", "score a JSONL file of {\"id\",\"calls\"} instead of running the model")
	out := fs.String("json", "", "write the report as JSON to this file")
	limit := fs.Int("limit", 0, "at most this many items per category (0: all)")
	perItem := fs.String("per-item", "", "write one JSON line per item to this file: id, category, prediction, verdict, reason, error")
	paramOrder := fs.String("param-order", "given", "order of each function's parameters: given (the file's), sorted, reversed or shuffled (per item, from its id); answers should not depend on it")
	// --threshold is also where coverage (share of items with at least this confidence) and
	// its precision are reported.
	mf := bindModel(fs, pipelineOptions...)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("eval bfcl needs --data DIR")
	}
	if !slices.Contains(eval.ParamOrders, *paramOrder) {
		return usagef("eval bfcl: --param-order must be one of %s, got %q", strings.Join(eval.ParamOrders, ", "), *paramOrder)
	}
	if err := mf.check(); err != nil {
		return err
	}
	var cl []string
	if *cats != "" {
		cl = strings.Split(*cats, ",")
	}
	data, err := eval.LoadBFCL(*dir, cl)
	if err != nil {
		return err
	}
	eval.Limit(data, *limit)
	if err := eval.ReorderEntries(data, *paramOrder); err != nil {
		return err
	}
	if *preds != "" {
		byID, err := eval.ReadPredictions(*preds)
		if err != nil {
			return err
		}
		return runEntries(ctx, "predictions:"+*preds, data, eval.FromPredictions(byID), mf.cfg.Threshold, *perItem, *out, stdout, stderr)
	}
	name, threshold, predict, err := modelPredict(mf, stderr)
	if err != nil {
		return err
	}
	return runEntries(ctx, name, data, predict, threshold, *perItem, *out, stdout, stderr)
}

// modelPredict loads the model of mf and returns its id, the threshold its answers are
// judged by (its own, unless the operator set one) and the router's local pipeline over it.
func modelPredict(mf *modelFlags, stderr io.Writer) (string, float64, eval.Predict, error) {
	m, err := mf.load()
	if err != nil {
		return "", 0, nil, err
	}
	threshold := mf.threshold(m)
	if threshold != mf.cfg.Threshold {
		fmt.Fprintf(stderr, "threshold %.6g: the model's own (needle finetune chose it); --threshold overrides\n", threshold)
	}
	p, err := mf.pipeline(m)
	if err != nil {
		return "", 0, nil, err
	}
	route := predictor(p)
	return m.ID(), threshold, func(ctx context.Context, e *eval.Entry) eval.Prediction {
		return route(ctx, e.Question, string(e.Functions))
	}, nil
}

// runEntries scores predict on data with a progress bar, writing per-item lines to perItem
// and the report as JSON to out ("" = none) and as a table to stdout.
func runEntries(ctx context.Context, name string, data map[string][]eval.Entry, predict eval.Predict, threshold float64, perItem, out string, stdout, stderr io.Writer) error {
	items, err := eval.CreateLines(perItem)
	if err != nil {
		return err
	}
	defer items.Close()
	bar := eval.Progress(stderr)
	rep, err := eval.RunBFCL(ctx, name, data, predict, threshold, func(done, total int, it *eval.Item) error {
		bar(done, total, it.Category)
		return items.Write(it)
	})
	if err := endRun(stderr, items, err); err != nil {
		return err
	}
	rep.WriteTable(stdout)
	return eval.WriteJSON(out, rep)
}

// runEvalExamples scores a model on a toolset's example requests (the files `needle
// finetune` reads), every tool offered, as the router serves them: the check after a
// fine-tune on sentences it never trained on, without converting them to BFCL's layout.
func runEvalExamples(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval examples", stderr)
	toolsPath := fs.String("tools", "", "the toolset, in any form the registry accepts (as for needle finetune)")
	examplesPath := fs.String("examples", "", `JSONL, one {"query": ..., "answers": [{"name": ..., "arguments": {...}}]} per line ("answers": [] for a request no tool serves)`)
	out := fs.String("json", "", "write the report as JSON to this file")
	limit := fs.Int("limit", 0, "at most this many examples per category (0: all)")
	perItem := fs.String("per-item", "", "write one JSON line per example to this file: id, category, prediction, verdict, reason, error")
	mf := bindModel(fs, pipelineOptions...)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *toolsPath == "" || *examplesPath == "" {
		return usagef("eval examples needs --tools FILE and --examples FILE")
	}
	if err := mf.check(); err != nil {
		return err
	}
	raw, err := os.ReadFile(*toolsPath)
	if err != nil {
		return err
	}
	tools, err := registry.Parse(raw, registry.Limits{}, "tools")
	if err != nil {
		return fmt.Errorf("eval examples: --tools %s: %w", *toolsPath, err)
	}
	ex, err := finetune.ReadExampleFile(*examplesPath, tools)
	if err != nil {
		return err
	}
	if len(ex) == 0 {
		return fmt.Errorf("eval examples: --examples %s holds no examples", *examplesPath)
	}
	entries, err := finetune.HeldOutEntries(registry.Specs(tools), raw, ex)
	if err != nil {
		return err
	}
	data := map[string][]eval.Entry{}
	for _, e := range entries {
		data[e.Category] = append(data[e.Category], e)
	}
	eval.Limit(data, *limit)
	name, threshold, predict, err := modelPredict(mf, stderr)
	if err != nil {
		return err
	}
	return runEntries(ctx, name, data, predict, threshold, *perItem, *out, stdout, stderr)
}

func runEvalSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval synth", stderr)
	var o eval.SynthOptions
	fs.IntVar(&o.N, "n", 400, "held-out rows")
	fs.Uint64Var(&o.Seed, "seed", 424242, "generator seed (training used other seeds; the split differs anyway)")
	fs.IntVar(&o.MaxTools, "max-tools", 10, "most tools offered per row")
	fs.Float64Var(&o.Written, "written", 0, "fraction of rows asking a written API tool (held-out subjects); 0 keeps the split of earlier reports")
	fs.IntVar(&o.Catalogue, "catalogue", 300, "distinct tools (one per function) in the retrieval catalogue; more rows are drawn until it is full (0: skip retrieval)")
	sweep := fs.String("lexical-sweep", "", "comma-separated BM25 weights to also report catalogue recall at (choose -lexical-weight on a seed other than the report's)")
	out := fs.String("json", "", "write the report as JSON")
	png := fs.String("plot", "", "write the risk-coverage plot as PNG")
	perItem := fs.String("per-item", "", "write one JSON line per row to this file: query, expected, predicted, exact, name_ok, confidence, error")
	// No --top-k or --threshold: every offered tool (up to 10) reaches the decoder, and every
	// answer is scored (the report's coverage curve covers the thresholds).
	mf := bindModel(fs, "model", "weights", "lexical-weight", "tool-prior-temp", "call-prior-weight", "call-prior-center", "call-prior-center-one")
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, f := range strings.FieldsFunc(*sweep, func(r rune) bool { return r == ',' }) {
		w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || w < 0 {
			return usagef("--lexical-sweep: %q is not a weight >= 0", f)
		}
		o.Sweep = append(o.Sweep, w)
	}
	if err := mf.check(); err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	mf.cfg.TopK = 10
	p, err := mf.pipeline(m)
	if err != nil {
		return err
	}
	items, err := eval.CreateLines(*perItem)
	if err != nil {
		return err
	}
	defer items.Close()
	o.Embedder, o.LexicalWeight = m, mf.cfg.LexicalWeight
	o.Each = func(r *eval.SynthRow) error { return items.Write(r) }
	o.Progress = eval.Progress(stderr)
	rep, err := eval.RunSynth(ctx, o, predictor(p))
	if err := endRun(stderr, items, err); err != nil {
		return err
	}
	rep.WriteTable(stdout)
	if *png != "" {
		if err := rep.PlotCalibration(*png); err != nil {
			return err
		}
	}
	return eval.WriteJSON(*out, map[string]any{"model": m.ID(), "synth": rep})
}

// runEvalThreshold chooses the router's confidence threshold: the lowest at which the
// answered rows of the validation per-item files (`eval bfcl --per-item` or `eval synth
// --per-item`) reach --precision exact, then what it gives on each further file. The
// router's default (router.DefaultThreshold) came from the human-written development sets:
//
//	needle eval bfcl --data data/real/bfcl-dev --categories slurp_dev,hwu64_dev --per-item dev.jsonl
//	needle eval threshold --precision 0.95 dev.jsonl test.jsonl
func runEvalThreshold(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval threshold", stderr)
	precision := fs.Float64("precision", 0.95, "the share of answered rows that must be exact")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: needle eval threshold [--precision P] VAL.jsonl[,VAL2.jsonl...] [TEST.jsonl ...]")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usagef("eval threshold needs validation per-item files")
	}
	return eval.WriteThreshold(stdout, *precision, fs.Arg(0), fs.Args()[1:])
}

// endRun ends the progress line and closes the per-item file, keeping the run's error first.
func endRun(stderr io.Writer, items *eval.Lines, err error) error {
	fmt.Fprintln(stderr)
	if cerr := items.Close(); err == nil {
		err = cerr
	}
	return err
}
