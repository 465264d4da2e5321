package eval

import (
	"context"
	"encoding/json"

	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

// Route answers one request, a transcript and its tools JSON, the way the router's local
// pipeline does (cmd/needle adapts router.Pipeline.Route to it).
type Route func(ctx context.Context, transcript, tools string) Prediction

// SynthOptions sets up `needle eval synth`: the held-out split of the generator, scored row by
// row, then retrieval over a catalogue of its tools.
type SynthOptions struct {
	N        int    // held-out rows
	Seed     uint64 // generator seed
	MaxTools int    // most tools offered per row
	Written  float64
	// Catalogue is the number of distinct tools (one per function) in the retrieval
	// catalogue; more rows (training split) are drawn until it is full. 0: no retrieval.
	Catalogue     int
	Embedder      Embedder  // the model, for retrieval
	LexicalWeight float64   // hybrid retrieval's BM25 weight (as the router's)
	Sweep         []float64 // further BM25 weights to report catalogue recall at
	// Each, when set, gets every row's score as it is made (the per-item file); an error
	// from it stops the run. Progress, when set, is told after each row.
	Each     func(*SynthRow) error
	Progress func(done, total int, label string)
}

// RunSynth scores route on o.N held-out rows and, with a catalogue, the model's retrieval.
func RunSynth(ctx context.Context, o SynthOptions, route Route) (SynthReport, error) {
	gen := synth.New(synth.Config{Seed: o.Seed, Split: synth.HeldOut, MaxTools: o.MaxTools, Written: max(o.Written, 0)})
	var rows []SynthRow
	var queries, fqueries []RetrievalQuery
	byName, byFunc := NewCatalogue(), NewCatalogue()
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
	for i := 0; i < o.N; i++ {
		if err := ctx.Err(); err != nil {
			return SynthReport{}, err
		}
		row := gen.Row(uint64(i))
		ab, _ := json.Marshal(row.Answers)
		want, err := CallsFromAnswers(ab)
		if err != nil {
			return SynthReport{}, err
		}
		r := ScoreSynthRow(SynthItem{Query: row.Query, Want: want, Pred: route(ctx, row.Query, string(row.Tools))})
		rows = append(rows, r)
		if o.Each != nil {
			if err := o.Each(&r); err != nil {
				return SynthReport{}, err
			}
		}
		tools := add(row)
		if len(want) > 0 {
			queries = append(queries, RetrievalQuery{Text: row.Query, Want: want[0].Name})
			if f := KeyOf(row.Functions, tools, want[0].Name); f != "" {
				fqueries = append(fqueries, RetrievalQuery{Text: row.Query, Want: f})
			}
		}
		if o.Progress != nil {
			o.Progress(i+1, o.N, "held-out")
		}
	}
	rep := ScoreSynth(rows)
	if o.Catalogue > 0 {
		// Distractors until the catalogue is full: training-split rows (the held-out split has
		// about 110 distinct tools), with written API tools. Queries stay held out.
		fill := synth.New(synth.Config{Seed: o.Seed + 1, Written: 0.3})
		for i := 0; byFunc.Len() < o.Catalogue && i < 20000; i++ {
			add(fill.Row(uint64(i)))
		}
		var err error
		if rep.Retrieval, err = ScoreRetrieval(ctx, o.Embedder, byFunc.Docs(), fqueries, o.LexicalWeight, o.Sweep...); err != nil {
			return rep, err
		}
		if rep.RetrievalByName, err = ScoreRetrieval(ctx, o.Embedder, byName.Docs(), queries, o.LexicalWeight); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// ScoreEntries scores route on each entry, in order (`needle finetune`'s held-out report).
func ScoreEntries(ctx context.Context, entries []Entry, route Route) []Item {
	items := make([]Item, 0, len(entries))
	for i := range entries {
		items = append(items, ScoreItem(&entries[i], route(ctx, entries[i].Question, string(entries[i].Functions))))
	}
	return items
}
