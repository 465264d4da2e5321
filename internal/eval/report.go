package eval

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
)

// Predict answers one BFCL item: the model's calls for its question and function list.
type Predict func(ctx context.Context, e *Entry) Prediction

// Verdict is a BFCL item's outcome.
type Verdict string

const (
	Pass    Verdict = "pass"
	Fail    Verdict = "fail"  // the model answered (or its answer did not parse) and the checker rejects it
	Errored Verdict = "error" // the request failed: no answer to check
)

// Item is one BFCL item's result, the line `needle eval bfcl --per-item` writes.
type Item struct {
	ID       string  `json:"id"`
	Category string  `json:"category"`
	Calls    []Call  `json:"prediction"` // null when there is no answer (an error, or arguments that did not parse)
	Verdict  Verdict `json:"verdict"`
	Reason   string  `json:"reason,omitempty"` // the checker's reason for a fail
	Error    string  `json:"error,omitempty"`  // the request's error text
	// What the answer cost.
	Confidence   float64 `json:"confidence"`
	OutputTokens int     `json:"output_tokens"`
	RouteMs      float64 `json:"route_ms"`
	// Tool and argument counts behind the call-level metrics (CallScore).
	Stats CallStats `json:"stats"`
}

// ScoreItem checks one prediction against an entry's ground truth. A request error is an
// Err verdict; arguments that did not parse are a Fail with reason "did not parse".
func ScoreItem(e *Entry, p Prediction) Item {
	it := Item{ID: e.ID, Category: e.Category, Calls: p.shown(), Confidence: p.Confidence,
		OutputTokens: p.OutputTokens, RouteMs: p.Latency.Seconds() * 1000}
	switch {
	case p.Err != nil:
		it.Verdict, it.Error = Errored, p.Err.Error()
	case p.ParseErr != nil:
		it.Verdict, it.Reason = Fail, "did not parse: "+p.ParseErr.Error()
	default:
		it.Stats = Stats(e.Funcs, p.Calls, e.Answers)
		if p.Retrieved != nil && len(p.Retrieved) < len(e.Funcs) && len(e.Answers) > 0 {
			it.Stats.Cut, it.Stats.GoldKept = true, slices.Contains(p.Retrieved, e.Answers[0].Name)
		}
		if r := Check(e.Category, e.Funcs, p.Calls, e.Answers); r.OK {
			it.Verdict = Pass
		} else {
			it.Verdict, it.Reason = Fail, r.Reason
		}
	}
	return it
}

// Score is one category's result. Accuracy is Correct/Total: errors count against it, and
// are also counted on their own.
type Score struct {
	Total    int     `json:"total"`
	Correct  int     `json:"correct"`
	Errors   int     `json:"errors"`
	Accuracy float64 `json:"accuracy"`
	CallScore
}

// Report is the JSON written by `needle eval bfcl --json`.
type Report struct {
	Model      string           `json:"model"`
	Categories map[string]Score `json:"categories"`
	Cost       Cost             `json:"cost"`
}

// RunBFCL scores predict on every entry, categories in name order. each, when set, gets
// every item's result as it is scored (done counts items so far, of total); an error from it
// stops the run.
//
// threshold (0: none) is the confidence at which coverage and precision are reported.
func RunBFCL(ctx context.Context, model string, data map[string][]Entry, predict Predict, threshold float64, each func(done, total int, it *Item) error) (*Report, error) {
	total := 0
	cats := make([]string, 0, len(data))
	for c, es := range data {
		total += len(es)
		cats = append(cats, c)
	}
	sort.Strings(cats)
	var items []Item
	for _, cat := range cats {
		for i := range data[cat] {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p := predict(ctx, &data[cat][i])
			items = append(items, ScoreItem(&data[cat][i], p))
			if each != nil {
				if err := each(len(items), total, &items[len(items)-1]); err != nil {
					return nil, err
				}
			}
		}
	}
	return SummarizeAt(model, items, threshold), nil
}

// Summarize counts items per category and what the answered ones cost.
func Summarize(model string, items []Item) *Report { return SummarizeAt(model, items, 0) }

// SummarizeAt is Summarize with coverage and precision at a confidence threshold (0: none).
func SummarizeAt(model string, items []Item, threshold float64) *Report {
	rep := &Report{Model: model, Categories: map[string]Score{}}
	byCat := map[string][]Item{}
	var tokens []int
	var ms []float64
	for _, it := range items {
		if it.Verdict != Errored {
			tokens, ms = append(tokens, it.OutputTokens), append(ms, it.RouteMs)
		}
		s := rep.Categories[it.Category]
		s.Total++
		switch it.Verdict {
		case Pass:
			s.Correct++
		case Errored:
			s.Errors++
		}
		s.Accuracy = float64(s.Correct) / float64(s.Total)
		rep.Categories[it.Category] = s
		byCat[it.Category] = append(byCat[it.Category], it)
	}
	for c, its := range byCat {
		s := rep.Categories[c]
		s.CallScore = scoreCalls(its, threshold)
		rep.Categories[c] = s
	}
	rep.Cost = costOf(tokens, ms)
	return rep
}

// WriteTable prints one row per category.
func (r *Report) WriteTable(w io.Writer) {
	cats := make([]string, 0, len(r.Categories))
	for c := range r.Categories {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	fmt.Fprintf(w, "model %s\n%-24s %6s %6s %6s %8s | %6s %6s %6s %6s %6s %6s %6s | %8s %8s | %8s\n", r.Model,
		"category", "total", "correct", "errors", "exact", "tool", "nocall", "argP", "argR", "argF1", "invent", "invAny", "coverage", "precision", "recall@k")
	for _, c := range cats {
		s := r.Categories[c]
		cov, prec, rec := "-", "-", "-"
		if s.Threshold > 0 {
			cov, prec = fmt.Sprintf("%.1f%%", 100*s.Coverage), fmt.Sprintf("%.1f%%", 100*s.Precision)
		}
		if s.Cut > 0 {
			rec = fmt.Sprintf("%.1f%%", 100*s.RecallAtK)
		}
		fmt.Fprintf(w, "%-24s %6d %6d %6d %7.1f%% | %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% | %8s %8s | %8s\n", c, s.Total, s.Correct, s.Errors, 100*s.Accuracy,
			100*s.ToolAccuracy, 100*s.NoCallRate, 100*s.ArgPrecision, 100*s.ArgRecall, 100*s.ArgF1, 100*s.InventedRate, 100*s.InventedAnyRate, cov, prec, rec)
	}
	if r.Cost.Answered > 0 && r.Cost.P90RouteMs > 0 { // a predictions file has no cost
		fmt.Fprintf(w, "answered %d: mean output tokens %.1f, route p50 %.1f ms, p90 %.1f ms\n",
			r.Cost.Answered, r.Cost.MeanOutputTokens, r.Cost.P50RouteMs, r.Cost.P90RouteMs)
	}
}
