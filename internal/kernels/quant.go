package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// GroupSize is the number of consecutive inputs that share one quantisation scale.
const GroupSize = 32

// PackQ8 packs int8 weights q (n x k, row-major) with their scales s (n x k/32), the layout
// train/train.py exports; w[j][p] = q[j][p] * s[j][p/32].
func PackQ8(q []int8, s []float32, n, k int) (*Packed, error) {
	if err := checkQuantShape(len(q), len(s), n, k); err != nil {
		return nil, err
	}
	p := newQuant(n, k, 8)
	for j := 0; j < n; j++ {
		p.setRow(j, q[j*k:(j+1)*k])
		p.setScales(j, s[j*(k/GroupSize):(j+1)*(k/GroupSize)])
	}
	return p, nil
}

// Quantize packs fp32 weights w (n x k) as symmetric int8 or int4 with one scale per 32
// inputs: scale = max|w| / 127 (int8) or / 7 (int4), values rounded to nearest. Applied to
// weights that already lie on such a grid (int4 QAT), it recovers that grid.
func Quantize(w []float32, n, k, bits int) (*Packed, error) {
	if bits != 8 && bits != 4 {
		return nil, fmt.Errorf("kernels: cannot quantise to %d bits (8 or 4)", bits)
	}
	if err := checkQuantShape(len(w), n*(k/GroupSize), n, k); err != nil {
		return nil, err
	}
	levels := float32(127)
	if bits == 4 {
		levels = 7
	}
	p := newQuant(n, k, bits)
	sc := make([]float32, k/GroupSize)
	row := make([]int8, k)
	for j := 0; j < n; j++ {
		wr := w[j*k : j*k+k]
		for g := range sc {
			var mx float32
			for _, v := range wr[g*GroupSize : (g+1)*GroupSize] {
				mx = max(mx, float32(math.Abs(float64(v))))
			}
			s := mx / levels
			if s == 0 {
				s = 1
			}
			sc[g] = s
			for c := g * GroupSize; c < (g+1)*GroupSize; c++ {
				row[c] = int8(max(-levels, min(levels, float32(math.RoundToEven(float64(wr[c]/s))))))
			}
		}
		p.setScales(j, sc)
		p.setRow(j, row)
	}
	return p, nil
}

func checkQuantShape(nq, ns, n, k int) error {
	if k <= 0 || k%GroupSize != 0 || n <= 0 || nq < n*k || ns < n*(k/GroupSize) {
		return fmt.Errorf("kernels: quantised %dx%d weights need k a multiple of %d and %d values, %d scales (got %d, %d)", n, k, GroupSize, n*k, n*(k/GroupSize), nq, ns)
	}
	return nil
}

func newQuant(n, k, bits int) *Packed {
	panels := (n + 15) / 16
	p := &Packed{N: n, K: k, Bits: bits, Q: make([]byte, panels*k*16*bits/8), S: make([]float32, panels*(k/GroupSize)*16)}
	if bits == 4 {
		for i := range p.Q {
			p.Q[i] = 0x88 // zero in both nibbles, so padding rows are exact zeros
		}
	}
	return p
}

func (p *Packed) setScales(j int, s []float32) {
	k, pq, jj := p.K, j/16, j%16
	for g, v := range s {
		p.S[pq*(k/GroupSize)*16+g*16+jj] = v
	}
}

func (p *Packed) setRow(j int, row []int8) {
	k, pq, jj := p.K, j/16, j%16
	if p.Bits == 8 {
		base := p.Q[pq*k*16:]
		for c, v := range row {
			base[q8Offset(c, jj)] = byte(v)
		}
		return
	}
	base := p.Q[pq*k*8:]
	for c, v := range row {
		off, sh := q4Offset(c, jj)
		b := &base[off]
		*b = *b&^(0xf<<sh) | byte(v+8)<<sh
	}
}

// Weight returns w[j][c] as the packed form represents it; for tests and tools, not hot paths.
func (p *Packed) Weight(j, c int) float32 {
	k, pq, jj := p.K, j/16, j%16
	switch p.Bits {
	case 32:
		return p.Data[pq*k*16+c*16+jj]
	case 8:
		return float32(int8(p.Q[pq*k*16+q8Offset(c, jj)])) * p.S[pq*(k/GroupSize)*16+(c/GroupSize)*16+jj]
	}
	return float32(quantAt(4, p.Q[pq*k*8:], c, jj)) * p.S[pq*(k/GroupSize)*16+(c/GroupSize)*16+jj]
}

