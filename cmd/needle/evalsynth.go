package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

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
	catalogue := fs.Int("catalogue", 200, "tools in the retrieval catalogue (0: skip retrieval)")
	out := fs.String("json", "", "write the report as JSON")
	png := fs.String("plot", "", "write the risk-coverage plot as PNG")
	perItem := fs.String("per-item", "", "write one JSON line per row to this file: query, expected, predicted, exact, name_ok, confidence, error")
	if err := fs.Parse(args); err != nil {
		return err
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
	gen := synth.New(synth.Config{Seed: *seed, Split: synth.HeldOut, MaxTools: *maxTools})
	var rows []eval.SynthRow
	var queries []eval.RetrievalQuery
	cat := map[string]toolspec.Tool{}
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
		addTools(cat, row.Tools)
		if len(want) > 0 {
			queries = append(queries, eval.RetrievalQuery{Text: row.Query, Want: want[0].Name})
		}
		bar(i+1, *n, "held-out")
	}
	fmt.Fprintln(os.Stderr)
	if err := closeItems(); err != nil {
		return err
	}
	rep := eval.ScoreSynth(rows)
	if *catalogue > 0 {
		// More rows until the catalogue is big enough.
		for i := *n; len(cat) < *catalogue && i < *n+20000; i++ {
			addTools(cat, gen.Row(uint64(i)).Tools)
		}
		if rep.Retrieval, err = eval.ScoreRetrieval(ctx, m, catalogueDocs(cat), queries); err != nil {
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

// addTools adds a row's tools to the catalogue (first description of a name wins).
func addTools(cat map[string]toolspec.Tool, toolsJSON []byte) {
	tools, _ := toolspec.ParseFlat(toolsJSON)
	for _, t := range tools {
		if _, ok := cat[t.Name]; !ok {
			cat[t.Name] = t
		}
	}
}

// catalogueDocs lists the catalogue by name, each tool embedded as its JSON.
func catalogueDocs(cat map[string]toolspec.Tool) []eval.Doc {
	docs := make([]eval.Doc, 0, len(cat))
	for name, t := range cat {
		docs = append(docs, eval.Doc{Name: name, Text: string(t.AppendJSON(nil))})
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name })
	return docs
}
