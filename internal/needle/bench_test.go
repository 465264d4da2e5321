package needle

import (
	"os"
	"testing"
	"time"
)

// Engine benchmarks over a model directory named by NEEDLE_BENCH_MODEL (for example the 26m
// shape exported with random weights); skipped without it. cmd/needle bench is the
// user-facing report; these exist for go test -cpuprofile.
func benchModel(b *testing.B) *Model {
	dir := os.Getenv("NEEDLE_BENCH_MODEL")
	if dir == "" {
		b.Skip("NEEDLE_BENCH_MODEL not set")
	}
	m, err := Load(os.DirFS(dir), Options{Weights: os.Getenv("NEEDLE_BENCH_WEIGHTS")})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkDecodeStep(b *testing.B) {
	m := benchModel(b)
	for b.Loop() {
		benchDecode(m, 300, 32)
	}
}

func BenchmarkPrefill300(b *testing.B) {
	m := benchModel(b)
	for b.Loop() {
		benchPrefill(m, 300)
	}
}

// randomModel is New over RandomWeights.
func randomModel(t testing.TB, cfg Config, seed uint64, opt Options) (*Model, error) {
	t.Helper()
	wb, err := RandomWeights(cfg, seed)
	if err != nil {
		return nil, err
	}
	return New(cfg, wb, nil, opt)
}

// benchIDs are n synthetic prompt ids (no special tokens).
func benchIDs(m *Model, n int) []int32 {
	ids := make([]int32, min(n, m.cfg.MaxEncLen))
	for i := range ids {
		ids[i] = int32(6 + (i*7919)%(m.cfg.VocabSize-6))
	}
	return ids
}

// benchPrefill times the encoder (and cross-attention K/V) over n synthetic tokens.
func benchPrefill(m *Model, n int) time.Duration {
	s := m.NewSession()
	defer s.Close()
	ids := benchIDs(m, n)
	t0 := time.Now()
	if err := s.Encode(ids); err != nil {
		panic(err)
	}
	return time.Since(t0)
}

// benchDecode is the mean time of one decoder step against encLen encoded tokens, over
// steps steps.
func benchDecode(m *Model, encLen, steps int) time.Duration {
	s := m.NewSession()
	defer s.Close()
	if err := s.Encode(benchIDs(m, encLen)); err != nil {
		panic(err)
	}
	steps = min(steps, m.cfg.MaxDecLen)
	t0 := time.Now()
	tok := int32(TokEOS)
	for p := 0; p < steps; p++ {
		s.Step(tok, p)
		tok = int32(6 + p)
	}
	return time.Since(t0) / time.Duration(steps)
}
