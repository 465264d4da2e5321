package eval

import (
	"math"
	"strings"
	"testing"
)

// The threshold is the lowest confidence at which the answered rows reach the precision,
// cut only between distinct confidences (a tie cannot be split by a threshold).
func TestChooseThreshold(t *testing.T) {
	rows := func(s string) []Scored {
		r, err := ReadScored(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name, in string
		prec     float64
		thr, cov float64
	}{
		{"all right", `{"confidence":0.9,"exact":true}
{"confidence":0.5,"exact":true}`, 0.98, 0.5, 1},
		{"the low one wrong", `{"confidence":0.9,"exact":true}
{"confidence":0.8,"exact":true}
{"confidence":0.5,"exact":false}`, 0.98, 0.8, 2.0 / 3},
		{"a tie holds a wrong one", `{"confidence":0.9,"exact":true}
{"confidence":0.7,"exact":true}
{"confidence":0.7,"exact":false}`, 0.98, 0.9, 1.0 / 3},
		{"none reaches it", `{"confidence":0.9,"exact":false}`, 0.98, -1, 0},
		{"eval bfcl lines: verdict pass is exact", `{"confidence":0.9,"verdict":"pass"}
{"confidence":0.8,"verdict":"fail"}
{"confidence":0.7,"verdict":"error"}`, 0.98, 0.9, 1.0 / 3},
		{"a lower bar", `{"confidence":0.9,"exact":true}
{"confidence":0.8,"exact":false}
{"confidence":0.7,"exact":true}
{"confidence":0.6,"exact":true}`, 0.75, 0.6, 1},
	} {
		thr, cov := ChooseThreshold(rows(tc.in), tc.prec)
		if thr != tc.thr || math.Abs(cov-tc.cov) > 1e-12 {
			t.Errorf("%s: threshold %v coverage %v, want %v %v", tc.name, thr, cov, tc.thr, tc.cov)
		}
	}
	cov, prec, n := AtThreshold(rows(`{"confidence":0.9,"exact":true}
{"confidence":0.8,"exact":false}
{"confidence":0.1,"exact":true}`), 0.8)
	if n != 2 || math.Abs(cov-2.0/3) > 1e-12 || prec != 0.5 {
		t.Errorf("at 0.8: coverage %v precision %v answered %d", cov, prec, n)
	}
	if _, err := ReadScored(strings.NewReader("{\"confidence\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}
