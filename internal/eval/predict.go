package eval

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/needle-router/needle/internal/toolspec"
)

// Prediction is what a model answered for one item, and what the answer cost.
type Prediction struct {
	Calls []Call
	// Err is a failed request (the router's Route returned an error, or a predictions file
	// lacks the item): there is no answer. It is counted as an error, never as a parse
	// failure.
	Err error
	// ParseErr: the model answered, but a call's arguments are not a JSON object.
	ParseErr     error
	Confidence   float64
	OutputTokens int
	Latency      time.Duration // wall time of the request
	// TopTool is the offered tool the router's retrieval scored highest ("" when it did not
	// score them: the tool prior off and no more tools than top-k).
	TopTool  string
	TopScore float32 // its score
	// Retrieved names the tools the decoder read (nil: not known, e.g. a predictions file).
	Retrieved []string
}

// answered reports whether the prediction has calls to score (possibly none).
func (p *Prediction) answered() bool { return p.Err == nil && p.ParseErr == nil }

// shown is the prediction as per-item output shows it: nil (JSON null) without an answer,
// an empty list for an answer with no call.
func (p *Prediction) shown() []Call {
	if !p.answered() {
		return nil
	}
	if p.Calls == nil {
		return []Call{}
	}
	return p.Calls
}

// errText is the per-item "error" field: the request's error, or the parse failure.
func (p *Prediction) errText() string {
	switch {
	case p.Err != nil:
		return p.Err.Error()
	case p.ParseErr != nil:
		return "did not parse: " + p.ParseErr.Error()
	}
	return ""
}

// FromToolCalls converts the router's calls, decoding each call's arguments (numbers kept
// as json.Number). An argument text that is not a JSON object is a parse failure.
func FromToolCalls(cs []toolspec.Call) ([]Call, error) {
	out := make([]Call, 0, len(cs))
	for _, c := range cs {
		v, err := Decode(c.Arguments)
		if err != nil {
			return nil, fmt.Errorf("call %q: %w", c.Name, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("call %q: arguments are %s, not an object", c.Name, pyType(v))
		}
		out = append(out, Call{Name: c.Name, Args: m})
	}
	return out, nil
}

// Cost summarises what answered requests cost. Requests that failed (Prediction.Err) are
// left out: they often fail before the model runs. A parse failure is an answer and counts.
type Cost struct {
	Answered         int     `json:"answered"`
	MeanOutputTokens float64 `json:"mean_output_tokens"`
	P50RouteMs       float64 `json:"p50_route_ms"`
	P90RouteMs       float64 `json:"p90_route_ms"`
}

// costOf computes Cost from the answered requests' output tokens and route times.
func costOf(tokens []int, ms []float64) Cost {
	c := Cost{Answered: len(tokens)}
	if c.Answered == 0 {
		return c
	}
	t := 0
	for _, n := range tokens {
		t += n
	}
	c.MeanOutputTokens = float64(t) / float64(c.Answered)
	ms = slices.Clone(ms)
	slices.Sort(ms)
	c.P50RouteMs, c.P90RouteMs = Quantile(ms, 0.5), Quantile(ms, 0.9)
	return c
}

// Quantile is the nearest-rank q-quantile of sorted xs (0 for none): the smallest x with at
// least q of the values at or below it.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
