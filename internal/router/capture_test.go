package router

import (
	"context"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

type recorded struct {
	query string
	tools []toolspec.Tool
	calls []toolspec.Call
}

type fakeCapture struct{ rows []recorded }

func (f *fakeCapture) Record(q string, tools []toolspec.Tool, calls []toolspec.Call) error {
	f.rows = append(f.rows, recorded{q, tools, calls})
	return nil
}

// TestCaptureOnlyValidatedSingleTurnEscalations: the flywheel sees what the cloud answered
// (after the schema check) for single-turn requests, and nothing else.
func TestCaptureOnlyValidatedSingleTurnEscalations(t *testing.T) {
	run := func(cloudStatus int, body string, conf float64, history ...Turn) *fakeCapture {
		t.Helper()
		fc := &fakeCapture{}
		_, url := newCloud(t, cloudStatus, body)
		p := pipeline(t, answer(conf, timerCall), url, func(c *Config) { c.Capture = fc })
		if _, err := p.Route(context.Background(), Input{Transcript: "timer for seven minutes", ToolsJSON: tools, History: history}); err != nil {
			t.Fatal(err)
		}
		return fc
	}
	fc := run(200, timerAnswer, 0.1) // low confidence: escalated, the cloud calls set_timer
	if len(fc.rows) != 1 || fc.rows[0].query != "timer for seven minutes" || len(fc.rows[0].tools) != 1 ||
		len(fc.rows[0].calls) != 1 || fc.rows[0].calls[0].Name != "set_timer" || string(fc.rows[0].calls[0].Arguments) != `{"minutes":7}` {
		t.Fatalf("escalated: %+v", fc.rows)
	}
	if fc := run(200, timerAnswer, 0.9); len(fc.rows) != 0 {
		t.Errorf("local answer captured: %+v", fc.rows)
	}
	if fc := run(400, `{"error":{"message":"bad"}}`, 0.1); len(fc.rows) != 0 {
		t.Errorf("failed escalation captured: %+v", fc.rows)
	}
	if fc := run(200, strings.Replace(timerAnswer, "set_timer", "launch_rocket", 1), 0.1); len(fc.rows) != 0 {
		t.Errorf("cloud call to an unoffered tool captured: %+v", fc.rows)
	}
	if fc := run(200, timerAnswer, 0.1, Turn{Role: "user", Content: "hi"}); len(fc.rows) != 0 {
		t.Errorf("multi-turn captured: %+v", fc.rows)
	}
}
