package decode

import (
	"context"
	"os"
	"testing"

	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/toolspec"
)

// benchDecoder loads the model directory named by NEEDLE_BENCH_MODEL; skipped without it.
func benchDecoder(b *testing.B) *Decoder {
	dir := os.Getenv("NEEDLE_BENCH_MODEL")
	if dir == "" {
		b.Skip("NEEDLE_BENCH_MODEL not set")
	}
	m, err := needle.Load(os.DirFS(dir), needle.Options{Weights: os.Getenv("NEEDLE_BENCH_WEIGHTS")})
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(m, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// Decode with and without a tool prior over five tools, for the prior's cost per request
// (the same model, request and run).
func BenchmarkRouteToolPrior(b *testing.B) {
	d := benchDecoder(b)
	tools, err := toolspec.ParseFlat([]byte(`[{"name":"set_timer","description":"Start a countdown timer.","parameters":{"minutes":{"type":"integer","required":true}}},
		{"name":"set_alarm","description":"Set an alarm.","parameters":{"time":{"type":"string","required":true}}},
		{"name":"get_weather","description":"Weather forecast for a city.","parameters":{"city":{"type":"string","required":true}}},
		{"name":"send_message","description":"Text a contact.","parameters":{"to":{"type":"string","required":true},"text":{"type":"string","required":true}}},
		{"name":"play_music","description":"Play a song.","parameters":{"song":{"type":"string"}}}]`))
	if err != nil {
		b.Fatal(err)
	}
	prepared := mustPrepare(b, tools)
	for _, tc := range []struct {
		name  string
		prior []float32
	}{{"off", nil}, {"on", []float32{9, 2, 1, 0, 0}}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := d.Decode(context.Background(), Request{Query: "set a timer for ten minutes", Tools: prepared, ToolPrior: tc.prior}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
