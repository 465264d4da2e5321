package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A fake OpenAI-compatible cloud answering the teacher prompt: for lock_door it writes two
// valid examples, one that fails the schema (a door not in the enum), one naming another
// tool, and prose; for other tools one valid example.
func fakeTeacher(t *testing.T, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		calls.Add(1)
		var req struct {
			Model    string
			Messages []struct{ Content string }
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "teacher-1" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		prompt := req.Messages[0].Content
		var content string
		switch {
		case strings.Contains(prompt, `"name":"lock_door"`):
			content = strings.Join([]string{
				"Here you go:",
				"```",
				`{"query": "lock the garage please", "answers": [{"name": "lock_door", "arguments": {"door": "garage"}}]}`,
				`{"query": "lock the cellar", "answers": [{"name": "lock_door", "arguments": {"door": "cellar"}}]}`,
				`{"query": "water the lawn", "answers": [{"name": "water_plants", "arguments": {}}]}`,
				`{"query": "back door lock", "answers": [{"name": "lock_door", "arguments": {"door": "back"}}]}`,
				"```",
			}, "\n")
		default:
			content = `{"query": "something for this tool", "answers": [{"name": "` + between(prompt, `"name":"`, `"`) + `", "arguments": {}}]}`
		}
		resp := map[string]any{"id": "x", "object": "chat.completion", "created": 1, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}}}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
}

func between(s, a, b string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, b)
	return v
}

func TestTeacher(t *testing.T) {
	var calls atomic.Int32
	srv := fakeTeacher(t, &calls)
	defer srv.Close()
	tools := homeTools(t)
	ex, rep, err := Teacher{BaseURL: srv.URL + "/v1", APIKey: "k", Model: "teacher-1"}.Examples(context.Background(), tools, 5)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d cloud calls, want one per tool", calls.Load())
	}
	if r := rep["lock_door"]; r.Kept != 2 || r.Dropped != 2 {
		t.Errorf("lock_door: %+v, want 2 kept (garage, back) and 2 dropped (not in enum, other tool)", r)
	}
	// set_thermostat requires a temperature: the fake's argument-less example is dropped.
	if r := rep["set_thermostat"]; r.Kept != 0 || r.Dropped != 1 {
		t.Errorf("set_thermostat: %+v", r)
	}
	if r := rep["water_plants"]; r.Kept != 1 {
		t.Errorf("water_plants: %+v", r)
	}
	got := fmt.Sprintf("%d %s %s", len(ex), ex[0].Query, ex[0].Answers[0].Arguments)
	if got != `3 lock the garage please {"door": "garage"}` {
		t.Errorf("examples: %s", got)
	}
	// A cloud that fails is an error naming the tool, not a silent empty set.
	_, _, err = Teacher{BaseURL: srv.URL + "/v1", APIKey: "wrong", Model: "teacher-1"}.Examples(context.Background(), tools, 5)
	if err == nil || !strings.Contains(err.Error(), "teacher for set_thermostat") {
		t.Errorf("bad key: %v", err)
	}
}
