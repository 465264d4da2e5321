package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// randQuant returns random int8 weights in [-127, 127] and positive scales, n x k.
func randQuant(r *rand.Rand, n, k int) ([]int8, []float32) {
	q := make([]int8, n*k)
	for i := range q {
		q[i] = int8(r.IntN(255) - 127)
	}
	s := make([]float32, n*k/GroupSize)
	for i := range s {
		s[i] = 0.001 + r.Float32()*0.01
	}
	return q, s
}

func TestQuantPanelConformance(t *testing.T) { forEachSet(t, testQuantPanelConformance) }

func testQuantPanelConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, bits := range []int{8, 4} {
		for _, k := range []int{32, 64, 96, 512} {
			q := make([]byte, 2*k*bits)
			for i := range q {
				q[i] = byte(r.IntN(256))
			}
			if bits == 8 {
				for i := range q {
					if q[i] == 0x80 { // -128 is outside the symmetric range the packers write
						q[i] = 0
					}
				}
			}
			s := randVec(r, (k/GroupSize)*16)
			x := randVec(r, k)
			full, c := guarded(16)
			want := make([]float32, 16)
			x16 := make([]int16, k)
			xs := quantizeX16(x16, x)
			if bits == 8 {
				gemvQ8(k, x16, xs, q, s, c)
				gemvQ8Generic(k, x16, xs, q, s, want)
			} else {
				xg := make([]int32, k/GroupSize)
				q4GroupSums(xg, x16)
				gemvQ4(k, x16, xg, xs, q, s, c)
				gemvQ4Generic(k, x16, xg, xs, q, s, want)
			}
			checkGuards(t, full, 16, fmt.Sprintf("gemvQ%d k=%d", bits, k))
			for j := range want {
				if !close32(c[j], want[j], 1e-5*float64(k)) {
					t.Fatalf("gemvQ%d k=%d [%d]: %g, want %g", bits, k, j, c[j], want[j])
				}
				// The twin against float64 over the integers the layout holds (quantAt).
				var ref float64
				for p := 0; p < k; p++ {
					ref += float64(x16[p]) * float64(xs) * float64(quantAt(bits, q, p, j)) * float64(s[(p/GroupSize)*16+j])
				}
				if !close32(want[j], float32(ref), 1e-5*float64(k)) {
					t.Fatalf("gemvQ%d twin k=%d [%d]: %g, float64 %g", bits, k, j, want[j], ref)
				}
			}
			full, d := guarded(16 * k)
			wantD := make([]float32, 16*k)
			dequantQ(bits, k, q, s, d)
			dequantQGeneric(bits, k, q, s, wantD)
			checkGuards(t, full, 16*k, fmt.Sprintf("dequantQ%d k=%d", bits, k))
			for i := range wantD {
				if d[i] != wantD[i] { // one multiply each: exact
					t.Fatalf("dequantQ%d k=%d [%d]: %g, want %g", bits, k, i, d[i], wantD[i])
				}
			}
		}
	}
}

// TestQ4Extremes: the int4 GEMV at the ends of its ranges (every weight -8 or 7, every input
// +-32767, signs aligned so no term cancels) against its twin: the group sums, and the
// times-16 partial sums of the vector kernels, must not overflow int32.
func TestQ4Extremes(t *testing.T) { forEachSet(t, testQ4Extremes) }

func testQ4Extremes(t *testing.T) {
	k := 512
	s := make([]float32, (k/GroupSize)*16)
	for i := range s {
		s[i] = 1
	}
	for _, fill := range []byte{0x00, 0xFF, 0x0F, 0xF0} {
		q := make([]byte, 8*k)
		for i := range q {
			q[i] = fill
		}
		for _, sign := range []int16{1, -1} {
			x16 := make([]int16, k)
			for p := range x16 {
				x16[p] = sign * 32767
				if quantAt(4, q, p, 0) < 0 {
					x16[p] = -x16[p]
				}
			}
			xg := make([]int32, k/GroupSize)
			q4GroupSums(xg, x16)
			full, c := guarded(16)
			want := make([]float32, 16)
			gemvQ4(k, x16, xg, 1, q, s, c)
			gemvQ4Generic(k, x16, xg, 1, q, s, want)
			checkGuards(t, full, 16, "gemvQ4 extremes")
			for j := range want {
				var ref float64
				for p := 0; p < k; p++ {
					ref += float64(x16[p]) * float64(quantAt(4, q, p, j))
				}
				if !close32(want[j], float32(ref), 1e-6) || !close32(c[j], want[j], 1e-6) {
					t.Fatalf("fill %#x sign %d [%d]: %g, twin %g, exact %g", fill, sign, j, c[j], want[j], ref)
				}
			}
		}
	}
}

