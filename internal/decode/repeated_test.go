package decode

import (
	"encoding/json"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

func TestRepeatedValue(t *testing.T) {
	trip := toolspec.Tool{Name: "find_connection", Params: []toolspec.Param{
		{Name: "from", Type: "string"},
		{Name: "to", Type: "string"},
		{Name: "mode", Type: "string", Enum: []any{"bus", "train"}},
		{Name: "via", Type: "string", Enum: []any{"bus", "train"}},
		{Name: "day", Type: "string", Format: "date"},
		{Name: "on", Type: "string", Format: "date"},
		{Name: "stops", Type: "integer"},
		{Name: "changes", Type: "integer"},
		{Name: "note", Types: []string{"string", "null"}},
	}}
	tools := []Tool{{Spec: &trip}}
	for _, tc := range []struct {
		name, args string
		want       bool
	}{
		{"two places", `{"from": "garching", "to": "pasing"}`, false},
		{"from is to", `{"from": "garching forschungszentrum", "to": "garching forschungszentrum"}`, true},
		{"case and punctuation do not matter", `{"from": "Garching!", "to": "garching"}`, true},
		{"one word of the other is not the same value", `{"from": "garching", "to": "garching forschungszentrum"}`, false},
		{"closed choices may agree", `{"mode": "bus", "via": "bus"}`, false},
		{"formatted values may agree", `{"day": "2026-01-01", "on": "2026-01-01"}`, false},
		{"numbers may agree", `{"stops": 2, "changes": 2}`, false},
		{"empty values are not values", `{"from": "", "to": ""}`, false},
		{"unknown keys are not checked", `{"x": "a", "y": "a"}`, false},
		{"a nullable string is a free string", `{"from": "pasing", "note": "Pasing"}`, true},
	} {
		calls := []toolspec.Call{{Name: "find_connection", Arguments: json.RawMessage(tc.args)}}
		if got := repeatedValue(calls, tools); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// Across calls values may repeat ("from garching, then from garching again tomorrow").
	calls := []toolspec.Call{{Name: "find_connection", Arguments: json.RawMessage(`{"from": "garching"}`)}, {Name: "find_connection", Arguments: json.RawMessage(`{"from": "garching"}`)}}
	if repeatedValue(calls, tools) {
		t.Error("a value repeated across calls is not a mix-up within one")
	}
	if repeatedValue([]toolspec.Call{{Name: "other", Arguments: json.RawMessage(`{"a": "x", "b": "x"}`)}}, tools) {
		t.Error("a call of a tool without a spec is not checked")
	}
}

// The finished answer: an unsaid optional value is dropped first, then a repeated value
// zeroes the confidence and a bare call leaving words unexplained scales it; the calls stay.
func TestCheckValues(t *testing.T) {
	trip := toolspec.Tool{Name: "trip", Params: []toolspec.Param{{Name: "from", Type: "string"}, {Name: "to", Type: "string"}}}
	tools := []Tool{{Spec: &trip}}
	for _, tc := range []struct {
		name, query, args, wantArgs string
		gr                          Grounding
		wantConf                    float64
	}{
		{"two places", "from pasing to garching", `{"from": "pasing", "to": "garching"}`, `{"from": "pasing", "to": "garching"}`, DefaultGrounding, 0.9},
		{"a repeated value", "from pasing to garching", `{"from": "pasing", "to": "pasing"}`, `{"from": "pasing", "to": "pasing"}`, DefaultGrounding, 0},
		// The bare call left leaves "garching" unexplained (bare.go).
		{"unsaid values are dropped before the check", "to garching", `{"from": "pasing", "to": "pasing"}`, `{}`, DefaultGrounding, scaled(0.9)},
		{"kept unsaid values still repeat", "to garching", `{"from": "pasing", "to": "pasing"}`, `{"from": "pasing", "to": "pasing"}`, Grounding{Mode: GroundBonus, Bonus: 2, KeepUnsaid: true, set: true}, 0},
	} {
		res := &Result{Calls: []toolspec.Call{{Name: "trip", Arguments: json.RawMessage(tc.args)}}, Confidence: 0.9}
		checkValues(res, tools, tc.query, tc.gr)
		if string(res.Calls[0].Arguments) != tc.wantArgs || res.Confidence != tc.wantConf {
			t.Errorf("%s: %s confidence %v, want %s and %v", tc.name, res.Calls[0].Arguments, res.Confidence, tc.wantArgs, tc.wantConf)
		}
	}
}

func TestStutteredValue(t *testing.T) {
	music := toolspec.Tool{Name: "play_music", Params: []toolspec.Param{{Name: "query", Type: "string", Required: true},
		{Name: "mood", Type: "string", Enum: []any{"calm calm", "happy"}}, {Name: "date", Type: "string"}}}
	tools := []Tool{{Spec: &music}}
	for _, tc := range []struct {
		name, transcript, args string
		want                   bool
	}{
		{"a word stuck", "um I'd like to hear some music", `{"query": "some some some"}`, true},
		{"case and punctuation do not hide it", "play was it you", `{"query": "Was, was it"}`, true},
		{"said twice in a row", "play bora bora by the band", `{"query": "bora bora"}`, false},
		{"the same word apart", "play the best of the best", `{"query": "the best of the best"}`, false},
		{"digits are left alone", "on the first of january", `{"date": "2021-01-01"}`, false},
		{"enums are the schema's", "play something", `{"query": "something", "mood": "calm calm"}`, false},
		{"no repeat", "play some jazz", `{"query": "jazz"}`, false},
	} {
		calls := []toolspec.Call{{Name: "play_music", Arguments: json.RawMessage(tc.args)}}
		if got := stutteredValue(calls, tools, tc.transcript); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	res := &Result{Calls: []toolspec.Call{{Name: "play_music", Arguments: json.RawMessage(`{"query": "some some some"}`)}}, Confidence: 0.955}
	checkValues(res, tools, "um I'd like to hear some music", DefaultGrounding)
	if res.Confidence != 0 || len(res.Calls) != 1 {
		t.Errorf("a stuttered value: confidence %v, %d calls; want 0 and the call kept", res.Confidence, len(res.Calls))
	}
}
