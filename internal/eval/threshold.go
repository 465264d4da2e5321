package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Scored is what threshold selection reads of one per-item line (`needle eval synth
// --per-item`, or `needle eval bfcl --per-item`, whose verdict "pass" is exact): the
// answer's confidence and whether it was exactly right.
type Scored struct {
	Confidence float64 `json:"confidence"`
	Exact      bool    `json:"exact"`
	Verdict    Verdict `json:"verdict"`
}

// ReadScored reads per-item JSONL lines; a line that is not JSON is an error naming it.
func ReadScored(r io.Reader) ([]Scored, error) {
	var out []Scored
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		var s Scored
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if s.Verdict != "" {
			s.Exact = s.Verdict == Pass
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// ChooseThreshold is the lowest confidence threshold at which the answered rows (confidence
// >= threshold) are at least precision exact, and the share of rows it answers
// (ThresholdForPrecision); -1 and 0 when none reaches it. It is how the router's default
// threshold is chosen, on validation seeds other than the report's.
func ChooseThreshold(rows []Scored, precision float64) (threshold, coverage float64) {
	return ChooseThresholdBy(rows, func(right, answered int) bool { return float64(right)/float64(answered) >= precision })
}

// ChooseThresholdBy is LowestThreshold over per-item rows: the lowest threshold whose
// answered rows pass accept(exact, answered).
func ChooseThresholdBy(rows []Scored, accept func(right, answered int) bool) (threshold, coverage float64) {
	conf := make([]float64, len(rows))
	ok := make([]bool, len(rows))
	for i, r := range rows {
		conf[i], ok[i] = r.Confidence, r.Exact
	}
	return LowestThreshold(conf, ok, accept)
}

// AtThreshold is what a threshold gives on rows: the share answered and the share of those
// exact (NaN when none is answered), and how many were answered.
func AtThreshold(rows []Scored, threshold float64) (coverage, precision float64, answered int) {
	exact := 0
	for _, r := range rows {
		if r.Confidence >= threshold {
			answered++
			if r.Exact {
				exact++
			}
		}
	}
	precision = math.NaN()
	if answered > 0 {
		precision = float64(exact) / float64(answered)
	}
	if len(rows) > 0 {
		coverage = float64(answered) / float64(len(rows))
	}
	return coverage, precision, answered
}

// ReadScoredFiles reads the per-item files of a comma-separated list as one set of rows.
func ReadScoredFiles(list string) ([]Scored, error) {
	var rows []Scored
	for _, name := range strings.Split(list, ",") {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		r, err := ReadScored(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// WriteThreshold is `needle eval threshold`: it chooses the lowest threshold at which the
// validation files' answered rows (val, a comma-separated list, read together) reach
// precision exact, and writes it, its coverage, and what it gives on each test file.
func WriteThreshold(w io.Writer, precision float64, val string, tests []string) error {
	rows, err := ReadScoredFiles(val)
	if err != nil {
		return err
	}
	thr, cov := ChooseThreshold(rows, precision)
	if thr < 0 {
		fmt.Fprintf(w, "validation (%d rows): no threshold reaches %.0f%% exact\n", len(rows), 100*precision)
		return nil
	}
	fmt.Fprintf(w, "validation (%d rows): threshold %v covers %.1f%%\n", len(rows), thr, 100*cov)
	for _, name := range tests {
		rows, err := ReadScoredFiles(name)
		if err != nil {
			return err
		}
		c, p, n := AtThreshold(rows, thr)
		fmt.Fprintf(w, "%s: at %v: coverage %.1f%%, precision %.1f%% (%d of %d)\n", name, thr, 100*c, 100*p, n, len(rows))
	}
	return nil
}
