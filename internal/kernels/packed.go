package kernels

import "sync"

// Packed weights for the register-tiled GEMM.
//
// Layout: a weight matrix W of n x k (PyTorch Linear: out x in) is stored as ceil(n/16)
// panels; panel q holds rows 16q..16q+15 of W interleaved along k:
//
//	Data[q*k*16 + p*16 + j] = W[16q+j][p]     (zero where 16q+j >= n)
//
// so the micro-kernel streams 16 consecutive floats (two YMM loads) per step of k and keeps
// a 6x16 tile of the output in 12 registers. The same layout serves decode (m = 1): one
// broadcast of x[p] per step, the weights read once, sequentially. Packing happens once at
// model load.
//
// Quantised weights (Bits 8 or 4) keep the same panel order with one float32 scale per row
// per 32 inputs (symmetric, as train/train.py exports them); within a panel the integers
// are laid out for VPMADDWD/VPDPWSSD, which multiply int16 pairs (w[p], w[p+1]) by the input
// pair (x[p], x[p+1]):
//
//	Q (int8):  Q[q*k*16 + (p/2)*32 + (j/8)*16 + (j%8)*2 + p%2]  = W[16q+j][p] / scale   (q8Offset)
//	Q (int4):  32-bit little-endian word at q*k*8 + (p/8)*64 + 4j holds steps 8(p/8)..+7 of
//	           row 16q+j as nibbles W/scale + 8; step 8b+r at bit 16*(r%2) + 4*(r/2)  (q4Offset)
//	S:         S[q*(k/32)*16 + (p/32)*16 + j]  = scale of W[16q+j][32*(p/32) ...]
//
// So an int4 block of 8 steps is one 64-byte load for the 16 rows: the words masked with
// 0x000F000F are the pairs (w+8) of steps (0, 1), masked with 0x00F000F0 16 times steps
// (2, 3), and shifted right by 8 the same masks give (4, 5) and (6, 7). The +8 offset is
// taken out per group with the input's group sum (q4GroupSums); 0x88 is a zero pair, so
// padding rows are exact zeros.
//
// Decode (m = 1) reads them directly, with integer sums per group over the input converted
// to int16 (gemvQ8*, gemvQ4*: a quarter or an eighth of the fp32 bytes); prefill runs the
// int8 GEMM where the kernel set has one, else expands one panel at a time to fp32 in a
// small buffer and runs the fp32 micro-kernel over it, so the expansion is paid once per
// panel, not per row.
type Packed struct {
	N, K int
	Bits int       // 32 (Data), 8 or 4 (Q and S)
	Data []float32 // fp32 panels
	Q    []byte    // quantised panels
	S    []float32 // scales, per panel, per group of 32 inputs, per row
	// Decode, when set, is another packing of the same weights that one-row products
	// (decode) use instead: an int4 copy of int8 weights that lie on the int4 grid (an int4
	// QAT export), so prefill keeps the int8 GEMM and decode streams half the bytes.
	Decode *Packed
}

// Bytes is the memory the packed weights hold, a Decode copy included.
func (p *Packed) Bytes() int64 {
	n := int64(4*len(p.Data) + len(p.Q) + 4*len(p.S))
	if p.Decode != nil {
		n += p.Decode.Bytes()
	}
	return n
}

// Pack lays out w (n x k, row-major) in panels of 16 rows.
func Pack(w []float32, n, k int) *Packed {
	panels := (n + 15) / 16
	p := &Packed{N: n, K: k, Bits: 32, Data: make([]float32, panels*k*16)}
	for q := 0; q < panels; q++ {
		base := p.Data[q*k*16 : (q+1)*k*16]
		for j := 0; j < 16 && 16*q+j < n; j++ {
			row := w[(16*q+j)*k : (16*q+j+1)*k]
			for pp, v := range row {
				base[pp*16+j] = v
			}
		}
	}
	return p
}

// gemmMicroGeneric is the oracle of the micro-kernels: c[i*ldc+j] = sum_p a[i*lda+p]*b[p*16+j]
// for i < mr, j < 16.
func gemmMicroGeneric(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	for i := 0; i < mr; i++ {
		var acc [16]float32
		ai := a[i*lda : i*lda+k]
		for p, x := range ai {
			bp := b[p*16 : p*16+16]
			for j := range acc {
				acc[j] += x * bp[j]
			}
		}
		copy(c[i*ldc:i*ldc+16], acc[:])
	}
}

