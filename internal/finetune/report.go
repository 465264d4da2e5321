package finetune

import (
	"fmt"
	"io"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/toolspec"
)

// Category names the held-out items in eval terms: one call, several, or none wanted.
func category(e Example) string {
	switch len(e.Answers) {
	case 0:
		return "finetune_irrelevance"
	case 1:
		return "finetune_simple"
	}
	return "finetune_parallel"
}

// HeldOutEntries turns held-out examples into eval entries over the whole toolset, as the
// router would see them (toolsJSON is the --tools file as given).
func HeldOutEntries(tools []toolspec.Tool, toolsJSON []byte, held []Example) ([]eval.Entry, error) {
	funcs := make([]eval.Func, len(tools))
	for i, t := range tools {
		f := eval.Func{Name: t.Name, Properties: map[string]map[string]any{}}
		for _, p := range t.Params {
			f.Properties[p.Name] = map[string]any{"type": p.Type}
			if p.Required {
				f.Required = append(f.Required, p.Name)
			}
		}
		funcs[i] = f
	}
	out := make([]eval.Entry, 0, len(held))
	for i, e := range held {
		en := eval.Entry{ID: fmt.Sprintf("heldout_%d_line%d", i, e.Line), Category: category(e), Question: e.Query,
			Functions: toolsJSON, Funcs: funcs}
		for _, a := range e.Answers {
			keys, vals, err := toolspec.OrderedObject(a.Arguments)
			if err != nil {
				return nil, err
			}
			ans := eval.Answer{Name: a.Name, Params: map[string][]any{}}
			for k, key := range keys {
				v, err := eval.Decode(vals[k])
				if err != nil {
					return nil, err
				}
				ans.Params[key] = []any{v}
			}
			en.Answers = append(en.Answers, ans)
		}
		out = append(out, en)
	}
	return out, nil
}

// Side is one model's numbers on the held-out examples.
type Side struct {
	Model        string  `json:"model"`
	Items        int     `json:"items"`
	ToolAccuracy float64 `json:"tool_accuracy"`
	Exact        float64 `json:"exact"`
	ArgF1        float64 `json:"arg_f1"`
	Local        float64 `json:"local"`           // share with confidence at or above the threshold
	LocalPrec    float64 `json:"local_precision"` // share of those that are exactly right
}

// Report is what `needle finetune` writes as report.json.
type Report struct {
	Tools        int     `json:"tools"`
	Examples     int     `json:"examples"`
	HeldOut      int     `json:"held_out"`
	FromTest     bool    `json:"from_test,omitempty"` // the reported examples came from --test, not from a held-out share
	Rows         int     `json:"rows"`
	Steps        int     `json:"steps"`
	Minutes      float64 `json:"minutes"`
	Threshold    float64 `json:"threshold"`
	Base         Side    `json:"base"`
	FineTuned    Side    `json:"fine_tuned"`
	ModelBytes   int64   `json:"model_bytes"`
	ScriptAndLog string  `json:"log"`
	// Calibration is the fine-tuned model's own threshold (nil: not attempted).
	Calibration *Calibration `json:"calibration,omitempty"`
}

// SideOf pools a report's categories into one side (items weighted by count).
func SideOf(model string, items []eval.Item, threshold float64) Side {
	rep := eval.SummarizeAt(model, items, threshold)
	s := Side{Model: model}
	var tool, exact, f1, local, localOK float64
	for _, c := range rep.Categories {
		n := float64(c.Total)
		s.Items += c.Total
		tool += c.ToolAccuracy * n
		exact += float64(c.Correct)
		f1 += c.ArgF1 * n
		local += c.Coverage * n
		localOK += c.Precision * c.Coverage * n
	}
	if s.Items > 0 {
		n := float64(s.Items)
		s.ToolAccuracy, s.Exact, s.ArgF1, s.Local = tool/n, exact/n, f1/n, local/n
	}
	if local > 0 {
		s.LocalPrec = localOK / local
	}
	return s
}

// WriteTable prints base vs fine-tuned.
func (r *Report) WriteTable(w io.Writer) {
	if r.FromTest {
		fmt.Fprintf(w, "test examples: %d (--test); training examples: %d (%d tools); %d training rows, %d steps, %.1f minutes\n",
			r.HeldOut, r.Examples, r.Tools, r.Rows, r.Steps, r.Minutes)
	} else {
		fmt.Fprintf(w, "held-out examples: %d of %d (%d tools); %d training rows, %d steps, %.1f minutes\n",
			r.HeldOut, r.Examples, r.Tools, r.Rows, r.Steps, r.Minutes)
	}
	fmt.Fprintf(w, "| model | tool accuracy | exact call | argument F1 | local at %.5f | local precision |\n|---|---|---|---|---|---|\n", r.Threshold)
	for _, s := range []Side{r.Base, r.FineTuned} {
		prec := "n/a (none answered)"
		if s.Local > 0 {
			prec = fmt.Sprintf("%.1f%%", 100*s.LocalPrec)
		}
		fmt.Fprintf(w, "| %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %s |\n", s.Model, 100*s.ToolAccuracy, 100*s.Exact, 100*s.ArgF1, 100*s.Local, prec)
	}
	c := r.Calibration
	switch {
	case c == nil:
	case c.Threshold > 0:
		fmt.Fprintf(w, "\nthreshold for this toolset: %.6g, chosen on %d of the examples above for %.0f%% exact local answers; written into the model, so the router judges this toolset's answers by it. On the other %d: %.1f%% answered locally, %s exact (at the router's default %.6g: %.1f%%, %s).\n",
			c.Threshold, c.ChooseItems, 100*c.Precision, c.CheckItems, 100*c.Local, pct(c.Local, c.LocalPrecision), r.Threshold, 100*c.DefaultLocal, pct(c.DefaultLocal, c.DefaultLocalPr))
	default:
		fmt.Fprintf(w, "\nno threshold calibrated for this toolset: %s. The router's default %.6g applies.\n", c.Why, r.Threshold)
	}
}

func pct(local, precision float64) string {
	if local == 0 {
		return "none answered"
	}
	return fmt.Sprintf("%.1f%%", 100*precision)
}
