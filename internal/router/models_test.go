package router

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/needle-router/needle/internal/modelname"
	"github.com/needle-router/needle/internal/modelset"
	"github.com/needle-router/needle/internal/toolspec"
)

// modelsRoot writes model directories whose config names the minutes the fake model answers
// with; a config "broken" does not load. Each model is 100 bytes.
func modelsRoot(t *testing.T, budget int64, models map[string]string) *modelset.Set {
	t.Helper()
	root := t.TempDir()
	for name, cfg := range models {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), make([]byte, 100), 0o644)
		os.WriteFile(filepath.Join(dir, "tokenizer.model"), nil, 0o644)
	}
	s, err := modelset.New(modelset.Config{Root: root, Budget: budget, Default: answer(0.99, toolspec.Call{Name: "set_timer", Arguments: []byte(`{"minutes":1}`)}), DefaultID: "shipped@1",
		Load: func(f modelset.Files) (modelset.Loaded, error) {
			if string(f.Config) == "broken" {
				return modelset.Loaded{}, errors.New("broken")
			}
			if string(f.Config) == "calibrated" { // a fine-tune that calibrated its threshold
				return modelset.Loaded{Model: answer(0.99, toolspec.Call{Name: "set_timer", Arguments: []byte(`{"minutes":3}`)}),
					Bytes: int64(len(f.Weights)), ID: "ft@3", Threshold: 0.995}, nil
			}
			return modelset.Loaded{Model: answer(0.99, toolspec.Call{Name: "set_timer", Arguments: []byte(`{"minutes":` + string(f.Config) + `}`)}),
				Bytes: int64(len(f.Weights)), ID: "ft@" + string(f.Config)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestToolsetsRunOnTheirModels(t *testing.T) {
	set := modelsRoot(t, 1000, map[string]string{"kitchen-ft": "7", "garden-ft": "9", "bad": "broken"})
	p := pipeline(t, nil, "", func(c *Config) { c.Models = set })
	now := time.Now()
	for name, model := range map[string]string{"kitchen": "kitchen-ft", "garden": "garden-ft", "plain": "", "broken": "bad", "gone": "no-such-model"} {
		if _, err := p.reg.Put(name, []byte(tools), model, now); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, tc := range []struct{ toolset, inline, model, id, args string }{
		{"kitchen", "", "kitchen-ft", "ft@7", `{"minutes":7}`},
		{"garden", "", "garden-ft", "ft@9", `{"minutes":9}`},
		{"plain", "", modelname.Default, "shipped@1", `{"minutes":1}`},
		{"", tools, modelname.Default, "shipped@1", `{"minutes":1}`},
	} {
		out, err := p.Route(ctx, Input{Transcript: "timer", Toolset: tc.toolset, ToolsJSON: tc.inline})
		if err != nil {
			t.Fatalf("%s: %v", tc.toolset, err)
		}
		if out.Model != tc.model || out.ModelID != tc.id || len(out.Calls) != 1 || string(out.Calls[0].Arguments) != tc.args {
			t.Errorf("%s: model %q id %q calls %v", tc.toolset, out.Model, out.ModelID, out.Calls)
		}
	}
	// A model that does not load, or is gone, is the operator's files: ErrModelUnavailable,
	// never the caller's mistake (no registry.ErrInvalid, no modelset error inside).
	for _, ts := range []string{"broken", "gone"} {
		_, err := p.Route(ctx, Input{Transcript: "timer", Toolset: ts})
		var me *ModelUnavailableError
		if !errors.Is(err, ErrModelUnavailable) || !errors.As(err, &me) || errors.Is(err, modelset.ErrUnknown) || errors.Is(err, modelset.ErrLoad) {
			t.Errorf("%s: %v", ts, err)
		}
	}
}

// With the budget held by models in use, a request for another model is overloaded (retry
// soon), not failed for good.
func TestModelBudgetFullIsOverload(t *testing.T) {
	set := modelsRoot(t, 150, map[string]string{"a": "1", "b": "2"})
	p := pipeline(t, nil, "", func(c *Config) { c.Models = set })
	p.reg.Put("b", []byte(tools), "b", time.Now())
	held, err := set.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Route(context.Background(), Input{Transcript: "timer", Toolset: "b"})
	var oe *OverloadError
	if !errors.As(err, &oe) || oe.RetryAfter <= 0 {
		t.Fatalf("got %v", err)
	}
	held.Release()
	if out, err := p.Route(context.Background(), Input{Transcript: "timer", Toolset: "b"}); err != nil || out.Model != "b" {
		t.Fatalf("after release: %v", err)
	}
}

// Retrieval embeds tools with the request's model: the embedding cache is per model.
func TestEmbeddingsArePerModel(t *testing.T) {
	counts := map[string]int{}
	root := t.TempDir()
	for _, n := range []string{"a", "b"} {
		dir := filepath.Join(root, n)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(n), 0o644)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte(n), 0o644)
		os.WriteFile(filepath.Join(dir, "tokenizer.model"), nil, 0o644)
	}
	set, err := modelset.New(modelset.Config{Root: root, Load: func(f modelset.Files) (modelset.Loaded, error) {
		name := string(f.Config)
		return modelset.Loaded{Model: &embedModel{answer(0.99), func() { counts[name]++ }}, Bytes: 1, ID: name}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p := pipeline(t, nil, "", func(c *Config) { c.Models = set; c.Workers = 1 })
	two := `[{"name":"set_timer","description":"Timer","parameters":{"minutes":{"type":"integer"}}},{"name":"get_weather","description":"Weather","parameters":{"city":{"type":"string"}}}]`
	p.reg.Put("ta", []byte(two), "a", time.Now())
	p.reg.Put("tb", []byte(two), "b", time.Now())
	for _, ts := range []string{"ta", "tb", "ta", "tb"} {
		if _, err := p.Route(context.Background(), Input{Transcript: "weather in paris", Toolset: ts}); err != nil {
			t.Fatal(err)
		}
	}
	// Per model: 2 transcripts embedded + 2 tools embedded once.
	if fmt.Sprint(counts) != "map[a:4 b:4]" {
		t.Errorf("embeddings %v", counts)
	}
}

type embedModel struct {
	*fakeModel
	count func()
}

func (e *embedModel) Embed(ctx context.Context, text string) ([]float32, error) {
	e.count()
	return []float32{1, 0}, nil
}

// The router.Route span says which model answered.
func TestSpanNamesTheModel(t *testing.T) {
	set := modelsRoot(t, 1000, map[string]string{"kitchen-ft": "7"})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	p := pipeline(t, nil, "", func(c *Config) { c.Models = set; c.Tracer = tp.Tracer("test") })
	p.reg.Put("kitchen", []byte(tools), "kitchen-ft", time.Now())
	if _, err := p.Route(context.Background(), Input{Transcript: "timer", Toolset: "kitchen"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range rec.Ended() {
		if s.Name() != "router.Route" {
			continue
		}
		for _, a := range s.Attributes() {
			got[string(a.Key)] = a.Value.String()
		}
	}
	if got["router.model"] != "kitchen-ft" || got["router.model_id"] != "ft@7" {
		t.Errorf("span attributes %v", got)
	}
}

// A model's calibrated threshold judges its toolset's answers in place of the server's
// (0.5 here); a request's min_confidence still overrides it, and other toolsets keep the
// server's.
func TestModelThreshold(t *testing.T) {
	set := modelsRoot(t, 1000, map[string]string{"cal-ft": "calibrated", "plain-ft": "7"})
	p := pipeline(t, nil, "", func(c *Config) { c.Models = set })
	now := time.Now()
	for name, model := range map[string]string{"cal": "cal-ft", "plain": "plain-ft", "shipped": ""} {
		if _, err := p.reg.Put(name, []byte(tools), model, now); err != nil {
			t.Fatal(err)
		}
	}
	low := 0.9
	for _, tc := range []struct {
		toolset   string
		min       *float64
		threshold float64
		local     bool
	}{
		{"cal", nil, 0.995, false}, // 0.99 < 0.995: not answered locally
		{"cal", &low, 0.9, true},
		{"plain", nil, 0.5, true},
		{"shipped", nil, 0.5, true},
	} {
		out, err := p.Route(context.Background(), Input{Transcript: "timer", Toolset: tc.toolset, MinConfidence: tc.min})
		if err != nil {
			t.Fatalf("%s: %v", tc.toolset, err)
		}
		if out.Threshold != tc.threshold || (out.Decision == DecisionLocal) != tc.local {
			t.Errorf("%s (min %v): threshold %v decision %v, want %v local=%v", tc.toolset, tc.min, out.Threshold, out.Decision, tc.threshold, tc.local)
		}
	}
}

// The default model's own threshold (ModelThreshold, e.g. `router --model <a needle finetune
// output>`) judges its answers like a named model's; an operator's threshold (ThresholdSet)
// judges every model's.
func TestModelThresholdDefaultAndOperator(t *testing.T) {
	model := answer(0.99, toolspec.Call{Name: "set_timer", Arguments: []byte(`{"minutes":1}`)})
	set := modelsRoot(t, 1000, map[string]string{"cal-ft": "calibrated"})
	for _, tc := range []struct {
		name      string
		mod       func(*Config)
		toolset   string
		threshold float64
	}{
		{"default model's own", func(c *Config) { c.ModelThreshold = 0.995 }, "", 0.995},
		{"operator's over the default model's", func(c *Config) { c.ModelThreshold, c.ThresholdSet = 0.995, true }, "", 0.5},
		{"operator's over a named model's", func(c *Config) { c.Models, c.ThresholdSet = set, true }, "cal", 0.5},
	} {
		p := pipeline(t, model, "", tc.mod)
		in := Input{Transcript: "timer", ToolsJSON: tools}
		if tc.toolset != "" {
			if _, err := p.reg.Put(tc.toolset, []byte(tools), "cal-ft", time.Now()); err != nil {
				t.Fatal(err)
			}
			in = Input{Transcript: "timer", Toolset: tc.toolset}
		}
		out, err := p.Route(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if out.Threshold != tc.threshold {
			t.Errorf("%s: threshold %v, want %v", tc.name, out.Threshold, tc.threshold)
		}
	}
}
