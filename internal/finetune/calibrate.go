package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/needle-router/needle/internal/eval"
)

// Calibration defaults: the precision the router's default threshold was chosen for, and
// the fewest held-out examples worth splitting (half choose, half check).
const (
	CalibrationPrecision = 0.95
	MinCalibrationItems  = 40
	// marginZ is the margin for the sample's size: the chosen threshold's answers must be
	// precision exact at the Wilson lower bound with z = 1 (one-sided about 84%), not only
	// on average. With no errors that takes at least 19 answers at 95%.
	marginZ = 1.0
)

// Calibration is a confidence threshold chosen for a fine-tuned model on one half of its
// held-out examples and checked on the other: a general threshold (the router's default) is
// chosen on a general model's answers over many tools, and a model fine-tuned on a few tools
// is confident on another scale.
type Calibration struct {
	// Threshold is the chosen threshold; 0 when none was chosen (Why says why).
	Threshold float64 `json:"threshold"`
	Why       string  `json:"why,omitempty"`
	// Precision is the exact-call share the threshold was chosen for on the first half.
	Precision float64 `json:"precision_target"`
	// ChooseItems and CheckItems are the halves' sizes.
	ChooseItems int `json:"choose_items"`
	CheckItems  int `json:"check_items"`
	// On the check half: the share answered locally at Threshold and the exact share of
	// those, then the same at the router's default threshold.
	Local          float64 `json:"local"`
	LocalPrecision float64 `json:"local_precision"`
	DefaultLocal   float64 `json:"default_local"`
	DefaultLocalPr float64 `json:"default_local_precision"`
}

// Calibrate splits the fine-tuned model's held-out items in two halves (drawn from seed),
// chooses on the first the lowest threshold whose answers are at least precision exact with
// a margin for their number (thresholdWithMargin), and reports it and the default threshold
// on the second. With fewer than minItems items nothing is chosen.
func Calibrate(items []eval.Item, defaultThreshold, precision float64, minItems int, seed uint64) Calibration {
	c := Calibration{Precision: precision}
	if len(items) < minItems {
		c.Why = fmt.Sprintf("%d held-out examples, and calibrating takes %d (half to choose, half to check)", len(items), minItems)
		return c
	}
	idx := rand.New(rand.NewPCG(seed, 0xca11b8a7e)).Perm(len(items))
	choose, check := idx[:len(idx)/2], idx[len(idx)/2:]
	c.ChooseItems, c.CheckItems = len(choose), len(check)
	rows := func(ix []int) []eval.Scored {
		out := make([]eval.Scored, len(ix))
		for i, k := range ix {
			out[i] = eval.Scored{Confidence: items[k].Confidence, Exact: items[k].Verdict == eval.Pass}
		}
		return out
	}
	chooseRows, checkRows := rows(choose), rows(check)
	c.DefaultLocal, c.DefaultLocalPr, _ = atThreshold(checkRows, defaultThreshold)
	t := thresholdWithMargin(chooseRows, precision, marginZ)
	if t <= 0 {
		c.Why = fmt.Sprintf("on the first half of the held-out examples no threshold makes the local answers %.0f%% exact with a margin for their number (Wilson lower bound, z = %.0f)", 100*precision, marginZ)
		return c
	}
	c.Threshold = t
	c.Local, c.LocalPrecision, _ = atThreshold(checkRows, t)
	return c
}

// atThreshold is eval.AtThreshold with 0 (not NaN) precision when nothing is answered, for JSON.
func atThreshold(rows []eval.Scored, t float64) (coverage, precision float64, n int) {
	coverage, precision, n = eval.AtThreshold(rows, t)
	if n == 0 {
		precision = 0
	}
	return coverage, precision, n
}

// thresholdWithMargin is the lowest confidence threshold at which the answered rows
// (confidence >= threshold) are at least precision exact at the Wilson score lower bound
// with z; -1 when none is.
func thresholdWithMargin(rows []eval.Scored, precision, z float64) float64 {
	t, _ := eval.ChooseThresholdBy(rows, func(right, answered int) bool { return wilsonLower(right, answered, z) >= precision })
	return t
}

// wilsonLower is the Wilson score interval's lower bound for k successes in n trials.
func wilsonLower(k, n int, z float64) float64 {
	if n == 0 {
		return 0
	}
	p, nf := float64(k)/float64(n), float64(n)
	d := 1 + z*z/nf
	return (p + z*z/(2*nf) - z*math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))) / d
}