// TestMatMulQuant checks the quantised GEMV (m = 1) and the expand-then-GEMM path (m > 1)
// against the generic GEMM over the weights the packed form represents.
func TestMatMulQuant(t *testing.T) { forEachSet(t, testMatMulQuant) }

func testMatMulQuant(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, bits := range []int{8, 4} {
		for _, n := range []int{1, 15, 16, 17, 33, 64} {
			for _, k := range []int{32, 64, 96} {
				qi, s := randQuant(r, n, k)
				var p *Packed
				var err error
				if bits == 8 {
					p, err = PackQ8(qi, s, n, k)
				} else {
					w := make([]float32, n*k)
					for i := range w {
						w[i] = float32(qi[i]) * s[i/GroupSize]
					}
					p, err = Quantize(w, n, k, 4)
				}
				if err != nil {
					t.Fatal(err)
				}
				dense := make([]float32, n*k)
				for j := 0; j < n; j++ {
					for c := 0; c < k; c++ {
						dense[j*k+c] = p.Weight(j, c)
					}
				}
				if bits == 8 && dense[k-1] != float32(qi[k-1])*s[(k-1)/GroupSize] {
					t.Fatalf("PackQ8 changed a weight: %g", dense[k-1])
				}
				for _, m := range []int{1, 2, 6, 7, 13} {
					a := randVec(r, m*k)
					want := make([]float32, m*n)
					MatMulTGeneric(want, a, dense, m, k, n)
					full, got := guarded(m * n)
					MatMulPacked(got, a, p, m)
					checkGuards(t, full, m*n, fmt.Sprintf("q%d %dx%dx%d", bits, m, k, n))
					for i := range want {
						if !close32(got[i], want[i], 2e-5*float64(k)) {
							t.Fatalf("q%d %dx%dx%d [%d]: %g, want %g", bits, m, k, n, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestQuantizeGrid: weights on an int4 grid (what QAT exports) survive int4 quantisation
// exactly, and int8 quantisation of int8-grid weights recovers the integers.
func TestQuantizeGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	n, k := 20, 64
	w := make([]float32, n*k)
	scales := make([]float32, n*k/GroupSize)
	for g := range scales {
		scales[g] = 0.01 + r.Float32()*0.1
		w[g*GroupSize] = 7 * scales[g] // each group reaches the grid's end, as max|w|/7 = scale
	}
	for i := range w {
		if i%GroupSize != 0 {
			w[i] = float32(r.IntN(15)-7) * scales[i/GroupSize]
		}
	}
	p, err := Quantize(w, n, k, 4)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < n; j++ {
		for c := 0; c < k; c++ {
			if got := p.Weight(j, c); !close32(got, w[j*k+c], 1e-6) {
				t.Fatalf("int4 [%d][%d] = %g, want %g", j, c, got, w[j*k+c])
			}
		}
	}
	if _, err := Quantize(w, n, 48, 4); err == nil {
		t.Fatal("k not a multiple of 32 accepted")
	}
	if _, err := Quantize(w, n, k, 3); err == nil {
		t.Fatal("3 bits accepted")
	}
	if _, err := PackQ8(make([]int8, 10), nil, n, k); err == nil {
		t.Fatal("short int8 data accepted")
	}
}

func TestPackedRow(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	n, k := 37, 64
	w := randVec(r, n*k)
	for _, bits := range []int{32, 8, 4} {
		var p *Packed
		if bits == 32 {
			p = Pack(w, n, k)
		} else {
			p, _ = Quantize(w, n, k, bits)
		}
		row := make([]float32, k)
		for j := 0; j < n; j++ {
			p.Row(row, j)
			for c, v := range row {
				if v != p.Weight(j, c) || (bits == 32 && v != w[j*k+c]) {
					t.Fatalf("bits %d row %d [%d]: %g, want %g", bits, j, c, v, p.Weight(j, c))
				}
				if bits == 8 && !close32(v, w[j*k+c], 0.02) { // half a step of max|w|/127 for randn groups
					t.Fatalf("int8 row %d [%d]: %g, far from %g", j, c, v, w[j*k+c])
				}
			}
		}
	}
}

func TestConcat(t *testing.T) { forEachSet(t, testConcat) }

func testConcat(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	k := 64
	for _, bits := range []int{32, 8, 4} {
		var parts []*Packed
		var dense []float32
		for _, n := range []int{32, 16, 7} {
			w := randVec(r, n*k)
			var p *Packed
			if bits == 32 {
				p = Pack(w, n, k)
			} else {
				p, _ = Quantize(w, n, k, bits)
			}
			parts = append(parts, p)
			for j := 0; j < n; j++ {
				for c := 0; c < k; c++ {
					dense = append(dense, p.Weight(j, c))
				}
			}
		}
		all, err := Concat(parts...)
		if err != nil {
			t.Fatal(err)
		}
		a := randVec(r, k)
		want := make([]float32, all.N)
		MatMulTGeneric(want, a, dense, 1, k, all.N)
		got := make([]float32, all.N)
		MatMulPacked(got, a, all, 1)
		for i := range want {
			if !close32(got[i], want[i], 1e-3) {
				t.Fatalf("bits %d [%d]: %g, want %g", bits, i, got[i], want[i])
			}
		}
		if _, err := Concat(parts[2], parts[0]); err == nil {
			t.Fatal("a 7-row matrix stacked above another")
		}
	}
}

func TestQuantizeX16(t *testing.T) { forEachSet(t, testQuantizeX16) }

func testQuantizeX16(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{1, 7, 8, 15, 16, 17, 33, 512} {
		x := randVec(r, n)
		x[n/2] = -4 // the largest magnitude, negative: must map to -32767
		full := make([]int16, n+16)
		for i := range full {
			full[i] = 0x5A5A
		}
		got := full[8 : 8+n]
		xs := quantizeX16(got, x)
		if xs != 4.0/32767 || got[n/2] != -32767 {
			t.Fatalf("n=%d: scale %g, extreme %d", n, xs, got[n/2])
		}
		want := make([]int16, n)
		quantX16Generic(want, x, 32767/float32(4))
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d [%d]: %d, want %d", n, i, got[i], want[i])
			}
		}
		for i := 0; i < 8; i++ {
			if full[i] != 0x5A5A || full[8+n+i] != 0x5A5A {
				t.Fatalf("n=%d: write outside dst", n)
			}
		}
	}
	if xs := quantizeX16(make([]int16, 4), make([]float32, 4)); xs != 1 {
		t.Fatalf("all-zero input: scale %g", xs)
	}
}

// A Decode copy serves one-row products only, and stacks with Concat.
func TestDecodeCopy(t *testing.T) { forEachSet(t, testDecodeCopy) }

func testDecodeCopy(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	k := 96
	var parts, parts4 []*Packed
	for _, n := range []int{32, 20} {
		w := randVec(r, n*k)
		p8, _ := Quantize(w, n, k, 8)
		p4, _ := Quantize(w, n, k, 4)
		parts4 = append(parts4, p4)
		c := *p8
		c.Decode = p4
		parts = append(parts, &c)
	}
	for _, ps := range [][]*Packed{parts[:1], parts} {
		p, err := Concat(ps...)
		if err != nil {
			t.Fatal(err)
		}
		p4, _ := Concat(parts4[:len(ps)]...)
		plain := *p
		plain.Decode = nil
		if p.Decode == nil || p.Bytes() != plain.Bytes()+p4.Bytes() {
			t.Fatalf("%d parts: Concat dropped the decode copy or Bytes miscounts it", len(ps))
		}
		for _, m := range []int{1, 3} {
			a := randVec(r, m*k)
			got, want := make([]float32, m*p.N), make([]float32, m*p.N)
			MatMulPacked(got, a, p, m)
			ref := &plain
			if m == 1 {
				ref = p4
			}
			MatMulPacked(want, a, ref, m)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%d parts, m=%d [%d]: %g, want %g from the %d-bit packing", len(ps), m, i, got[i], want[i], ref.Bits)
				}
			}
		}
	}
}
