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
// per 32 inputs (symmetric, as train/train.py exports them):
//
//	Q (int8):  Q[q*k*16 + p*16 + j]            = W[16q+j][p] / scale
//	Q (int4):  Q[q*k*8 + p*8 + i]              = (W[16q+i][p]/scale + 8) | (W[16q+i+8][p]/scale + 8) << 4
//	S:         S[q*(k/32)*16 + (p/32)*16 + j]  = scale of W[16q+j][32*(p/32) ...]
//
// Decode (m = 1) reads them directly (gemvQ8x16/gemvQ4x16: a quarter or an eighth of the
// fp32 bytes); prefill expands one panel at a time to fp32 in a small buffer and runs the
// fp32 micro-kernel over it, so the expansion is paid once per panel, not per row.
type Packed struct {
	N, K int
	Bits int       // 32 (Data), 8 or 4 (Q and S)
	Data []float32 // fp32 panels
	Q    []byte    // quantised panels
	S    []float32 // scales, per panel, per group of 32 inputs, per row
}

// Bytes is the memory the packed weights hold.
func (p *Packed) Bytes() int64 { return int64(4*len(p.Data) + len(p.Q) + 4*len(p.S)) }

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
// columns are split across the worker pool; each panel stays in cache while 6-row blocks of
// a stream past it.
func MatMulPacked(dst, a []float32, w *Packed, m int) {
	_ = dst[m*w.N-1]
	_ = a[m*w.K-1]
	panels := (w.N + 15) / 16
	j := matJobs.Get().(*matJob)
	*j = matJob{dst: dst, a: a, w: w, m: m}
	if m == 1 && w.Bits == 8 {
		// The int8 GEMV takes its input as int16, converted once here for every worker.
		if cap(j.x16buf) < w.K {
			j.x16buf = make([]int16, w.K)
		}
		j.x16 = j.x16buf[:w.K]
		j.xs = quantizeX16(j.x16, a[:w.K])
	}
	if m*w.N*w.K < parallelMinWork || Threads() == 1 || (m == 1 && w.Bits != 32 && w.N*w.K < gemvParallelMinWeights) {
		j.run(0, 0, panels)
	} else {
		parallelRun(panels, j)
	}
	buf := j.x16buf
	*j = matJob{x16buf: buf}
	matJobs.Put(j)
}

// gemvParallelMinWeights: a quantised GEMV smaller than this runs on the calling goroutine.
// It streams weights from L3, and one core already reaches L3 bandwidth: on the reference
// machine (2 cores, Zen 3) int8 512x8192 took 83 us on one thread and 84 on two, 512x512
// 9.5 us on one and 19.9 on two.
const gemvParallelMinWeights = 16 << 20

type matJob struct {
	dst, a      []float32
	w           *Packed
	m           int
	x16, x16buf []int16
	xs          float32
}

func (j *matJob) run(_, lo, hi int) {
	if j.m == 1 && j.w.Bits != 32 {
		gemvPanels(j.dst, j.a, j.x16, j.xs, j.w, lo, hi)
		return
	}
	matMulPackedRange(j.dst, j.a, j.w, j.m, lo, hi)
}

var matJobs = sync.Pool{New: func() any { return new(matJob) }}

func matMulPackedRange(dst, a []float32, w *Packed, m, q0, q1 int) {
	if w.Bits != 32 {
		matMulQuantRange(dst, a, w, m, q0, q1)
		return
	}
	k, n := w.K, w.N
	var tile []float32 // only for a last, partial panel (n not a multiple of 16)
	for q := q0; q < q1; q++ {
		b := w.Data[q*k*16 : (q+1)*k*16]
		j0 := q * 16
		full := j0+16 <= n
		for i0 := 0; i0 < m; i0 += 6 {
			mr := min(6, m-i0)
			if full {
				gemmMicro(mr, k, a[i0*k:], k, b, dst[i0*n+j0:], n)
				continue
			}
			if tile == nil {
				tile = make([]float32, 6*16)
			}
			gemmMicro(mr, k, a[i0*k:], k, b, tile, 16)
			for i := 0; i < mr; i++ {
				copy(dst[(i0+i)*n+j0:(i0+i)*n+n], tile[i*16:i*16+n-j0])
			}
		}
	}
}
