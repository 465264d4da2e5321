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

// BenchmarkMatMulQuant: the decode GEMV over int8 and int4 weights (m = 1) and the prefill
// path that expands each panel (m = 300), beside fp32 packed in the same run. GB/s counts
// the weight bytes actually read.
func BenchmarkMatMulQuant(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, s := range []struct{ m, k, n int }{{1, 512, 512}, {1, 512, 8192}, {300, 512, 512}} {
		a, w := randVec(r, s.m*s.k), randVec(r, s.n*s.k)
		dst := make([]float32, s.m*s.n)
		for _, bits := range []int{32, 8, 4} {
			var p *Packed
			if bits == 32 {
				p = Pack(w, s.n, s.k)
			} else {
				p, _ = Quantize(w, s.n, s.k, bits)
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", map[int]string{32: "f32", 8: "int8", 4: "int4"}[bits], s.m, s.k, s.n), func(b *testing.B) {
				for b.Loop() {
					MatMulPacked(dst, a, p, s.m)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(2*float64(s.m*s.n*s.k)/sec/1e9, "GFLOPS")
				b.ReportMetric(float64(p.Bytes())/sec/1e9, "GB/s")
			})
		}
	}
}

// BenchmarkAttention: encoder self-attention of the 26m shape at 300 tokens, tiled kernels
// against the textbook twin; and one decode row over 300 keys.
func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	n, h, kv, hd := 300, 8, 4, 64
	q, k, v := randVec(r, n*h*hd), randVec(r, n*kv*hd), randVec(r, n*kv*hd)
	dst, sc := make([]float32, n*h*hd), make([]float32, AttentionScratch(n, n, h, kv, hd))
	flops := 4 * float64(n*n*h*hd)
	b.Run("prefill-300", func(b *testing.B) {
		for b.Loop() {
			Attention(dst, q, k, v, sc, n, n, h, kv, hd, 0.125, -1)
		}
		b.ReportMetric(flops/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOPS")
	})
	b.Run("generic/prefill-300", func(b *testing.B) {
		for b.Loop() {
			AttentionGeneric(dst, q, k, v, n, n, h, kv, hd, 0.125, -1)
		}
		b.ReportMetric(flops/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOPS")
	})
	b.Run("decode-row-300", func(b *testing.B) {
		// One decode step's cross-attention: keys and values packed once per request.
		kv := KVPanels{Data: make([]float32, KVPanelsSize(kv, hd, n)), NKV: kv, HeadDim: hd, Cap: n}
		kv.Set(k, v, 0, n)
		sc := make([]float32, AttendScratch(1, n, h, kv.NKV))
		for b.Loop() {
			AttendPanels(dst, q[:h*hd], &kv, sc, 1, n, h, 0.125, -1)
		}
		b.ReportMetric(flops/float64(n)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOPS")
	})
}

// BenchmarkSoftmax: one 300-wide score row, vector kernels against the scalar twin.
func BenchmarkSoftmax(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(4, 4)), 300)
	work := make([]float32, len(x))
	b.Run("vector", func(b *testing.B) {
		for b.Loop() {
			copy(work, x)
			softmaxScaled(work, 0.125)
		}
		b.ReportMetric(float64(len(x))/(b.Elapsed().Seconds()/float64(b.N))/1e9, "Gexp/s")
	})
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			copy(work, x)
			mx := maxGeneric(work)
			sum := expSumGeneric(work, mx, 0.125)
			scalGeneric(work, 1/sum)
		}
		b.ReportMetric(float64(len(x))/(b.Elapsed().Seconds()/float64(b.N))/1e9, "Gexp/s")
	})
}

// BenchmarkSets runs the model-shaped kernels under every kernel set this CPU has, in one
// run, so the sets compare directly: fp32 and int8 prefill GEMMs (300 rows), the int8 and
// fp32 decode GEMVs, prefill attention, one softmax row.
func BenchmarkSets(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	k, n, m := 512, 512, 300
	a, w := randVec(r, m*k), randVec(r, n*k)
	wv := randVec(r, 8192*k)
	p32, p8 := Pack(w, n, k), must(Quantize(w, n, k, 8))
	v32, v8 := Pack(wv, 8192, k), must(Quantize(wv, 8192, k, 8))
	dst := make([]float32, m*8192)
	h, kvh, hd := 8, 4, 64
	q, kk, vv := randVec(r, m*h*hd), randVec(r, m*kvh*hd), randVec(r, m*kvh*hd)
	sc := make([]float32, AttentionScratch(m, m, h, kvh, hd))
	row := randVec(r, 300)
	work := make([]float32, 300)
	gamma := randVec(r, k)
	for _, s := range sets {
		if !s.ok {
			continue
		}
		run := func(name string, flops float64, f func()) {
			b.Run(s.name+"/"+name, func(b *testing.B) {
				prev := cur
				cur = s
				defer func() { cur = prev }()
				for b.Loop() {
					f()
				}
				if flops > 0 {
					b.ReportMetric(flops/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOPS")
				}
			})
		}
		run("f32/300x512x512", 2*float64(m*n*k), func() { MatMulPacked(dst, a, p32, m) })
		run("int8/300x512x512", 2*float64(m*n*k), func() { MatMulPacked(dst, a, p8, m) })
		run("f32/1x512x8192", 2*float64(8192*k), func() { MatMulPacked(dst, a, v32, 1) })
		run("int8/1x512x8192", 2*float64(8192*k), func() { MatMulPacked(dst, a, v8, 1) })
		run("attention/prefill-300", 4*float64(m*m*h*hd), func() { Attention(dst, q, kk, vv, sc, m, m, h, kvh, hd, 0.125, -1) })
		run("softmax/300", 0, func() { copy(work, row); softmaxScaled(work, 0.125) })
		run("norm/300x512", 0, func() { ZCRMSNorm(dst[:m*k], a, gamma, 1e-6) })
	}
}

func must(p *Packed, err error) *Packed {
	if err != nil {
		panic(err)
	}
	return p
}
