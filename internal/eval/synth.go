package eval

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// SynthItem is one held-out row: its query, the expected calls and the prediction.
type SynthItem struct {
	Query string
	Want  []Call
	Pred  Prediction
}

// SynthRow is one row's score, the line `needle eval synth --per-item` writes.
type SynthRow struct {
	Query      string  `json:"query"`
	Expected   []Call  `json:"expected"`
	Predicted  []Call  `json:"predicted"` // null when there is no answer
	Exact      bool    `json:"exact"`
	NameOK     bool    `json:"name_ok"` // the same tool names in the same order (no call: none)
	Confidence float64 `json:"confidence"`
	Error      string  `json:"error,omitempty"` // the request's error, or "did not parse: ..."
	// TopTool is the router's retrieval's first choice among the offered tools ("" when not
	// scored); TopToolOK: it is the first expected call's tool.
	TopTool   string  `json:"top_tool,omitempty"`
	TopToolOK bool    `json:"top_tool_ok,omitempty"`
	TopScore  float32 `json:"top_score,omitempty"`
	// What the answer cost.
	OutputTokens int     `json:"output_tokens"`
	RouteMs      float64 `json:"route_ms"`

	Counts RowCounts `json:"-"`
}

// RowCounts are a row's contributions to the report's ratios.
type RowCounts struct {
	Errored, Parsed bool
	TP, FP, FN      int // calls matched exactly / predicted unmatched / expected unmatched
	Args, ArgsOK    int // expected arguments, and those the same-position same-name call got right
	// String values of rows whose tool names are right, split by whether the expected value
	// appears verbatim (case-insensitive) in the query.
	Copy, Rewrite Tally
}

// Tally counts right answers out of N.
type Tally struct{ N, OK int }

func (t *Tally) add(ok bool) {
	t.N++
	if ok {
		t.OK++
	}
}

// Rate is OK/N (0 for none).
func (t Tally) Rate() float64 {
	if t.N == 0 {
		return 0
	}
	return float64(t.OK) / float64(t.N)
}

// SynthReport holds the held-out metrics (fractions in [0,1]).
type SynthReport struct {
	N           int     `json:"n"`
	ExactMatch  float64 `json:"exact_match"`
	ToolNameAcc float64 `json:"tool_name_accuracy"`
	CallF1      float64 `json:"call_f1"`
	ArgAcc      float64 `json:"argument_accuracy"`
	// ParseRate is the fraction of rows answered with arguments that parse; Errors counts
	// failed requests (no answer), which are neither parsed nor parse failures.
	ParseRate float64 `json:"parse_rate"`
	Errors    int     `json:"errors"`
	NoCallAcc float64 `json:"no_call_accuracy"`
	NoCallN   int     `json:"no_call_n"`
	// Values is copied-value accuracy when the tool is right.
	Values ValueAccuracy `json:"values"`
	Cost   Cost          `json:"cost"`
	// Retrieval ranks distinct tools (one per function); RetrievalByName ranks every tool
	// name the rows offered, where one function under several names counts as several tools
	// and only the asked name is a hit.
	// OfferedTop1 is how often the router's retrieval scored the first expected call's tool
	// highest among the tools the row offered (the tool prior's view), over OfferedTop1N rows
	// with a call expected and scores; compare ToolNameAcc, the decoder's.
	OfferedTop1     float64         `json:"offered_top1"`
	OfferedTop1N    int             `json:"offered_top1_n"`
	Retrieval       *Retrieval      `json:"retrieval,omitempty"`
	RetrievalByName *Retrieval      `json:"retrieval_by_name,omitempty"`
	Calibration     []CoveragePoint `json:"calibration"`
	// Threshold98 is the lowest confidence threshold whose local answers are at least 98%
	// exact; -1 when no threshold reaches it.
	Threshold98 float64 `json:"threshold_at_98_precision"`
	Coverage98  float64 `json:"coverage_at_98_precision"`
}

