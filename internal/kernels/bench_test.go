package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Kernel benchmarks at the model's shapes; GFLOPS and GB/s are reported per op. The generic
// twin runs in the same benchmark for the ratio.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, k, n int }{{300, 512, 512}, {300, 512, 256}, {1, 512, 512}, {1, 512, 8192}, {300, 256, 256}, {1, 256, 8192}} {
		a, w := randVec(r, s.m*s.k), randVec(r, s.n*s.k)
		dst := make([]float32, s.m*s.n)
		p := Pack(w, s.n, s.k)
		flops := 2 * float64(s.m*s.n*s.k)
		bytes := float64(4 * (s.n*s.k + s.m*s.k + s.m*s.n))
		report := func(b *testing.B) {
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(flops/sec/1e9, "GFLOPS")
			b.ReportMetric(bytes/sec/1e9, "GB/s")
		}
		b.Run(fmt.Sprintf("packed/%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
			for b.Loop() {
				MatMulPacked(dst, a, p, s.m)
			}
			report(b)
		})
		b.Run(fmt.Sprintf("rows/%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
			for b.Loop() {
				MatMulT(dst, a, w, s.m, s.k, s.n)
			}
			report(b)
		})
		b.Run(fmt.Sprintf("generic/%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
			for b.Loop() {
				MatMulTGeneric(dst, a, w, s.m, s.k, s.n)
			}
			report(b)
		})
	}
}

func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	n, h, kv, hd := 300, 8, 4, 64
	q, k, v := randVec(r, n*h*hd), randVec(r, n*kv*hd), randVec(r, n*kv*hd)
	dst, sc := make([]float32, n*h*hd), make([]float32, h*n)
	for b.Loop() {
		Attention(dst, q, k, v, sc, n, n, h, kv, hd, 0.125, -1)
	}
	b.ReportMetric(4*float64(n*n*h*hd)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOPS")
}
