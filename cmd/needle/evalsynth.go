package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

func evalSynth(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval synth", flag.ContinueOnError)
	model := fs.String("model", "", "model directory (default: the shipped model)")
	weights := weightsFlag(fs)
	n := fs.Int("n", 400, "held-out rows")
	seed := fs.Uint64("seed", 424242, "generator seed (training used other seeds; the split differs anyway)")
	maxTools := fs.Int("max-tools", 10, "most tools offered per row")
	written := fs.Float64("written", 0, "fraction of rows asking a written API tool (held-out subjects); 0 keeps the split of earlier reports")
	catalogue := fs.Int("catalogue", 300, "distinct tools (one per function) in the retrieval catalogue; more rows are drawn until it is full (0: skip retrieval)")
	sweep := fs.String("lexical-sweep", "", "comma-separated BM25 weights to also report catalogue recall at (choose -lexical-weight on a seed other than the report's)")
	out := fs.String("json", "", "write the report as JSON")
	png := fs.String("plot", "", "write the risk-coverage plot as PNG")
	perItem := fs.String("per-item", "", "write one JSON line per row to this file: query, expected, predicted, exact, name_ok, confidence, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var sweepW []float64
	for _, f := range strings.FieldsFunc(*sweep, func(r rune) bool { return r == ',' }) {
		w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || w < 0 {
			return fmt.Errorf("-lexical-sweep: %q is not a weight >= 0", f)
		}
		sweepW = append(sweepW, w)
	}
	m, err := loadModel(*model, *weights)
	if err != nil {
		return err
	}
	p, err := localPipeline(m, 10)
	if err != nil {
		return err
	}
	write, closeItems, err := itemWriter(*perItem)
	if err != nil {
		return err
	}
	defer closeItems()
	gen := synth.New(synth.Config{Seed: *seed, Split: synth.HeldOut, MaxTools: *maxTools, Written: max(*written, 0)})
	var rows []eval.SynthRow
	var queries, fqueries []eval.RetrievalQuery
	byName, byFunc := eval.NewCatalogue(), eval.NewCatalogue()
	add := func(row synth.Row) []toolspec.Tool {
		tools, _ := toolspec.ParseFlat(row.Tools)
		names := make([]string, len(tools))
		for i, t := range tools {
			names[i] = t.Name
		}
		byName.Add(names, tools)
		byFunc.Add(row.Functions, tools)
		return tools
	}

	bar := progressBar()
	for i := 0; i < *n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		row := gen.Row(uint64(i))
		ab, _ := json.Marshal(row.Answers)
		want, err := eval.CallsFromAnswers(ab)
		if err != nil {
			return err
		}
		r := eval.ScoreSynthRow(eval.SynthItem{Query: row.Query, Want: want,
			Pred: routePrediction(ctx, p, row.Query, string(row.Tools))})
		rows = append(rows, r)
		if err := write(&r); err != nil {
			return err
		}
		tools := add(row)
		if len(want) > 0 {
			queries = append(queries, eval.RetrievalQuery{Text: row.Query, Want: want[0].Name})
			if f := eval.KeyOf(row.Functions, tools, want[0].Name); f != "" {
				fqueries = append(fqueries, eval.RetrievalQuery{Text: row.Query, Want: f})
			}
		}
		bar(i+1, *n, "held-out")
	}
	fmt.Fprintln(os.Stderr)
	if err := closeItems(); err != nil {
		return err
	}
	rep := eval.ScoreSynth(rows)
	if *catalogue > 0 {
		// Distractors until the catalogue is full: training-split rows (the held-out split has
		// about 110 distinct tools), with written API tools. Queries stay held out.
		fill := synth.New(synth.Config{Seed: *seed + 1, Written: 0.3})
		for i := 0; byFunc.Len() < *catalogue && i < 20000; i++ {
			add(fill.Row(uint64(i)))
		}
		if rep.Retrieval, err = eval.ScoreRetrieval(ctx, m, byFunc.Docs(), fqueries, *lexWeight, sweepW...); err != nil {
			return err
		}
		if rep.RetrievalByName, err = eval.ScoreRetrieval(ctx, m, byName.Docs(), queries, *lexWeight); err != nil {
			return err
		}
	}
	rep.WriteTable(os.Stdout)
	if *png != "" {
		if err := rep.PlotCalibration(*png); err != nil {
			return err
		}
	}
	return writeJSON(*out, map[string]any{"model": m.ID(), "synth": rep})
}