// ValueAccuracy: over the string argument values of rows whose tool names are right, the
// fraction the model got exactly right; Copy is the values that appear verbatim
// (case-insensitive) in the query, Rewrite the others (times, codes, normalised forms).
type ValueAccuracy struct {
	N               int     `json:"n"`
	Accuracy        float64 `json:"accuracy"`
	CopyN           int     `json:"copy_n"`
	CopyAccuracy    float64 `json:"copy_accuracy"`
	RewriteN        int     `json:"rewrite_n"`
	RewriteAccuracy float64 `json:"rewrite_accuracy"`
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

// ScoreSynthRow scores one row. A row without an answer (request error or parse failure) is
// neither exact nor name-right, and every expected call and argument counts as missed.
func ScoreSynthRow(it SynthItem) SynthRow {
	p := &it.Pred
	r := SynthRow{Query: it.Query, Expected: it.Want, Predicted: p.shown(), Confidence: p.Confidence,
		Error: p.errText(), OutputTokens: p.OutputTokens, RouteMs: p.Latency.Seconds() * 1000}
	if r.Expected == nil {
		r.Expected = []Call{}
	}
	r.TopTool, r.TopScore = p.TopTool, p.TopScore
	r.TopToolOK = p.TopTool != "" && len(it.Want) > 0 && it.Want[0].Name == p.TopTool
	c := &r.Counts
	c.Errored, c.Parsed = p.Err != nil, p.answered()
	var got []Call
	if c.Parsed {
		got = p.Calls
		r.Exact = callsEqual(it.Want, got)
		r.NameOK = len(it.Want) == len(got)
		for i := range it.Want {
			r.NameOK = r.NameOK && it.Want[i].Name == got[i].Name
		}
	}
	used := make([]bool, len(got))
	for _, w := range it.Want {
		hit := false
		for j, g := range got {
			if !used[j] && callEqual(w, g) {
				used[j], hit = true, true
				break
			}
		}
		if hit {
			c.TP++
		} else {
			c.FN++
		}
	}
	for j := range got {
		if !used[j] {
			c.FP++
		}
	}
	query := strings.ToLower(it.Query)
	for i, w := range it.Want {
		var g map[string]any
		if i < len(got) && got[i].Name == w.Name {
			g = got[i].Args
		}
		for k, v := range w.Args {
			gv, has := g[k]
			c.Args++
			if has && pyEqual(gv, v) {
				c.ArgsOK++
			}
			s, isStr := v.(string)
			if !isStr || !r.NameOK {
				continue
			}
			gs, _ := gv.(string)
			ok := has && gs == s
			if strings.Contains(query, strings.ToLower(s)) {
				c.Copy.add(ok)
			} else {
				c.Rewrite.add(ok)
			}
		}
	}
	return r
}

// ScoreSynth computes the held-out metrics and the calibration table from scored rows
// (Retrieval is left to the caller).
func ScoreSynth(rows []SynthRow) SynthReport {
	r := SynthReport{N: len(rows), Threshold98: -1}
	var exact, names, parsed, noCallOK, top1 int
	var tp, fp, fn, argOK, argN int
	var cp, rw Tally
	conf := make([]float64, len(rows))
	ok := make([]bool, len(rows))
	var tokens []int
	var ms []float64
	for i := range rows {
		row := &rows[i]
		c := &row.Counts
		if c.Parsed {
			parsed++
		}
		if c.Errored {
			r.Errors++
		}
		if row.Exact {
			exact++
		}
		if row.NameOK {
			names++
		}
		if len(row.Expected) == 0 {
			r.NoCallN++
			if c.Parsed && len(row.Predicted) == 0 {
				noCallOK++
			}
		}
		tp, fp, fn, argN, argOK = tp+c.TP, fp+c.FP, fn+c.FN, argN+c.Args, argOK+c.ArgsOK
		cp.N, cp.OK, rw.N, rw.OK = cp.N+c.Copy.N, cp.OK+c.Copy.OK, rw.N+c.Rewrite.N, rw.OK+c.Rewrite.OK
		conf[i], ok[i] = row.Confidence, row.Exact
		if row.TopTool != "" && len(row.Expected) > 0 {
			r.OfferedTop1N++
			if row.TopToolOK {
				top1++
			}
		}
		if !c.Errored {
			tokens, ms = append(tokens, row.OutputTokens), append(ms, row.RouteMs)
		}
	}
	n := float64(max(1, len(rows)))
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
	if r.OfferedTop1N > 0 {
		r.OfferedTop1 = float64(top1) / float64(r.OfferedTop1N)
	}
	all := Tally{N: cp.N + rw.N, OK: cp.OK + rw.OK}
	r.Values = ValueAccuracy{N: all.N, Accuracy: all.Rate(), CopyN: cp.N, CopyAccuracy: cp.Rate(), RewriteN: rw.N, RewriteAccuracy: rw.Rate()}
	r.Cost = costOf(tokens, ms)
	r.Calibration = CoverageCurve(conf, ok, []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0})
	r.Threshold98, r.Coverage98 = ThresholdForPrecision(conf, ok, 0.98)
	return r
}

type scored struct {
	c  float64
	ok bool
}

// byConfidence pairs confidences with correctness, most confident first.
func byConfidence(conf []float64, ok []bool) []scored {
	xs := make([]scored, len(conf))
	for i := range conf {
		xs[i] = scored{conf[i], ok[i]}
	}
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].c > xs[j].c })
	return xs
}

