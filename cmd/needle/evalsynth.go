package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/needle-router/needle/internal/eval"
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
	catalogue := fs.Int("catalogue", 200, "tools in the retrieval catalogue")
	out := fs.String("json", "", "write the report as JSON")
	png := fs.String("plot", "", "write the risk-coverage plot as PNG")
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
	gen := synth.New(synth.Config{Seed: *seed, Split: synth.HeldOut, MaxTools: *maxTools})
	var items []eval.SynthItem
	var queries []query
	cat := map[string]toolspec.Tool{}
	bar := progressBar()
	for i := 0; i < *n; i++ {
		row := gen.Row(uint64(i))
		ab, _ := json.Marshal(row.Answers)
		want, err := eval.CallsFromAnswers(ab)
		if err != nil {
			return err
		}
		it := eval.SynthItem{Want: want}
		o, err := p.Route(ctx, router.Input{Transcript: row.Query, ToolsJSON: string(row.Tools), AllowEscalate: &noEscalation})
		if err == nil {
			it.Parsed, it.Confidence = true, o.Confidence
			for _, c := range o.Calls {
				v, _ := eval.Decode(c.Arguments)
				mm, _ := v.(map[string]any)
				it.Got = append(it.Got, eval.Call{Name: c.Name, Args: mm})
			}
		}
		items = append(items, it)
		tools, _ := toolspec.ParseFlat(row.Tools)
		for _, t := range tools {
			if _, ok := cat[t.Name]; !ok {
				cat[t.Name] = t
			}
		}
		if len(want) > 0 {
			queries = append(queries, query{row.Query, want[0].Name})
		}
		bar(i+1, *n, "held-out")
	}
	fmt.Fprintln(os.Stderr)
	rep := eval.ScoreSynth(items)
	// More rows until the catalogue is big enough.
	for i := *n; len(cat) < *catalogue && i < *n+20000; i++ {
		tools, _ := toolspec.ParseFlat(gen.Row(uint64(i)).Tools)
		for _, t := range tools {
			if _, ok := cat[t.Name]; !ok {
				cat[t.Name] = t
			}
		}
	}
	if r, err := retrieval(ctx, m, cat, queries); err == nil {
		rep.Retrieval = r
	} else {
		return err
	}
	rep.WriteTable(os.Stdout)
	if *png != "" {
		if err := rep.PlotCalibration(*png); err != nil {
			return err
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(map[string]any{"model": m.ID(), "synth": rep}, "", "  ")
		return os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}

type embedder interface {
	Embed(ctx context.Context, text string) ([]float32, error)
}

type query struct{ query, name string }

func retrieval(ctx context.Context, m embedder, cat map[string]toolspec.Tool, queries []query) (*eval.Retrieval, error) {
	names := make([]string, 0, len(cat))
	for k := range cat {
		names = append(names, k)
	}
	sort.Strings(names)
	embs := make([][]float32, len(names))
	for i, n := range names {
		t := cat[n]
		e, err := m.Embed(ctx, string(t.AppendJSON(nil)))
		if err != nil {
			return nil, err
		}
		embs[i] = e
	}
	r := &eval.Retrieval{Catalogue: len(names)}
	for _, q := range queries {
		qe, err := m.Embed(ctx, q.query)
		if err != nil {
			return nil, err
		}
		var target float32 = -math.MaxFloat32
		ti := -1
		for i, n := range names {
			if n == q.name {
				ti = i
				target = dot(qe, embs[i])
			}
		}
		if ti < 0 {
			continue
		}
		rank := 1
		for i := range names {
			if i != ti && dot(qe, embs[i]) > target {
				rank++
			}
		}
		r.Queries++
		if rank == 1 {
			r.Recall1++
		}
		if rank <= 5 {
			r.Recall5++
		}
		r.MRR += 1 / float64(rank)
	}
	if r.Queries > 0 {
		r.Recall1 /= float64(r.Queries)
		r.Recall5 /= float64(r.Queries)
		r.MRR /= float64(r.Queries)
	}
	return r, nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
