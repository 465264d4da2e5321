package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The conformance suite: every fast kernel against its pure-Go twin at sizes that straddle
// the vector width and tile edges, with guard values around the destination. Run it with and
// without -tags noasm (make test does both); with noasm the twins are checked against
// themselves and the suite still exercises the composed kernels.

var sizes = []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 512}

const guard = float32(-12345.678)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// guarded returns a slice of n with guard values on both sides in its backing array.
func guarded(n int) (full, inner []float32) {
	full = make([]float32, n+16)
	for i := range full {
		full[i] = guard
	}
	return full, full[8 : 8+n]
}

func checkGuards(t *testing.T, full []float32, n int, what string) {
	t.Helper()
	for i := 0; i < 8; i++ {
		if full[i] != guard || full[8+n+i] != guard {
			t.Fatalf("%s: write outside the destination", what)
		}
	}
}

func close32(a, b float32, tol float64) bool {
	return math.Abs(float64(a-b)) <= tol*(1+math.Abs(float64(b)))
}

func TestDotAxpyConformance(t *testing.T) { forEachSet(t, testDotAxpyConformance) }

func testDotAxpyConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range sizes {
		a, b := randVec(r, n), randVec(r, n+3) // b longer than a is allowed
		if got, want := Dot(a, b), dotGeneric(a, b); !close32(got, want, 1e-5*float64(n+1)) {
			t.Errorf("Dot n=%d: %g, want %g", n, got, want)
		}
		full, y := guarded(n)
		y0 := randVec(r, n)
		copy(y, y0)
		want := append([]float32(nil), y0...)
		Axpy(y, 0.37, a)
		axpyGeneric(want, 0.37, a)
		checkGuards(t, full, n, fmt.Sprintf("Axpy n=%d", n))
		for i := range y {
			if !close32(y[i], want[i], 1e-6) {
				t.Fatalf("Axpy n=%d [%d]: %g, want %g", n, i, y[i], want[i])
			}
		}
	}
}

func TestGemmMicroConformance(t *testing.T) { forEachSet(t, testGemmMicroConformance) }

func testGemmMicroConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for mr := 1; mr <= cur.mr; mr++ {
		for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 64, 257} {
			lda, ldc := k+3, 21
			a, b := randVec(r, mr*lda), randVec(r, k*16)
			full, c := guarded(mr * ldc)
			want := make([]float32, mr*ldc)
			copy(want, c)
			gemmMicro(mr, k, a, lda, b, c, ldc)
			gemmMicroGeneric(mr, k, a, lda, b, want, ldc)
			checkGuards(t, full, mr*ldc, fmt.Sprintf("gemm mr=%d k=%d", mr, k))
			for i := range c {
				if !close32(c[i], want[i], 1e-5*float64(k+1)) {
					t.Fatalf("gemm mr=%d k=%d [%d]: %g, want %g", mr, k, i, c[i], want[i])
				}
			}
		}
	}
}

func TestMatMulConformance(t *testing.T) { forEachSet(t, testMatMulConformance) }

func testMatMulConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, m := range []int{1, 2, 5, 6, 7, 12, 13, 25, 37} {
		for _, n := range []int{1, 15, 16, 17, 33, 64} {
			for _, k := range []int{1, 16, 17, 64, 100} {
				a, w := randVec(r, m*k), randVec(r, n*k)
				want := make([]float32, m*n)
				MatMulTGeneric(want, a, w, m, k, n)
				full, got := guarded(m * n)
				MatMulPacked(got, a, Pack(w, n, k), m)
				checkGuards(t, full, m*n, fmt.Sprintf("MatMulPacked %dx%dx%d", m, k, n))
				full2, got2 := guarded(m * n)
				MatMulT(got2, a, w, m, k, n)
				checkGuards(t, full2, m*n, fmt.Sprintf("MatMulT %dx%dx%d", m, k, n))
				for i := range want {
					if !close32(got[i], want[i], 1e-5*float64(k)) || !close32(got2[i], want[i], 1e-5*float64(k)) {
						t.Fatalf("%dx%dx%d [%d]: packed %g, rows %g, want %g", m, k, n, i, got[i], got2[i], want[i])
					}
				}
			}
		}
	}
}

func TestExpSoftmax(t *testing.T) {
	for x := float32(-87); x < 88; x += 0.37 {
		if got, want := Exp(x), ExpGeneric(x); !close32(got, want, 4e-7) {
			t.Fatalf("Exp(%g) = %g, want %g", x, got, want)
		}
	}
	v := []float32{1, 2, 3, -1000}
	lse := Softmax(v)
	want := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	if math.Abs(float64(lse)-want) > 1e-5 || !close32(v[2], float32(math.Exp(3-want)), 1e-5) || v[3] != 0 {
		t.Fatalf("softmax %v lse %g", v, lse)
	}
}

func TestSoftmaxConformance(t *testing.T) { forEachSet(t, testSoftmaxConformance) }

func testSoftmaxConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range sizes[1:] {
		for _, scale := range []float32{1, 0.125} {
			x := randVec(r, n)
			for i := range x {
				x[i] *= 30 // spread wide enough that some exps underflow to zero
			}
			if n > 3 {
				x[n/2] = float32(math.Inf(-1)) // a masked score
			}
			full, got := guarded(n)
			copy(got, x)
			lse := softmaxScaled(got, scale)
			checkGuards(t, full, n, fmt.Sprintf("softmax n=%d", n))
			// Oracle in float64 math.Exp.
			mx := math.Inf(-1)
			for _, v := range x {
				mx = math.Max(mx, float64(v*scale))
			}
			var sum float64
			for _, v := range x {
				sum += math.Exp(float64(v*scale) - mx)
			}
			if want := mx + math.Log(sum); math.Abs(float64(lse)-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("n=%d scale=%g: logsumexp %g, want %g", n, scale, lse, want)
			}
			for i, v := range x {
				want := math.Exp(float64(v*scale)-mx) / sum
				if math.Abs(float64(got[i])-want) > 2e-6+1e-5*want {
					t.Fatalf("n=%d scale=%g [%d]: %g, want %g", n, scale, i, got[i], want)
				}
			}
		}
	}
	// The vector exp against the scalar one over the whole non-positive range.
	x := make([]float32, 0, 1024)
	for v := float32(-100); v <= 0; v += 0.0977 {
		x = append(x, v)
	}
	want := append([]float32(nil), x...)
	expSum(x, 0, 1)
	expSumGeneric(want, 0, 1)
	for i := range x {
		if !close32(x[i], want[i], 4e-7) {
			t.Fatalf("exp(%g): %g, want %g", float32(-100)+float32(i)*0.0977, x[i], want[i])
		}
	}
}

// TestAttentionConformance covers the per-row path (tq < 6) and the tiled one (blocks of 48
// rows, keys padded to 16), GQA, causal masks, and head dims the tiles do not fit.
func TestAttentionConformance(t *testing.T) { forEachSet(t, testAttentionConformance) }

func testAttentionConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, sh := range []struct{ h, kv, hd int }{{4, 2, 16}, {8, 4, 64}, {2, 1, 32}, {2, 2, 8}} {
		for _, tq := range []int{1, 5, 6, 7, 48, 49, 100} {
			for _, tk := range []int{1, 15, 17, 100} {
				for _, causal := range []int{-1, 0, 3} {
					qd, kvd := sh.h*sh.hd, sh.kv*sh.hd
					q, k, v := randVec(r, tq*qd), randVec(r, tk*kvd), randVec(r, tk*kvd)
					want := make([]float32, tq*qd)
					AttentionGeneric(want, q, k, v, tq, tk, sh.h, sh.kv, sh.hd, 0.3, causal)
					full, got := guarded(tq * qd)
					scratch := randVec(r, AttentionScratch(tq, tk, sh.h, sh.kv, sh.hd)) // stale data must not leak
					Attention(got, q, k, v, scratch, tq, tk, sh.h, sh.kv, sh.hd, 0.3, causal)
					what := fmt.Sprintf("attention h=%d kv=%d hd=%d tq=%d tk=%d causal=%d", sh.h, sh.kv, sh.hd, tq, tk, causal)
					checkGuards(t, full, tq*qd, what)
					for i := range want {
						if !close32(got[i], want[i], 2e-5) {
							t.Fatalf("%s [%d]: %g, want %g", what, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestKVPanelsIncremental is the decode path: positions appended one at a time into panels
// with spare capacity (holding stale values), attention over the prefix at each step.
func TestKVPanelsIncremental(t *testing.T) { forEachSet(t, testKVPanelsIncremental) }

func testKVPanelsIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	h, kvh, hd, capT := 8, 4, 64, 37
	kvd, qd := kvh*hd, h*hd
	kv := KVPanels{Data: randVec(r, KVPanelsSize(kvh, hd, capT)), NKV: kvh, HeadDim: hd, Cap: capT}
	k, v := randVec(r, capT*kvd), randVec(r, capT*kvd)
	scratch := make([]float32, AttendScratch(1, capT, h, kvh))
	for pos := 0; pos < capT; pos++ {
		kv.Set(k[pos*kvd:(pos+1)*kvd], v[pos*kvd:(pos+1)*kvd], pos, 1)
		q := randVec(r, qd)
		want := make([]float32, qd)
		AttentionGeneric(want, q, k, v, 1, pos+1, h, kvh, hd, 0.125, -1)
		full, got := guarded(qd)
		AttendPanels(got, q, &kv, scratch, 1, pos+1, h, 0.125, -1)
		checkGuards(t, full, qd, fmt.Sprintf("pos %d", pos))
		for i := range want {
			if !close32(got[i], want[i], 2e-5) {
				t.Fatalf("pos %d [%d]: %g, want %g", pos, i, got[i], want[i])
			}
		}
	}
}
