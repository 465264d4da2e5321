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