// CoverageCurve reports, for each coverage level, the precision of answering the most
// confident fraction of rows (rounded to whole rows; levels that round to none are left
// out) and the confidence of the last row answered.
func CoverageCurve(conf []float64, ok []bool, levels []float64) []CoveragePoint {
	xs := byConfidence(conf, ok)
	var pts []CoveragePoint
	for _, cov := range levels {
		k := min(int(cov*float64(len(xs))+0.5), len(xs))
		if k == 0 {
			continue
		}
		n := 0
		for _, x := range xs[:k] {
			if x.ok {
				n++
			}
		}
		pts = append(pts, CoveragePoint{Coverage: cov, Threshold: xs[k-1].c, Precision: float64(n) / float64(k)})
	}
	return pts
}

// ThresholdForPrecision is the lowest confidence threshold t such that the rows with
// confidence >= t are at least precision right, and the fraction of rows it answers; -1
// and 0 when no threshold reaches it. It cuts only between distinct confidences, so the
// threshold is realisable.
func ThresholdForPrecision(conf []float64, ok []bool, precision float64) (threshold, coverage float64) {
	return LowestThreshold(conf, ok, func(right, answered int) bool { return float64(right)/float64(answered) >= precision })
}

// LowestThreshold is the lowest confidence threshold t at which accept(right, answered)
// holds for the rows with confidence >= t (answered of them, right of those right), and the
// fraction of rows it answers; -1 and 0 when it holds at none. Rows of equal confidence
// are answered together, so the threshold is realisable.
func LowestThreshold(conf []float64, ok []bool, accept func(right, answered int) bool) (threshold, coverage float64) {
	xs := byConfidence(conf, ok)
	threshold = -1
	n := 0
	for i, x := range xs {
		if x.ok {
			n++
		}
		if (i+1 == len(xs) || xs[i+1].c < x.c) && accept(n, i+1) {
			threshold, coverage = x.c, float64(i+1)/float64(len(xs))
		}
	}
	return threshold, coverage
}

// WriteTable prints the synthetic report.
func (r *SynthReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "held-out rows %d\n", r.N)
	fmt.Fprintf(w, "  exact match        %6.1f%%\n  tool-name accuracy %6.1f%%\n  call F1            %6.1f%%\n  argument accuracy  %6.1f%%\n  parse rate         %6.1f%%\n  no-call accuracy   %6.1f%% (%d rows)\n",
		100*r.ExactMatch, 100*r.ToolNameAcc, 100*r.CallF1, 100*r.ArgAcc, 100*r.ParseRate, 100*r.NoCallAcc, r.NoCallN)
	fmt.Fprintf(w, "  request errors     %6d\n", r.Errors)
	if r.OfferedTop1N > 0 {
		fmt.Fprintf(w, "  retrieval's first choice among the offered tools is the first call's tool %.1f%% (%d rows)\n", 100*r.OfferedTop1, r.OfferedTop1N)
	}
	v := r.Values
	fmt.Fprintf(w, "  string values, tool right %5.1f%% (%d): copy %.1f%% (%d), rewrite %.1f%% (%d)\n",
		100*v.Accuracy, v.N, 100*v.CopyAccuracy, v.CopyN, 100*v.RewriteAccuracy, v.RewriteN)
	if r.Cost.Answered > 0 {
		fmt.Fprintf(w, "  mean output tokens %6.1f, route p50 %.1f ms, p90 %.1f ms\n", r.Cost.MeanOutputTokens, r.Cost.P50RouteMs, r.Cost.P90RouteMs)
	}
	for _, x := range []struct {
		what string
		r    *Retrieval
	}{{"distinct tools", r.Retrieval}, {"tool names (one function under several names)", r.RetrievalByName}} {
		if x.r == nil {
			continue
		}
		fmt.Fprintf(w, "retrieval over %d %s, %d queries:\n  contrastive head R@1 %.1f%%  R@5 %.1f%%  MRR %.3f\n  hybrid (+%.2f BM25) R@1 %.1f%%  R@5 %.1f%%  MRR %.3f\n",
			x.r.Catalogue, x.what, x.r.Queries, 100*x.r.Recall1, 100*x.r.Recall5, x.r.MRR,
			x.r.LexicalWeight, 100*x.r.HybridRecall1, 100*x.r.HybridRecall5, x.r.HybridMRR)
		for _, p := range x.r.Sweep {
			fmt.Fprintf(w, "  hybrid (+%.2f BM25) R@1 %.1f%%  R@5 %.1f%%  MRR %.3f\n", p.LexicalWeight, 100*p.Recall1, 100*p.Recall5, p.MRR)
		}
	}
	fmt.Fprintf(w, "risk-coverage (answer the most confident fraction):\n  coverage threshold precision\n")
	for _, p := range r.Calibration {
		fmt.Fprintf(w, "  %7.0f%% %9.3f %8.1f%%\n", 100*p.Coverage, p.Threshold, 100*p.Precision)
	}
	if r.Threshold98 >= 0 {
		fmt.Fprintf(w, "threshold for >=98%% local precision: %.5f (covers %.1f%%)\n", r.Threshold98, 100*r.Coverage98)
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
