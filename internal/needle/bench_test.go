package needle

import (
	"os"
	"testing"
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