// q8Offset is where step p of panel row j lives within an int8 panel: steps in pairs,
// rows 0..7 then 8..15, so VPMADDWD can multiply a row's (p, p+1) by two int16 inputs.
func q8Offset(p, j int) int { return (p/2)*32 + (j/8)*16 + (j%8)*2 + p%2 }

// q4Offset is where step p of panel row j lives within an int4 panel: the byte and the
// nibble's shift in it. Steps come in blocks of 8; block b is 64 bytes, one little-endian
// 32-bit word per row (4j), step 8b+r the nibble w+8 at bit 16*(r%2) + 4*(r/2): steps
// 0, 2, 4, 6 in the low half-word, 1, 3, 5, 7 in the high one. So the word masked with
// 0x000F000F is the int16 pair (w[0]+8, w[1]+8) that VPMADDWD/VPDPWSSD multiplies by
// (x[0], x[1]); masked with 0x00F000F0 it is 16 times steps (2, 3); shifted right by 8,
// the same two masks give steps (4, 5) and 16 times (6, 7).
func q4Offset(p, j int) (int, uint) {
	r := p % 8
	bit := 16*(r%2) + 4*(r/2)
	return (p/8)*64 + 4*j + bit/8, uint(bit % 8)
}

// quantizeX16 writes x as int16 with one scale (max|x|/32767) and returns the scale: the
// activations of the int8 GEMV. The rounding error, under 2e-5 of max|x|, is two orders
// below that of the int8 weights.
func quantizeX16(dst []int16, x []float32) float32 {
	dst = dst[:len(x)]
	mx := absMax(x)
	if mx == 0 {
		clear(dst)
		return 1
	}
	quantX16(dst, x, 32767/mx)
	return mx / 32767
}

func absMaxGeneric(x []float32) float32 {
	var mx float32
	for _, v := range x {
		mx = max(mx, float32(math.Abs(float64(v))))
	}
	return mx
}

// quantX16Generic is the oracle of the vector conversion: round to nearest, ties to even.
func quantX16Generic(dst []int16, x []float32, inv float32) {
	for i, v := range x {
		dst[i] = int16(math.RoundToEven(float64(v * inv)))
	}
}

// gemvQ8Generic is the oracle of gemvQ8x16: the same integer sums per group. In the panel,
// step pair pp of row j is the two bytes at pp*32 + 2j (q8Offset), which the loop walks in
// order.
func gemvQ8Generic(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	var acc [16]float32
	for g := 0; g < k/GroupSize; g++ {
		var sums [16]int32
		for pp := g * GroupSize / 2; pp < (g+1)*GroupSize/2; pp++ {
			x0, x1 := int32(x[2*pp]), int32(x[2*pp+1])
			b := q[pp*32 : pp*32+32]
			for j := range sums {
				sums[j] += x0*int32(int8(b[2*j])) + x1*int32(int8(b[2*j+1]))
			}
		}
		for j := range acc {
			acc[j] += s[g*16+j] * float32(sums[j])
		}
	}
	for j := range acc {
		c[j] = acc[j] * xs
	}
}

// q4GroupSums writes xg[g] = -8 * sum of x over group g: what the int4 kernels start each
// group's integer sum from, so that summing (w+8)*x over the group's nibbles gives sum w*x.
func q4GroupSums(xg []int32, x []int16) {
	for g := range xg {
		var sum int32
		for _, v := range x[g*GroupSize : (g+1)*GroupSize] {
			sum += int32(v)
		}
		xg[g] = -8 * sum
	}
}

