package decode

import (
	"encoding/json"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

func TestBareUnexplained(t *testing.T) {
	email := toolspec.Tool{Name: "email_sendemail", Description: "Write and send an email.", Params: []toolspec.Param{
		{Name: "person", Type: "string", Description: "A person's name, as spoken."}}}
	joke := toolspec.Tool{Name: "general_joke", Description: "Tell a joke.", Params: []toolspec.Param{
		{Name: "joke_type", Type: "string", Description: "Kind of joke, as spoken."}}}
	lights := toolspec.Tool{Name: "iot_hue_lightoff", Description: "Turn the lights off."}
	tools := []Tool{{Spec: &email}, {Spec: &joke}, {Spec: &lights}}
	call := func(name, args string) toolspec.Call {
		return toolspec.Call{Name: name, Arguments: json.RawMessage(args)}
	}
	for _, tc := range []struct {
		name       string
		transcript string
		calls      []toolspec.Call
		want       bool
	}{
		{"a name the call leaves out", "can you send an email to chelsea please", []toolspec.Call{call("email_sendemail", `{}`)}, true},
		{"the same name given", "can you send an email to chelsea please", []toolspec.Call{call("email_sendemail", `{"person": "chelsea"}`)}, false},
		{"a kind of joke left out", "tell me a joke about birds", []toolspec.Call{call("general_joke", `{}`)}, true},
		{"nothing beyond the tool's job", "hey tell me a joke please", []toolspec.Call{call("general_joke", `{}`)}, false},
		{"plurals and stems match the description", "tell me some jokes", []toolspec.Call{call("general_joke", `{}`)}, false},
		{"a number is a content word", "send email 5", []toolspec.Call{call("email_sendemail", `{}`)}, true},
		{"a tool without parameters is never bare", "turn off the kitchen lights", []toolspec.Call{call("iot_hue_lightoff", `{}`)}, false},
		{"another call's value explains the word", "turn off the lights and email chelsea", []toolspec.Call{call("iot_hue_lightoff", `{}`), call("email_sendemail", `{"person": "chelsea"}`)}, false},
		{"another call's bare tool still counts", "email chelsea and tell me a joke", []toolspec.Call{call("email_sendemail", `{}`), call("general_joke", `{}`)}, true},
		{"a value of another call explains the bare call's words", "tell me a joke and email chelsea", []toolspec.Call{call("general_joke", `{}`), call("email_sendemail", `{"person": "chelsea"}`)}, false},
		{"the same two calls without the value", "tell me a joke and email chelsea", []toolspec.Call{call("general_joke", `{}`), call("email_sendemail", `{}`)}, true},
		{"an escaped value explains the word it spells", "tell me a joke and email chloé", []toolspec.Call{call("general_joke", `{}`), call("email_sendemail", `{"person": "Chlo\u00e9"}`)}, false},
		{"content words among contractions still count", "um I'd like a joke, I'm bored", []toolspec.Call{call("general_joke", `{}`)}, true},
		{"pieces of contractions are not content", "uh I'd like you’ll tell a joke, I'm ok", []toolspec.Call{call("general_joke", `{}`)}, false},
		{"no call", "send an email to chelsea", nil, false},
		{"a tool without its spec", "send an email to chelsea", []toolspec.Call{call("other", `{}`)}, false},
	} {
		if got := bareUnexplained(tc.calls, tools, tc.transcript); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// checkValues scales a bare call's confidence below any useful threshold and keeps its
// calls; "bare" leaves it alone.
func TestCheckValuesScalesBareCalls(t *testing.T) {
	email := toolspec.Tool{Name: "email_sendemail", Description: "Write and send an email.", Params: []toolspec.Param{{Name: "person", Type: "string"}}}
	tools := []Tool{{Spec: &email}}
	for _, tc := range []struct {
		ground string
		want   float64
	}{{"default", scaled(0.99999)}, {"bonus:2,bare", 0.99999}} {
		g, err := ParseGrounding(tc.ground)
		if err != nil {
			t.Fatal(err)
		}
		res := &Result{Confidence: 0.99999, Calls: []toolspec.Call{{Name: "email_sendemail", Arguments: json.RawMessage(`{}`)}}}
		checkValues(res, tools, "send an email to chelsea", g)
		if res.Confidence != tc.want || len(res.Calls) != 1 {
			t.Errorf("%s: confidence %v, calls %d; want %v, 1", tc.ground, res.Confidence, len(res.Calls), tc.want)
		}
	}
}

// scaled computes c * bareScale at run time, as checkValues does (a constant expression
// would be folded exactly).
func scaled(c float64) float64 { s := bareScale; return c * s }
