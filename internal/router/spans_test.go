package router

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Every stage of a request is a span with the attributes ARCHITECTURE.md promises: the
// request's decision, reason and confidence; retrieval's tool count and retrieved names; the
// model's prompt and output tokens; the check's verdict; the escalation's reason and breaker.
func TestSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	const many = `[{"name":"set_timer","description":"Start a countdown timer.","parameters":{"minutes":{"type":"integer","required":true}}},
		{"name":"get_weather","description":"Weather forecast for a city."},
		{"name":"play_music","description":"Play a song."}]`
	p := pipeline(t, answer(0.1, timerCall), "", func(c *Config) { c.Tracer = tp.Tracer("test"); c.TopK = 2 })
	out, err := p.Route(context.Background(), Input{Transcript: "set a timer", ToolsJSON: many})
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]map[attribute.Key]attribute.Value{}
	var root sdktrace.ReadOnlySpan
	for _, s := range exp.GetSpans().Snapshots() {
		a := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			a[kv.Key] = kv.Value
		}
		spans[s.Name()] = a
		if s.Name() == "router.Route" {
			root = s
		}
	}
	for name, want := range map[string][]attribute.KeyValue{
		"router.Route": {attribute.String("router.decision", out.Decision.String()), attribute.String("router.escalation_reason", "low_confidence"),
			attribute.String("router.fallback_cause", "not_configured"), attribute.Float64("router.confidence", 0.1)},
		"router.retrieve": {attribute.Int("router.tools_offered", 3), attribute.StringSlice("router.retrieved", []string{out.Retrieved[0].Name, out.Retrieved[1].Name}),
			attribute.Float64Slice("router.retrieved_scores", []float64{float64(out.Retrieved[0].Score), float64(out.Retrieved[1].Score)})},
		"router.decode": {attribute.Int("needle.prompt_tokens", 0), attribute.Int("needle.output_tokens", 0), attribute.Float64("needle.confidence", 0.1)},
		"router.check":  {attribute.Bool("router.valid", true), attribute.Int("router.calls", 1)},
	} {
		got, ok := spans[name]
		if !ok {
			t.Errorf("no span %s (have %v)", name, keys(spans))
			continue
		}
		for _, kv := range want {
			if v, ok := got[kv.Key]; !ok || v != kv.Value {
				t.Errorf("%s: %s = %v, want %v", name, kv.Key, v.String(), kv.Value.String())
			}
		}
	}
	if root == nil {
		t.Fatal("no root span")
	}
	for _, s := range exp.GetSpans().Snapshots() {
		if s.Name() != "router.Route" && s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("%s is not a child of router.Route", s.Name())
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
