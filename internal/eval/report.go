package eval

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// Predict returns the calls a model makes for a question and its BFCL function list.
type Predict func(ctx context.Context, e *Entry) ([]Call, error)

// Score is one category's result.
type Score struct {
	Total    int     `json:"total"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

// Report is the JSON written by `needle eval bfcl --json`.
type Report struct {
	Model      string           `json:"model"`
	Categories map[string]Score `json:"categories"`
}

// RunBFCL scores predict on every entry. progress, when set, is called after each item.
func RunBFCL(ctx context.Context, model string, data map[string][]Entry, predict Predict, progress func(done, total int, cat string)) (*Report, error) {
	rep := &Report{Model: model, Categories: map[string]Score{}}
	total := 0
	for _, es := range data {
		total += len(es)
	}
	cats := make([]string, 0, len(data))
	for c := range data {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	done := 0
	for _, cat := range cats {
		var s Score
		for i := range data[cat] {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			e := &data[cat][i]
			calls, err := predict(ctx, e)
			s.Total++
			if err == nil && Check(cat, e.Funcs, calls, e.Answers).OK {
				s.Correct++
			}
			done++
			if progress != nil {
				progress(done, total, cat)
			}
		}
		if s.Total > 0 {
			s.Accuracy = float64(s.Correct) / float64(s.Total)
		}
		rep.Categories[cat] = s
	}
	return rep, nil
}

// WriteTable prints one row per category.
func (r *Report) WriteTable(w io.Writer) {
	cats := make([]string, 0, len(r.Categories))
	for c := range r.Categories {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	fmt.Fprintf(w, "model %s\n%-24s %7s %7s %9s\n", r.Model, "category", "total", "correct", "accuracy")
	for _, c := range cats {
		s := r.Categories[c]
		fmt.Fprintf(w, "%-24s %7d %7d %8.1f%%\n", c, s.Total, s.Correct, 100*s.Accuracy)
	}
}
