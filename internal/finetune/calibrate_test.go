package finetune

import (
	"math"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/eval"
)

func scored(n int, exact func(i int) bool) []eval.Item {
	out := make([]eval.Item, n)
	for i := range out {
		out[i] = eval.Item{Confidence: float64(i+1) / float64(n+1), Verdict: eval.Fail}
		if exact(i) {
			out[i].Verdict = eval.Pass
		}
	}
	return out
}

func TestCalibrate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		items     []eval.Item
		chosen    bool
		why       string // substring
		checkPrec float64
	}{
		{"too few", scored(39, func(int) bool { return true }), false, "39 held-out examples", 0},
		// Exact above confidence 0.5, wrong below: a threshold near 0.5 answers the upper half,
		// all right, on the check half too.
		{"separable", scored(80, func(i int) bool { return i >= 40 }), true, "", 1},
		{"never right", scored(60, func(int) bool { return false }), false, "no threshold makes", 0},
		// Only the top 3 are right: 100% on three answers is too few to trust.
		{"too few answered", scored(60, func(i int) bool { return i >= 57 }), false, "Wilson", 0},
	} {
		c := Calibrate(tc.items, 0.999, 0.95, 40, 1)
		if (c.Threshold > 0) != tc.chosen || !strings.Contains(c.Why, tc.why) {
			t.Errorf("%s: %+v", tc.name, c)
			continue
		}
		if !tc.chosen {
			continue
		}
		if c.ChooseItems+c.CheckItems != len(tc.items) || c.LocalPrecision != tc.checkPrec || c.Local < 0.3 || c.Local > 0.7 {
			t.Errorf("%s: %+v", tc.name, c)
		}
		// The default threshold (0.999) answers nothing here.
		if c.DefaultLocal != 0 || c.DefaultLocalPr != 0 {
			t.Errorf("%s: at the default %+v", tc.name, c)
		}
		if again := Calibrate(tc.items, 0.999, 0.95, 40, 1); again != c {
			t.Errorf("%s: not deterministic for a seed", tc.name)
		}
	}
}

func TestWilsonMargin(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		want float64 // to 3 decimals
	}{{20, 20, 0.952}, {10, 10, 0.909}, {39, 40, 0.936}, {0, 0, 0}, {95, 100, 0.923}} {
		if got := wilsonLower(tc.k, tc.n, 1); math.Abs(got-tc.want) > 0.0005 {
			t.Errorf("wilsonLower(%d, %d) = %.4f, want %.3f", tc.k, tc.n, got, tc.want)
		}
	}
	rows := func(conf []float64, ok []bool) []eval.Scored {
		var out []eval.Scored
		for i := range conf {
			out = append(out, eval.Scored{Confidence: conf[i], Exact: ok[i]})
		}
		return out
	}
	// 25 right answers above 0.8, then a wrong one at 0.7, then right ones: the threshold
	// stops above the error while the bound fails, and ties are answered together.
	var conf []float64
	var ok []bool
	for i := range 25 {
		conf, ok = append(conf, 0.99-float64(i)*0.005), append(ok, true)
	}
	conf, ok = append(conf, 0.7, 0.7), append(ok, false, true)
	if got := thresholdWithMargin(rows(conf, ok), 0.95, 1); got != conf[24] {
		t.Errorf("threshold %v, want %v", got, conf[24])
	}
	if got := thresholdWithMargin(rows(conf[:5], ok[:5]), 0.95, 1); got != -1 {
		t.Errorf("five answers: threshold %v, want -1", got)
	}
}
