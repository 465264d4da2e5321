package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/router"
)

func cmdEval(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(`eval needs "bfcl", "synth" or "threshold"`)
	}
	switch args[0] {
	case "bfcl":
		return evalBFCL(ctx, args[1:])
	case "synth":
		return evalSynth(ctx, args[1:])
	case "threshold":
		return evalThreshold(args[1:], os.Stdout)
	}
	return fmt.Errorf("unknown eval %q", args[0])
}

func evalBFCL(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval bfcl", flag.ContinueOnError)
	dir := fs.String("data", "", "directory laid out like BFCL: BFCL_v4_<category>.json and possible_answer/")
	cats := fs.String("categories", "", "comma-separated categories (default: every file in --data)")
	model := fs.String("model", "", "model directory (default: the shipped model)")
	weights := weightsFlag(fs)
	preds := fs.String("predictions", "", "score a JSONL file of {\"id\",\"calls\"} instead of running the model")
	out := fs.String("json", "", "write the report as JSON to this file")
	topK := fs.Int("top-k", 5, "tools kept by retrieval")
	limit := fs.Int("limit", 0, "at most this many items per category (0: all)")
	perItem := fs.String("per-item", "", "write one JSON line per item to this file: id, category, prediction, verdict, reason, error")
	threshold := fs.Float64("threshold", router.DefaultThreshold, "report coverage (share of items with at least this confidence) and their precision (0: skip)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("eval bfcl needs --data DIR")
	}
	var cl []string
	if *cats != "" {
		cl = strings.Split(*cats, ",")
	}
	data, err := eval.LoadBFCL(*dir, cl)
	if err != nil {
		return err
	}
	if *limit > 0 {
		for c, es := range data {
			if len(es) > *limit {
				data[c] = es[:*limit]
			}
		}
	}
	var predict eval.Predict
	name := "predictions:" + *preds
	if *preds != "" {
		byID, err := readPredictions(*preds)
		if err != nil {
			return err
		}
		predict = func(ctx context.Context, e *eval.Entry) eval.Prediction {
			c, ok := byID[e.ID]
			if !ok {
				return eval.Prediction{Err: fmt.Errorf("no prediction for %s", e.ID)}
			}
			return eval.Prediction{Calls: c}
		}
	} else {
		m, err := loadModel(*model, *weights)
		if err != nil {
			return err
		}
		name = m.ID()
		p, err := localPipeline(m, *topK)
		if err != nil {
			return err
		}
		predict = func(ctx context.Context, e *eval.Entry) eval.Prediction {
			return routePrediction(ctx, p, e.Question, string(e.Functions))
		}
	}
	each, closeItems, err := itemWriter(*perItem)
	if err != nil {
		return err
	}
	bar := progressBar()
	rep, err := eval.RunBFCL(ctx, name, data, predict, *threshold, func(done, total int, it *eval.Item) error {
		bar(done, total, it.Category)
		return each(it)
	})
	fmt.Fprintln(os.Stderr)
	if cerr := closeItems(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	rep.WriteTable(os.Stdout)
	return writeJSON(*out, rep)
}

// routePrediction runs one request through the pipeline, timing it.
func routePrediction(ctx context.Context, p *router.Pipeline, transcript, tools string) eval.Prediction {
	t0 := time.Now()
	o, err := p.Route(ctx, router.Input{Transcript: transcript, ToolsJSON: tools, AllowEscalate: &noEscalation})
	pr := eval.Prediction{Err: err, Latency: time.Since(t0)}
	if err != nil {
		return pr
	}
	pr.Confidence, pr.OutputTokens = o.Confidence, o.OutputTokens
	var best float32
	for _, r := range o.Retrieved {
		if r.Score != 0 && (pr.TopTool == "" || r.Score > best) {
			pr.TopTool, best = r.Name, r.Score
		}
	}
	pr.TopScore = best
	pr.Calls, pr.ParseErr = eval.FromToolCalls(o.Calls)
	return pr
}

// itemWriter opens path for JSON lines (nothing when path is empty).
func itemWriter(path string) (write func(v any) error, close func() error, err error) {
	if path == "" {
		return func(any) error { return nil }, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode, func() error { // safe to call twice
		if f == nil {
			return nil
		}
		err := w.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		f = nil
		return err
	}, nil
}

// writeJSON writes v, indented, to path (nothing when path is empty).
func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readPredictions(path string) (map[string][]eval.Call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]eval.Call{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		v, err := eval.Decode(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		m, _ := v.(map[string]any)
		id, _ := m["id"].(string)
		calls, err := eval.ParseCalls(m["calls"])
		if err != nil || id == "" {
			return nil, fmt.Errorf("%s:%d: want {\"id\":..., \"calls\":[...]}", path, n)
		}
		out[id] = calls
	}
	return out, sc.Err()
}

// progressBar draws on stderr only when it is a terminal-like stream worth updating.
func progressBar() func(done, total int, cat string) {
	last := -1
	return func(done, total int, cat string) {
		pct := done * 100 / max(total, 1)
		if pct == last && done != total {
			return
		}
		last = pct
		w := 30
		fill := done * w / max(total, 1)
		fmt.Fprintf(os.Stderr, "\r[%s%s] %d/%d %-24s", strings.Repeat("=", fill), strings.Repeat(" ", w-fill), done, total, cat)
	}
}

// evalThreshold chooses the router's confidence threshold: the lowest at which the answered
// rows of the validation per-item files (`eval synth --per-item`, seeds other than the
// report's) reach --precision exact, then what it gives on each further file. The router's
// default came from
//
//	needle eval synth -seed 7  -n 1500 -catalogue 0 --per-item s7.jsonl
//	needle eval synth -seed 99 -n 1500 -catalogue 0 --per-item s99.jsonl
//	needle eval threshold s7.jsonl,s99.jsonl reports/synth_items.jsonl
func evalThreshold(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("eval threshold", flag.ContinueOnError)
	precision := fs.Float64("precision", 0.98, "the share of answered rows that must be exact")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: needle eval threshold [--precision P] VAL.jsonl[,VAL2.jsonl...] [TEST.jsonl ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("eval threshold needs validation per-item files")
	}
	load := func(list string) ([]eval.Scored, error) {
		var rows []eval.Scored
		for _, name := range strings.Split(list, ",") {
			f, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			r, err := eval.ReadScored(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			rows = append(rows, r...)
		}
		return rows, nil
	}
	val, err := load(fs.Arg(0))
	if err != nil {
		return err
	}
	thr, cov := eval.ChooseThreshold(val, *precision)
	if thr < 0 {
		fmt.Fprintf(w, "validation (%d rows): no threshold reaches %.0f%% exact\n", len(val), 100**precision)
		return nil
	}
	fmt.Fprintf(w, "validation (%d rows): threshold %v covers %.1f%%\n", len(val), thr, 100*cov)
	for _, name := range fs.Args()[1:] {
		rows, err := load(name)
		if err != nil {
			return err
		}
		c, p, n := eval.AtThreshold(rows, thr)
		fmt.Fprintf(w, "%s: at %v: coverage %.1f%%, precision %.1f%% (%d of %d)\n", name, thr, 100*c, 100*p, n, len(rows))
	}
	return nil
}
