package eval

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// SynthItem is one held-out row's expected and predicted calls.
type SynthItem struct {
	Want       []Call
	Got        []Call
	Parsed     bool
	Confidence float64
}

// SynthReport holds the held-out metrics (fractions in [0,1]).
type SynthReport struct {
	N           int             `json:"n"`
	ExactMatch  float64         `json:"exact_match"`
	ToolNameAcc float64         `json:"tool_name_accuracy"`
	CallF1      float64         `json:"call_f1"`
	ArgAcc      float64         `json:"argument_accuracy"`
	ParseRate   float64         `json:"parse_rate"`
	NoCallAcc   float64         `json:"no_call_accuracy"`
	NoCallN     int             `json:"no_call_n"`
	Retrieval   *Retrieval      `json:"retrieval,omitempty"`
	Calibration []CoveragePoint `json:"calibration"`
	// Threshold98 is the lowest confidence threshold whose local answers are at least 98%
	// exact; -1 when no threshold reaches it.
	Threshold98 float64 `json:"threshold_at_98_precision"`
	Coverage98  float64 `json:"coverage_at_98_precision"`
}

// Retrieval is recall of the called tool among a catalogue, by the contrastive head.
type Retrieval struct {
	Catalogue int     `json:"catalogue"`
	Queries   int     `json:"queries"`
	Recall1   float64 `json:"recall_at_1"`
	Recall5   float64 `json:"recall_at_5"`
	MRR       float64 `json:"mrr"`
}

// CoveragePoint: answering the most confident Coverage fraction gives Precision exact.
type CoveragePoint struct {
	Coverage  float64 `json:"coverage"`
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"`
}

func callEqual(a, b Call) bool {
	if a.Name != b.Name || len(a.Args) != len(b.Args) {
		return false
	}
	for k, v := range a.Args {
		w, ok := b.Args[k]
		if !ok || !pyEqual(v, w) {
			return false
		}
	}
	return true
}

func callsEqual(a, b []Call) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !callEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// ScoreSynth computes the held-out metrics and the calibration table.
func ScoreSynth(items []SynthItem) SynthReport {
	r := SynthReport{N: len(items), Threshold98: -1}
	var exact, names, parsed, noCallOK int
	var tp, fp, fn, argOK, argN int
	for _, it := range items {
		if it.Parsed {
			parsed++
		}
		if callsEqual(it.Want, it.Got) {
			exact++
		}
		if len(it.Want) == len(it.Got) {
			same := true
			for i := range it.Want {
				same = same && it.Want[i].Name == it.Got[i].Name
			}
			if same {
				names++
			}
		}
		if len(it.Want) == 0 {
			r.NoCallN++
			if len(it.Got) == 0 {
				noCallOK++
			}
		}
		used := make([]bool, len(it.Got))
		for _, w := range it.Want {
			hit := false
			for j, g := range it.Got {
				if !used[j] && callEqual(w, g) {
					used[j], hit = true, true
					break
				}
			}
			if hit {
				tp++
			} else {
				fn++
			}
		}
		for j := range it.Got {
			if !used[j] {
				fp++
			}
		}
		for i, w := range it.Want {
			for k, v := range w.Args {
				argN++
				if i < len(it.Got) && it.Got[i].Name == w.Name {
					if g, ok := it.Got[i].Args[k]; ok && pyEqual(g, v) {
						argOK++
					}
				}
			}
		}
	}
	n := float64(max(1, len(items)))
	r.ExactMatch, r.ToolNameAcc, r.ParseRate = float64(exact)/n, float64(names)/n, float64(parsed)/n
	if tp+fp+fn > 0 {
		r.CallF1 = 2 * float64(tp) / float64(2*tp+fp+fn)
	}
	if argN > 0 {
		r.ArgAcc = float64(argOK) / float64(argN)
	}
	if r.NoCallN > 0 {
		r.NoCallAcc = float64(noCallOK) / float64(r.NoCallN)
	}
	r.Calibration, r.Threshold98, r.Coverage98 = calibrate(items)
	return r
}