// MatMulPacked computes dst (m x N) = a (m x K) times W^T for packed W. Panels of 16 output
// columns are split across the worker pool; each panel stays in cache while blocks of rows
// of a stream past it.
//
// With int8 or int4 weights, a one-row product (decode) runs the int8 or int4 GEMV over a
// converted to int16; with int8 weights a many-row one (prefill) quantises each row of a to int16 with its own scale and runs the
// int8 GEMM (integer sums per group of 32) where the kernel set has one, else it expands each
// panel to fp32 for the fp32 GEMM.
func MatMulPacked(dst, a []float32, w *Packed, m int) {
	if m == 1 && w.Decode != nil {
		w = w.Decode
	}
	_ = dst[m*w.N-1]
	_ = a[m*w.K-1]
	panels := (w.N + 15) / 16
	j := matJobs.Get().(*matJob)
	j.dst, j.a, j.w, j.m = dst, a, w, m
	if nt := Threads() * mrMax * 16; len(j.tiles) < nt {
		j.tiles = make([]float32, nt)
	}
	if (w.Bits == 8 && (m == 1 || cur.gemmQ8 != nil)) || (w.Bits == 4 && m == 1) {
		// The int8 kernels take their input as int16, converted once here for every worker.
		if cap(j.x16buf) < m*w.K {
			j.x16buf = make([]int16, m*w.K)
		}
		if cap(j.xsbuf) < m {
			j.xsbuf = make([]float32, m)
		}
		j.x16, j.xs = j.x16buf[:m*w.K], j.xsbuf[:m]
		for i := 0; i < m; i++ {
			j.xs[i] = quantizeX16(j.x16[i*w.K:(i+1)*w.K], a[i*w.K:(i+1)*w.K])
		}
		if w.Bits == 4 {
			if cap(j.xgbuf) < w.K/GroupSize {
				j.xgbuf = make([]int32, w.K/GroupSize)
			}
			j.xg = j.xgbuf[:w.K/GroupSize]
			q4GroupSums(j.xg, j.x16)
		}
	}
	if m*w.N*w.K < parallelMinWork || Threads() == 1 || (m == 1 && w.Bits != 32 && w.N*w.K < gemvParallelMinWeights) {
		j.run(0, 0, panels)
	} else {
		parallelRun(panels, j)
	}
	j.dst, j.a, j.w, j.x16, j.xs, j.xg = nil, nil, nil, nil, nil, nil
	matJobs.Put(j)
}

// gemvParallelMinWeights: a quantised GEMV smaller than this runs on the calling goroutine.
// It streams weights from L3, and one core already reaches L3 bandwidth: on the reference
// machine (2 cores, Zen 3) int8 512x8192 took 83 us on one thread and 84 on two, 512x512
// 9.5 us on one and 19.9 on two.
const gemvParallelMinWeights = 16 << 20

// matJob is one product; its buffers (int16 input, row scales, int4 group sums, a tile per
// worker slot for a last partial panel) are kept across uses, so a warm product allocates nothing.
type matJob struct {
	dst, a      []float32
	w           *Packed
	m           int
	x16, x16buf []int16
	xs, xsbuf   []float32
	xg, xgbuf   []int32
	tiles       []float32
}

func (j *matJob) run(slot, lo, hi int) {
	tile := j.tiles[slot*mrMax*16 : (slot+1)*mrMax*16]
	switch {
	case j.m == 1 && j.w.Bits != 32:
		gemvPanels(j.dst, j.x16, j.xg, j.xs, j.w, lo, hi, tile)
	case j.w.Bits == 8 && j.x16 != nil:
		matMulQ8Range(j.dst, j.x16, j.xs, j.w, j.m, lo, hi, tile)
	case j.w.Bits != 32:
		matMulQuantRange(j.dst, j.a, j.w, j.m, lo, hi, tile)
	default:
		matMulPackedRange(j.dst, j.a, j.w, j.m, lo, hi, tile)
	}
}

var matJobs = sync.Pool{New: func() any { return new(matJob) }}

func matMulPackedRange(dst, a []float32, w *Packed, m, q0, q1 int, tile []float32) {
	k, n, tm := w.K, w.N, cur.mr
	for q := q0; q < q1; q++ {
		b := w.Data[q*k*16 : (q+1)*k*16]
		j0 := q * 16
		full := j0+16 <= n
		for i0 := 0; i0 < m; i0 += tm {
			mr := min(tm, m-i0)
			if full {
				gemmMicro(mr, k, a[i0*k:], k, b, dst[i0*n+j0:], n)
				continue
			}
			gemmMicro(mr, k, a[i0*k:], k, b, tile, 16)
			for i := 0; i < mr; i++ {
				copy(dst[(i0+i)*n+j0:(i0+i)*n+n], tile[i*16:i*16+n-j0])
			}
		}
	}
}
