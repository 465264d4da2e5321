package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/lexical"
	"github.com/needle-router/needle/internal/router"
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
	catalogue := fs.Int("catalogue", 300, "distinct tools (one per function) in the retrieval catalogue; more rows are drawn until it is full (0: skip retrieval)")
	sweep := fs.String("lexical-sweep", "", "comma-separated BM25 weights to also report hybrid recall at (choose -lexical-weight on a seed other than the report's)")
	lexWeight := fs.Float64("lexical-weight", router.DefaultLexicalWeight, "weight of BM25 (scaled to [0, 1]) added to the contrastive cosine in hybrid retrieval")
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
	gen := synth.New(synth.Config{Seed: *seed, Split: synth.HeldOut, MaxTools: *maxTools})
	var rows []eval.SynthRow
	var queries, fqueries []eval.RetrievalQuery
	cat := map[string]toolspec.Tool{}  // by name
	fcat := map[string]toolspec.Tool{} // by function: the first tool of each

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
		addTools(cat, fcat, row)
		if len(want) > 0 {
			queries = append(queries, eval.RetrievalQuery{Text: row.Query, Want: want[0].Name})
			if f := functionOf(row, want[0].Name); f != "" {
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
		// More rows until the catalogue is big enough.
		// Then distractors until the catalogue is full: training-split rows (the held-out
		// split has about 110 distinct tools), with written API tools. Queries stay held out.
		fill := synth.New(synth.Config{Seed: *seed + 1, Written: 0.3})
		for i := 0; len(fcat) < *catalogue && i < 20000; i++ {
			addTools(cat, fcat, fill.Row(uint64(i)))
		}
		if rep.Retrieval, err = eval.ScoreRetrieval(ctx, m, catalogueDocs(fcat), fqueries, *lexWeight, sweepW...); err != nil {
			return err
		}
		if rep.RetrievalByName, err = eval.ScoreRetrieval(ctx, m, catalogueDocs(cat), queries, *lexWeight); err != nil {
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

// addTools adds a row's tools to the catalogues by name and by function (the first tool of
// a name, or of a function, wins).
func addTools(byName, byFunc map[string]toolspec.Tool, row synth.Row) {
	tools, _ := toolspec.ParseFlat(row.Tools)
	for i, t := range tools {
		if _, ok := byName[t.Name]; !ok {
			byName[t.Name] = t
		}
		if i < len(row.Functions) {
			if _, ok := byFunc[row.Functions[i]]; !ok {
				byFunc[row.Functions[i]] = t
			}
		}
	}
}

// functionOf is the function of the row's tool called name ("" when none).
func functionOf(row synth.Row, name string) string {
	tools, _ := toolspec.ParseFlat(row.Tools)
	for i, t := range tools {
		if t.Name == name && i < len(row.Functions) {
			return row.Functions[i]
		}
	}
	return ""
}

// catalogueDocs lists a catalogue by key (name or function), each tool embedded as its JSON.
func catalogueDocs(cat map[string]toolspec.Tool) []eval.Doc {
	docs := make([]eval.Doc, 0, len(cat))
	for key, t := range cat {
		docs = append(docs, eval.Doc{Name: key, Text: string(t.AppendJSON(nil)), Words: lexical.ToolText(&t)})
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name })
	return docs
}
