package router

import (
	"context"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/registry"
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
// (after escalate validated it) for single-turn requests, and nothing else.
func TestCaptureOnlyValidatedSingleTurnEscalations(t *testing.T) {
	reg, err := registry.Open(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	run := func(cloudStatus int, conf float64, history ...escalate.Message) *fakeCapture {
		fc := &fakeCapture{}
		cloud := escalate.New(escalate.Config{BaseURL: cloudServer(t, cloudStatus), MaxRetries: -1, Timeout: time.Second})
		p := New(Config{Threshold: 0.5, Capture: fc}, &fakeModel{RouteF: answer(conf, weatherCall)}, cloud, reg)
		if _, err := p.Route(context.Background(), Input{Transcript: "timer for five minutes", ToolsJSON: toolsJSON, History: history}); err != nil {
			t.Fatal(err)
		}
		return fc
	}
	fc := run(200, 0.1) // low confidence: escalated, the cloud calls set_timer
	if len(fc.rows) != 1 || fc.rows[0].query != "timer for five minutes" || len(fc.rows[0].tools) != 2 ||
		len(fc.rows[0].calls) != 1 || fc.rows[0].calls[0].Name != "set_timer" {
		t.Fatalf("escalated: %+v", fc.rows)
	}
	if fc := run(200, 0.9); len(fc.rows) != 0 {
		t.Errorf("local answer captured: %+v", fc.rows)
	}
	if fc := run(500, 0.1); len(fc.rows) != 0 {
		t.Errorf("failed escalation captured: %+v", fc.rows)
	}
	if fc := run(200, 0.1, escalate.Message{Role: "user", Content: "hi"}); len(fc.rows) != 0 {
		t.Errorf("multi-turn captured: %+v", fc.rows)
	}
}
