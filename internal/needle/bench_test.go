package needle

import (
	"context"
	"os"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

// Engine benchmarks over a model directory named by NEEDLE_BENCH_MODEL (for example the 26m
// shape exported with random weights); skipped without it. cmd/needle bench is the
// user-facing report; these exist for go test -cpuprofile.
func benchModel(b *testing.B) *Model {
	dir := os.Getenv("NEEDLE_BENCH_MODEL")
	if dir == "" {
		b.Skip("NEEDLE_BENCH_MODEL not set")
	}
	m, err := Load(dir, Options{Weights: os.Getenv("NEEDLE_BENCH_WEIGHTS")})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkDecodeStep(b *testing.B) {
	m := benchModel(b)
	for b.Loop() {
		m.BenchDecode(300, 32)
	}
}

func BenchmarkPrefill300(b *testing.B) {
	m := benchModel(b)
	for b.Loop() {
		m.BenchPrefill(300)
	}
}

// Route with and without a tool prior over five tools, for the prior's cost per request
// (the same model, request and run).
func BenchmarkRouteToolPrior(b *testing.B) {
	m := benchModel(b)
	tools, err := toolspec.ParseFlat([]byte(`[{"name":"set_timer","description":"Start a countdown timer.","parameters":{"minutes":{"type":"integer","required":true}}},
		{"name":"set_alarm","description":"Set an alarm.","parameters":{"time":{"type":"string","required":true}}},
		{"name":"get_weather","description":"Weather forecast for a city.","parameters":{"city":{"type":"string","required":true}}},
		{"name":"send_message","description":"Text a contact.","parameters":{"to":{"type":"string","required":true},"text":{"type":"string","required":true}}},
		{"name":"play_music","description":"Play a song.","parameters":{"song":{"type":"string"}}}]`))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		prior []float32
	}{{"off", nil}, {"on", []float32{9, 2, 1, 0, 0}}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Route(context.Background(), Request{Query: "set a timer for ten minutes", Tools: tools, ToolPrior: tc.prior}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
