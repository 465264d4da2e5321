package decode

import (
	"encoding/json"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

func TestDropUnsaid(t *testing.T) {
	alarm := toolspec.Tool{Name: "alarm_set", Params: []toolspec.Param{
		{Name: "time", Type: "string"},
		{Name: "date", Type: "string"},
		{Name: "label", Type: "string", Required: true},
		{Name: "tone", Type: "string", Enum: []any{"beep", "chime"}},
		{Name: "day", Type: "string", Format: "date"},
		{Name: "minutes", Type: "integer"},
		{Name: "volume", Type: "string", Enum: []any{"quiet", "very loud"}},
		{Name: "source", Type: "string", Enum: []any{"historical records", "legend"}},
		{Name: "unit", Type: "string", Required: true, Enum: []any{"celsius", "fahrenheit"}},
		{Name: "snooze", Type: "integer", Enum: []any{json.Number("5"), json.Number("10")}},
	}}
	tools := []Tool{{Spec: &alarm}}
	for _, tc := range []struct {
		name, transcript, args, want string
	}{
		{"said values stay", "wake me at five am tomorrow", `{"time": "five am", "date": "tomorrow"}`, `{"time": "five am", "date": "tomorrow"}`},
		{"an unsaid optional value goes", "wake me at five am", `{"time": "five am", "date": "today"}`, `{"time": "five am"}`},
		{"rewritten time is not said", "wake me at five am", `{"time": "05:00"}`, `{}`},
		{"case and punctuation do not matter", "Wake me at Five-AM, please", `{"time": "five am"}`, `{"time": "five am"}`},
		{"a part of a word is not said", "set alarms", `{"date": "arm"}`, `{}`},
		{"required, format and numbers keep the model's value", "wake me up", `{"label": "work", "day": "2026-01-01", "minutes": 5}`,
			`{"label": "work", "day": "2026-01-01", "minutes": 5}`},
		{"an unsaid choice goes", "wake me up", `{"label": "work", "tone": "chime"}`, `{"label": "work"}`},
		{"a said choice stays", "wake me up with a Chime", `{"tone": "chime"}`, `{"tone": "chime"}`},
		{"a choice said in the plural stays", "wake me with chimes", `{"tone": "chime"}`, `{"tone": "chime"}`},
		{"every word of a choice must be said", "play it loud", `{"volume": "very loud"}`, `{}`},
		{"a choice of several words said apart stays", "historical record sources", `{"source": "historical records"}`, `{"source": "historical records"}`},
		{"a required choice stays unsaid", "how warm is it", `{"unit": "celsius"}`, `{"unit": "celsius"}`},
		{"an enum of numbers keeps the model's value", "wake me up", `{"snooze": 5}`, `{"snooze": 5}`},
		{"an empty value is not said", "wake me up", `{"date": ""}`, `{}`},
		{"unknown keys stay", "wake me up", `{"other": "x"}`, `{"other": "x"}`},
	} {
		calls := []toolspec.Call{{Name: "alarm_set", Arguments: json.RawMessage(tc.args)}}
		got, changed := dropUnsaid(calls, tools, tc.transcript, false)
		if string(got[0].Arguments) != tc.want || changed != (tc.args != tc.want) {
			t.Errorf("%s: got %s (changed %v), want %s", tc.name, got[0].Arguments, changed, tc.want)
		}
	}
	// "choices" keeps unsaid enum values, as before the rule covered them.
	calls := []toolspec.Call{{Name: "alarm_set", Arguments: json.RawMessage(`{"tone": "chime", "date": "today"}`)}}
	if got, _ := dropUnsaid(calls, tools, "wake me up", true); string(got[0].Arguments) != `{"tone": "chime"}` {
		t.Errorf("keepChoices: got %s", got[0].Arguments)
	}
	// A tool without its Spec, or a call naming another tool, is left alone.
	calls = []toolspec.Call{{Name: "other", Arguments: json.RawMessage(`{"date": "x"}`)}}
	if got, changed := dropUnsaid(calls, []Tool{{}}, "hi", false); changed || string(got[0].Arguments) != `{"date": "x"}` {
		t.Errorf("got %s", got[0].Arguments)
	}
	if got := rawCalls([]toolspec.Call{{Name: "a", Arguments: json.RawMessage(`{}`)}, {Name: "b", Arguments: json.RawMessage(`{"x": 1}`)}}); got != `[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]` {
		t.Errorf("rawCalls %s", got)
	}
}

func TestParseGroundingUnsaid(t *testing.T) {
	g, err := ParseGrounding("bonus:2,unsaid")
	if err != nil || !g.KeepUnsaid || g.Mode != GroundBonus {
		t.Errorf("bonus:2,unsaid: %+v %v", g, err)
	}
	if DefaultGrounding.KeepUnsaid {
		t.Error("the default keeps unsaid arguments")
	}
	if g, err := ParseGrounding("bonus:2,choices"); err != nil || !g.KeepUnsaidChoices || g.KeepUnsaid {
		t.Errorf("bonus:2,choices: %+v %v", g, err)
	}
	if DefaultGrounding.KeepUnsaidChoices {
		t.Error("the default keeps unsaid choices")
	}
	if _, err := ParseGrounding("bonus,unsaid,unsaid"); err == nil {
		t.Error("a repeated option was accepted")
	}
}