// gemvQ4Generic is the oracle of the int4 GEMVs (gemvQ4x16, gemvQ4AVX512, gemvQ4VNNI): the
// same exact integer sums per group over int16 activations as gemvQ8Generic, walking the
// panel's 64-byte blocks of 8 steps (q4Offset) in order. It subtracts the nibbles' offset
// from each weight instead of starting from the group sums xg (q4GroupSums), so comparing
// a kernel against it checks xg too.
func gemvQ4Generic(k int, x []int16, xg []int32, xs float32, q []byte, s []float32, c []float32) {
	_ = xg
	var acc [16]float32
	for g := 0; g < k/GroupSize; g++ {
		var sums [16]int32
		for b := g * GroupSize / 8; b < (g+1)*GroupSize/8; b++ {
			blk, xb := q[b*64:b*64+64], x[b*8:b*8+8]
			for j := range sums {
				d := binary.LittleEndian.Uint32(blk[4*j:])
				for i := 0; i < 4; i++ {
					w0, w1 := int32(d>>(4*i)&0xf)-8, int32(d>>(16+4*i)&0xf)-8
					sums[j] += w0*int32(xb[2*i]) + w1*int32(xb[2*i+1])
				}
			}
		}
		for j := range acc {
			acc[j] += s[g*16+j] * float32(sums[j])
		}
	}
	for j := range acc {
		c[j] = acc[j] * xs
	}
}

// dequantQGeneric is the oracle of dequantQ8x16/dequantQ4x16.
func dequantQGeneric(bits, k int, q []byte, s []float32, dst []float32) {
	for p := 0; p < k; p++ {
		for j := 0; j < 16; j++ {
			dst[p*16+j] = float32(quantAt(bits, q, p, j)) * s[(p/GroupSize)*16+j]
		}
	}
}

// quantAt is the integer at step p, row j of one panel.
func quantAt(bits int, q []byte, p, j int) int {
	if bits == 8 {
		return int(int8(q[q8Offset(p, j)]))
	}
	off, sh := q4Offset(p, j)
	return int(q[off]>>sh&0xf) - 8
}

var panelBufs = sync.Pool{New: func() any { return new([]float32) }}

// gemvPanels computes output panels q0..q1 of a one-row product over int8 or int4 weights;
// x16 and xs are the row as int16 (quantizeX16), xg its group sums for int4 (q4GroupSums).
// tile (16 floats) takes a last, partial panel.
func gemvPanels(dst []float32, x16 []int16, xg []int32, xs []float32, w *Packed, q0, q1 int, tile []float32) {
	k, n, bits := w.K, w.N, w.Bits
	qStride, sStride := k*16*bits/8, (k/GroupSize)*16
	for q := q0; q < q1; q++ {
		j0 := q * 16
		qp, sp := w.Q[q*qStride:(q+1)*qStride], w.S[q*sStride:(q+1)*sStride]
		c := tile[:16]
		if j0+16 <= n {
			c = dst[j0 : j0+16]
		}
		if bits == 8 {
			gemvQ8(k, x16, xs[0], qp, sp, c)
		} else {
			gemvQ4(k, x16, xg, xs[0], qp, sp, c)
		}
		if j0+16 > n {
			copy(dst[j0:n], tile[:n-j0])
		}
	}
}

// matMulQ8Range computes output panels q0..q1 of a many-row product over int8 weights with
// the set's int8 GEMM: rows of x16 (m x K) are the input quantised per row, xs their scales.
func matMulQ8Range(dst []float32, x16 []int16, xs []float32, w *Packed, m, q0, q1 int, ctile []float32) {
	k, n, tm := w.K, w.N, cur.qmr
	qStride, sStride := k*16, (k/GroupSize)*16
	for q := q0; q < q1; q++ {
		qp, sp := w.Q[q*qStride:(q+1)*qStride], w.S[q*sStride:(q+1)*sStride]
		j0 := q * 16
		full := j0+16 <= n
		for i0 := 0; i0 < m; i0 += tm {
			mr := min(tm, m-i0)
			if full {
				cur.gemmQ8(mr, k, x16[i0*k:], k, xs[i0:], qp, sp, dst[i0*n+j0:], n)
				continue
			}
			cur.gemmQ8(mr, k, x16[i0*k:], k, xs[i0:], qp, sp, ctile, 16)
			for i := 0; i < mr; i++ {
				copy(dst[(i0+i)*n+j0:(i0+i)*n+n], ctile[i*16:i*16+n-j0])
			}
		}
	}
}

