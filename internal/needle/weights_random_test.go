package needle

import (
	"math"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/kernels"
)

// TestRandomModel: the Go-made random model binds every tensor the engine wants, is
// deterministic per seed, and has the trainer's init scales.
func TestRandomModel(t *testing.T) {
	cfg := Configs["tiny"]
	a, err := randomModel(t, cfg, 7, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := randomModel(t, cfg, 7, Options{})
	wa, wb := a.w.EmbedP.Data, b.w.EmbedP.Data
	var ss float64
	for i := range wa {
		if wa[i] != wb[i] {
			t.Fatal("same seed, different weights")
		}
		ss += float64(wa[i]) * float64(wa[i])
	}
	if std := math.Sqrt(ss / float64(cfg.VocabSize*cfg.DModel)); math.Abs(std-0.02) > 0.001 {
		t.Fatalf("embedding std %g, want 0.02", std)
	}
	if g := a.w.Enc[0].Gate[0]; g != 0 {
		t.Fatalf("gate %g, want 0", g)
	}
	if _, err := randomModel(t, cfg, 7, Options{Weights: "int8"}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkShape26m: prefill of 300 tokens and decode steps (against 300 encoder tokens) of
// the 26m shape with random weights, under every kernel set this CPU has, int8 and f32
// weights, in one run: `go test -run '^$' -bench Shape26m -benchtime 5x -count 3`.
func BenchmarkShape26m(b *testing.B) {
	prev := kernels.Set()
	defer kernels.Use(prev)
	for _, w := range []string{"int8", "f32"} {
		m, err := randomModel(b, Configs["26m"], 1, Options{Weights: w})
		if err != nil {
			b.Fatal(err)
		}
		for _, set := range []string{"avx512-vnni", "avx512", "avx2", "generic"} {
			if !kernels.Sets()[set] {
				continue
			}
			b.Run(set+"/"+w+"/prefill-300", func(b *testing.B) {
				kernels.Use(set)
				var total time.Duration
				for b.Loop() {
					total += benchPrefill(m, 300)
				}
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/prefill")
			})
			b.Run(set+"/"+w+"/decode", func(b *testing.B) {
				kernels.Use(set)
				var total time.Duration
				for b.Loop() {
					total += benchDecode(m, 300, 16)
				}
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/token")
			})
		}
	}
}