// calibrate sorts answers by confidence and reports precision (exact match) at coverage
// levels, and the lowest threshold keeping precision >= 98%.
func calibrate(items []SynthItem) ([]CoveragePoint, float64, float64) {
	type pc struct {
		c  float64
		ok bool
	}
	var xs []pc
	for _, it := range items {
		xs = append(xs, pc{it.Confidence, callsEqual(it.Want, it.Got)})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].c > xs[j].c })
	var pts []CoveragePoint
	for _, cov := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0} {
		k := int(cov*float64(len(xs)) + 0.5)
		if k == 0 {
			continue
		}
		ok := 0
		for _, x := range xs[:k] {
			if x.ok {
				ok++
			}
		}
		pts = append(pts, CoveragePoint{Coverage: cov, Threshold: xs[k-1].c, Precision: float64(ok) / float64(k)})
	}
	thr, cover := -1.0, 0.0
	ok := 0
	for i, x := range xs {
		if x.ok {
			ok++
		}
		// Only cut between distinct confidences, so the threshold is realisable.
		if (i+1 == len(xs) || xs[i+1].c < x.c) && float64(ok)/float64(i+1) >= 0.98 {
			thr, cover = x.c, float64(i+1)/float64(len(xs))
		}
	}
	return pts, thr, cover
}

// WriteTable prints the synthetic report.
func (r *SynthReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "held-out rows %d\n", r.N)
	fmt.Fprintf(w, "  exact match        %6.1f%%\n  tool-name accuracy %6.1f%%\n  call F1            %6.1f%%\n  argument accuracy  %6.1f%%\n  parse rate         %6.1f%%\n  no-call accuracy   %6.1f%% (%d rows)\n",
		100*r.ExactMatch, 100*r.ToolNameAcc, 100*r.CallF1, 100*r.ArgAcc, 100*r.ParseRate, 100*r.NoCallAcc, r.NoCallN)
	if r.Retrieval != nil {
		fmt.Fprintf(w, "retrieval over %d tools, %d queries: R@1 %.1f%%  R@5 %.1f%%  MRR %.3f\n",
			r.Retrieval.Catalogue, r.Retrieval.Queries, 100*r.Retrieval.Recall1, 100*r.Retrieval.Recall5, r.Retrieval.MRR)
	}
	fmt.Fprintf(w, "risk-coverage (answer the most confident fraction):\n  coverage threshold precision\n")
	for _, p := range r.Calibration {
		fmt.Fprintf(w, "  %7.0f%% %9.3f %8.1f%%\n", 100*p.Coverage, p.Threshold, 100*p.Precision)
	}
	if r.Threshold98 >= 0 {
		fmt.Fprintf(w, "threshold for >=98%% local precision: %.3f (covers %.1f%%)\n", r.Threshold98, 100*r.Coverage98)
	} else {
		fmt.Fprintf(w, "no threshold reaches 98%% local precision\n")
	}
}

// PlotCalibration writes the risk-coverage curve as a PNG.
func (r *SynthReport) PlotCalibration(path string) error {
	p := plot.New()
	p.Title.Text = "Needle risk-coverage (held-out synthetic)"
	p.X.Label.Text = "coverage (fraction answered locally)"
	p.Y.Label.Text = "precision (exact match)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	pts := make(plotter.XYs, len(r.Calibration))
	for i, c := range r.Calibration {
		pts[i].X, pts[i].Y = c.Coverage, c.Precision
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = color.RGBA{B: 200, A: 255}
	p.Add(line, plotter.NewGrid())
	target, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0.98}, {X: 1, Y: 0.98}})
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(target)
	return p.Save(5*vg.Inch, 3.5*vg.Inch, path)
}

// CallsFromAnswers converts generator answers ({"name","arguments"} JSON) to Calls.
func CallsFromAnswers(raw json.RawMessage) ([]Call, error) {
	v, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	return ParseCalls(v)
}