// matMulQuantRange computes output panels q0..q1 of a many-row product by expanding each
// quantised panel to fp32 in a per-worker buffer and running the fp32 GEMM over it.
func matMulQuantRange(dst, a []float32, w *Packed, m, q0, q1 int, ctile []float32) {
	k, n, bits, tm := w.K, w.N, w.Bits, cur.mr
	qStride, sStride := k*16*bits/8, (k/GroupSize)*16
	bp := panelBufs.Get().(*[]float32)
	if cap(*bp) < 16*k {
		*bp = make([]float32, 16*k)
	}
	buf := (*bp)[:16*k]
	for q := q0; q < q1; q++ {
		dequantQ(bits, k, w.Q[q*qStride:(q+1)*qStride], w.S[q*sStride:(q+1)*sStride], buf)
		j0 := q * 16
		full := j0+16 <= n
		for i0 := 0; i0 < m; i0 += tm {
			mr := min(tm, m-i0)
			if full {
				gemmMicro(mr, k, a[i0*k:], k, buf, dst[i0*n+j0:], n)
				continue
			}
			gemmMicro(mr, k, a[i0*k:], k, buf, ctile, 16)
			for i := 0; i < mr; i++ {
				copy(dst[(i0+i)*n+j0:(i0+i)*n+n], ctile[i*16:i*16+n-j0])
			}
		}
	}
	panelBufs.Put(bp)
}

// Row writes row j of the matrix, as the packed form represents it, to dst[:K]: the
// embedding lookup reads the same packed matrix the output projection uses.
func (p *Packed) Row(dst []float32, j int) {
	k, pq, jj := p.K, j/16, j%16
	dst = dst[:k]
	switch p.Bits {
	case 32:
		base := p.Data[pq*k*16+jj:]
		for c := range dst {
			dst[c] = base[c*16]
		}
	case 8:
		q, s := p.Q[pq*k*16:], p.S[pq*(k/GroupSize)*16+jj:]
		for c := range dst {
			dst[c] = float32(int8(q[q8Offset(c, jj)])) * s[(c/GroupSize)*16]
		}
	default:
		for c := range dst {
			dst[c] = p.Weight(j, c)
		}
	}
}

// Concat stacks matrices with the same K and format into one (rows of a, then b, ...), so
// projections that read the same input (a decoder step's Q, K and V) run as one product
// and one dispatch to the worker pool. Every matrix but the last must have N a multiple of
// 16, so panels never straddle two of them.
func Concat(ps ...*Packed) (*Packed, error) {
	out := &Packed{K: ps[0].K, Bits: ps[0].Bits}
	for i, p := range ps {
		if p.K != out.K || p.Bits != out.Bits || (i < len(ps)-1 && p.N%16 != 0) {
			return nil, fmt.Errorf("kernels: cannot stack %dx%d int%d under %dx%d int%d", p.N, p.K, p.Bits, out.N, out.K, out.Bits)
		}
		out.N += p.N
		out.Data = append(out.Data, p.Data...)
		out.Q = append(out.Q, p.Q...)
		out.S = append(out.S, p.S...)
	}
	// The decode copies stack too when every part has one.
	var decs []*Packed
	for _, p := range ps {
		if p.Decode != nil {
			decs = append(decs, p.Decode)
		}
	}
	if len(decs) == len(ps) {
		d, err := Concat(decs...)
		if err != nil {
			return nil, err
		}
		out.Decode = d
	}
	return out, nil
}

// gemmQ8Generic is the oracle of the int8 prefill GEMM: for rows i < mr of int16 inputs
// (row i scaled by xs[i]) and one int8 panel, exact int32 sums per group of 32 steps, each
// converted once and multiplied by the panel's scale: c[i*ldc+j] = xs[i] * sum_g s[g*16+j] *
// sum_{p in g} a[i*lda+p]*q[j][p].
func gemmQ8Generic(mr, k int, a []int16, lda int, xs []float32, q []byte, s []float32, c []float32, ldc int) {
	for i := 0; i < mr; i++ {
		gemvQ8Generic(k, a[i*lda:i*lda+k], xs[i], q, s, c[i*ldc:i*ldc+16])
	}
}
