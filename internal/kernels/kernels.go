package kernels

import (
	"math"
	"sync"
)

// Dot returns sum(a[i]*b[i]) for i < len(a); len(b) >= len(a).
func Dot(a, b []float32) float32 { return dot(a, b) }

// Axpy computes y[i] += alpha*x[i] for i < len(x).
func Axpy(y []float32, alpha float32, x []float32) { axpy(y, alpha, x) }

// MatMulT computes dst (m x n) = a (m x k) times b^T, with b stored n x k (a PyTorch Linear
// weight, out x in). Rows of dst are split across the worker pool when the work is large.
func MatMulT(dst, a, b []float32, m, k, n int) {
	_ = dst[m*n-1]
	_ = a[m*k-1]
	_ = b[n*k-1]
	work := m * n * k
	if work < parallelMinWork || Threads() == 1 {
		matMulTRange(dst, a, b, m, k, n, 0, n)
		return
	}
	// Split along n (output features): each worker reads a disjoint slice of the weights,
	// which is what keeps two cores from fighting over memory bandwidth at m == 1.
	Parallel(n, func(lo, hi int) { matMulTRange(dst, a, b, m, k, n, lo, hi) }) // load-time and test path only
}

func matMulTRange(dst, a, b []float32, m, k, n, lo, hi int) {
	// Block over rows of b so a tile of weights stays in cache across rows of a.
	const jb = 64
	for j0 := lo; j0 < hi; j0 += jb {
		j1 := min(j0+jb, hi)
		for i := 0; i < m; i++ {
			ai := a[i*k : i*k+k]
			di := dst[i*n : i*n+n]
			for j := j0; j < j1; j++ {
				di[j] = dot(ai, b[j*k:j*k+k])
			}
		}
	}
}

// parallelMinWork is the multiply-add count below which splitting costs more than it saves.
const parallelMinWork = 1 << 16

// ZCRMSNorm writes dst = (1 + gamma) * x / sqrt(mean(x^2) + eps) for each row of length
// len(gamma). dst may alias x. Many rows (prefill) are split over the worker pool.
func ZCRMSNorm(dst, x, gamma []float32, eps float32) {
	rows := len(x) / len(gamma)
	if len(x) < rowsParallelMin || Threads() == 1 {
		zcrmsNormRows(dst, x, gamma, eps, 0, rows)
		return
	}
	j := rowJobs.Get().(*rowJob)
	*j = rowJob{dst: dst, x: x, gamma: gamma, eps: eps}
	parallelRun(rows, j)
	*j = rowJob{}
	rowJobs.Put(j)
}

func zcrmsNormRows(dst, x, gamma []float32, eps float32, r0, r1 int) {
	d := len(gamma)
	for r := r0; r < r1; r++ {
		row := x[r*d : r*d+d]
		ss := dot(row, row)
		inv := float32(1 / math.Sqrt(float64(ss/float32(d)+eps)))
		normScale(dst[r*d:r*d+d], row, gamma, inv)
	}
}

// rowsParallelMin is the element count from which row-wise kernels (norms, RoPE) split
// their rows over the worker pool: a prefill's, not a decode step's.
const rowsParallelMin = 1 << 15

// rowJob is a pooled unit of row-wise work: a norm (gamma set) or a rotation (cos set).
type rowJob struct {
	dst, x, gamma, cos, sin []float32
	eps                     float32
	nHeads, headDim, pos0   int
}

var rowJobs = sync.Pool{New: func() any { return new(rowJob) }}

func (j *rowJob) run(_, lo, hi int) {
	if j.gamma != nil {
		zcrmsNormRows(j.dst, j.x, j.gamma, j.eps, lo, hi)
		return
	}
	ropeRows(j.x, j.nHeads, j.headDim, j.pos0, j.cos, j.sin, lo, hi)
}

// RoPE rotates x in place, rotate-half layout: x is rows of nHeads*headDim at positions
// pos0, pos0+1, ...; cos and sin are tables of [maxPos][headDim/2].
func RoPE(x []float32, nHeads, headDim, pos0 int, cos, sin []float32) {
	rows := len(x) / (nHeads * headDim)
	if len(x) < rowsParallelMin || Threads() == 1 {
		ropeRows(x, nHeads, headDim, pos0, cos, sin, 0, rows)
		return
	}
	j := rowJobs.Get().(*rowJob)
	*j = rowJob{x: x, nHeads: nHeads, headDim: headDim, pos0: pos0, cos: cos, sin: sin}
	parallelRun(rows, j)
	*j = rowJob{}
	rowJobs.Put(j)
}

func ropeRows(x []float32, nHeads, headDim, pos0 int, cos, sin []float32, r0, r1 int) {
	half := headDim / 2
	row := nHeads * headDim
	for r := r0; r < r1; r++ {
		p := pos0 + r
		c := cos[p*half : p*half+half]
		s := sin[p*half : p*half+half]
		for h := 0; h < nHeads; h++ {
			v := x[r*row+h*headDim : r*row+h*headDim+headDim]
			x1, x2 := v[:half], v[half:]
			for i := 0; i < half; i++ {
				a, b := x1[i], x2[i]
				x1[i] = a*c[i] - b*s[i]
				x2[i] = b*c[i] + a*s[i]
			}
		}
	}
}

// RoPETables fills cos and sin ([maxPos][headDim/2]) for theta. The angles are computed in
// float32 exactly as the PyTorch reference does, so positions far from 0 agree too.
func RoPETables(cos, sin []float32, maxPos, headDim int, theta float64) {
	half := headDim / 2
	for i := 0; i < half; i++ {
		inv := float32(1.0 / math.Pow(theta, float64(float32(2*i))/float64(headDim)))
		for p := 0; p < maxPos; p++ {
			f := float32(p) * inv
			cos[p*half+i] = float32(math.Cos(float64(f)))
			sin[p*half+i] = float32(math.Sin(float64(f)))
		}
	}
}

// Softmax replaces x with softmax(x) in place and returns the log of its normaliser
// (logsumexp), which callers use for log-probabilities.
func Softmax(x []float32) float32 { return softmaxScaled(x, 1) }

// softmaxScaled replaces x with softmax(scale*x), scale > 0, and returns logsumexp(scale*x).
func softmaxScaled(x []float32, scale float32) float32 {
	if len(x) == 0 {
		return 0
	}
	mx := vecMax(x)
	sum := expSum(x, mx, scale)
	scal(x, 1/sum)
	return mx*scale + float32(math.Log(float64(sum)))
}

// LogSumExp returns log(sum(exp(x))) without modifying x.
func LogSumExp(x []float32) float32 {
	mx := vecMax(x)
	var sum float32
	for _, v := range x {
		sum += Exp(v - mx)
	}
	return mx + float32(math.Log(float64(sum)))
}

// Exp is a float32 exp accurate to about 2 ulp over the float32 range: a Cody-Waite range
// reduction to [-ln2/2, ln2/2] and a degree-6 polynomial, branch-free in the common range,
// which is what lets the assembly twin vectorise it.
func Exp(x float32) float32 {
	if x < -87.3 {
		return 0
	}
	if x > 88.7 {
		return float32(math.Inf(1))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	// Minimax polynomial for e^r on [-ln2/2, ln2/2] (Cephes expf).
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Attention computes, for each query row i < tq and head h, softmax(scale * q[i,h] . K[g]^T) V[g]
// into dst[i, h*headDim:], where g = h / (nHeads/nKV) is the key/value head that query head
// shares (GQA). q is tq x nHeads*headDim; k and v are tk x nKV*headDim. With causal >= 0,
// row i sees keys j <= i + causal only. scratch holds at least AttentionScratch(...) floats.
//
// When headDim is a multiple of 16, K and V are laid out as GEMM panels (KVPanels) in the
// scratch and both products run on the register-tiled micro-kernel (AttendPanels); other
// head dims take a dot/axpy loop per row.
func Attention(dst, q, k, v, scratch []float32, tq, tk, nHeads, nKV, headDim int, scale float32, causal int) {
	_ = scratch[AttentionScratch(tq, tk, nHeads, nKV, headDim)-1]
	if headDim%16 == 0 {
		size := KVPanelsSize(nKV, headDim, tk)
		kv := KVPanels{Data: scratch[:size], NKV: nKV, HeadDim: headDim, Cap: tk}
		kv.Set(k, v, 0, tk)
		AttendPanels(dst, q, &kv, scratch[size:], tq, tk, nHeads, scale, causal)
		return
	}
	j := attnJobs.Get().(*attnJob)
	*j = attnJob{dst: dst, q: q, k: k, v: v, scratch: scratch, tq: tq, tk: tk, nHeads: nHeads, nKV: nKV, headDim: headDim, scale: scale, causal: causal}
	if tq*tk*headDim < parallelMinWork/4 {
		j.run(0, 0, nHeads)
	} else {
		parallelRun(nHeads, j)
	}
	*j = attnJob{}
	attnJobs.Put(j)
}

// AttentionScratch is the number of scratch floats Attention needs for these shapes.
func AttentionScratch(tq, tk, nHeads, nKV, headDim int) int {
	if headDim%16 != 0 {
		return max(1, nHeads*tk)
	}
	return KVPanelsSize(nKV, headDim, tk) + AttendScratch(tq, tk, nHeads, nKV)
}

// KVPanels holds the keys and values of one attention block for up to Cap positions, laid
// out for the GEMM micro-kernel: per kv head g, keys in panels of 16 positions
// (K_g[t][p] at panel t/16, offset p*16 + t%16) so scores are a product against "weights"
// K_g; values in panels of 16 head dims (V_g[t][16c+j] at panel c, offset t*16 + j) so the
// output is a product against V_g^T. A decode step appends one position with Set; the
// products then read only the first tk positions.
type KVPanels struct {
	Data         []float32 // KVPanelsSize(NKV, HeadDim, Cap) floats: keys, then values
	NKV, HeadDim int
	Cap          int
}

// KVPanelsSize is the floats a KVPanels of this shape holds.
func KVPanelsSize(nKV, headDim, capT int) int { return 2 * nKV * ((capT + 15) &^ 15) * headDim }

// Set writes positions t0..t0+n-1 from row-major k and v (n x NKV*HeadDim).
func (p *KVPanels) Set(k, v []float32, t0, n int) {
	hd, kvd, capP := p.HeadDim, p.NKV*p.HeadDim, (p.Cap+15)&^15
	vbase := p.NKV * capP * hd
	for g := 0; g < p.NKV; g++ {
		kp := p.Data[g*capP*hd : (g+1)*capP*hd]
		for t := t0; t < t0+n; t++ {
			row := k[(t-t0)*kvd+g*hd : (t-t0)*kvd+g*hd+hd]
			base := kp[(t/16)*hd*16+t%16:]
			for c, x := range row {
				base[c*16] = x
			}
		}
		for t := t0; t < t0+n; t++ {
			row := v[(t-t0)*kvd+g*hd : (t-t0)*kvd+g*hd+hd]
			for c := 0; c < hd/16; c++ {
				off := vbase + (g*(hd/16)+c)*capP*16 + t*16
				copy(p.Data[off:off+16], row[c*16:c*16+16])
			}
		}
	}
}

func (p *KVPanels) keys(g int) []float32 {
	capP := (p.Cap + 15) &^ 15
	return p.Data[g*capP*p.HeadDim : (g+1)*capP*p.HeadDim]
}

// values returns panel c of kv head g's values.
func (p *KVPanels) values(g, c int) []float32 {
	capP := (p.Cap + 15) &^ 15
	off := p.NKV*capP*p.HeadDim + (g*(p.HeadDim/16)+c)*capP*16
	return p.Data[off : off+capP*16]
}

// attnBlock is the number of query rows per unit of work: a multiple of the micro-kernel's
// 6 rows, small enough that a block's scores (attnBlock x tk) stay in L2.
const attnBlock = 48

// AttendScratch is the scratch AttendPanels needs: one block of scores per worker.
func AttendScratch(tq, tk, nHeads, nKV int) int {
	rows := attnBlock
	if tq < 6 {
		rows = tq * nHeads / nKV
	}
	return Threads() * max(rows, 1) * ((tk + 15) &^ 15)
}

// AttendPanels is Attention over keys and values already in panels (the first tk
// positions of kv). Many query rows are split into blocks of attnBlock rows per head; a
// few (a decode step) are processed a kv head at a time, the query heads that share it
// forming the rows of one micro-kernel call. Units run on the worker pool.
func AttendPanels(dst, q []float32, kv *KVPanels, scratch []float32, tq, tk, nHeads int, scale float32, causal int) {
	_ = scratch[AttendScratch(tq, tk, nHeads, kv.NKV)-1]
	j := attnJobs.Get().(*attnJob)
	*j = attnJob{dst: dst, q: q, kv: kv, scratch: scratch, tq: tq, tk: tk, nHeads: nHeads, nKV: kv.NKV, headDim: kv.HeadDim,
		scale: scale, causal: causal, tkp: (tk + 15) &^ 15}
	units := kv.NKV
	if tq >= 6 {
		j.blocks = (tq + attnBlock - 1) / attnBlock
		units = nHeads * j.blocks
	}
	if tq*tk*nHeads*kv.HeadDim < attnParallelMinWork {
		j.run(0, 0, units)
	} else {
		parallelRun(units, j)
	}
	*j = attnJob{}
	attnJobs.Put(j)
}

// attnParallelMinWork: below this many query-key-dim products attention runs on the calling
// goroutine. A decode step's attention (1 x 300 keys x 8 heads x 64) measured 12 us alone
// and 19 us split over two cores: the hand-off costs more than the work.
const attnParallelMinWork = 1 << 20

type attnJob struct {
	dst, q, k, v, scratch                []float32
	kv                                   *KVPanels
	tq, tk, nHeads, nKV, headDim, causal int
	tkp, blocks                          int
	scale                                float32
}

var attnJobs = sync.Pool{New: func() any { return new(attnJob) }}

func (j *attnJob) run(slot, lo, hi int) {
	switch {
	case j.kv == nil:
		j.runRows(lo, hi)
	case j.blocks > 0:
		for u := lo; u < hi; u++ {
			rep := j.nHeads / j.nKV
			h := u / j.blocks
			i0 := (u % j.blocks) * attnBlock
			j.tile(slot, h/rep, h, 1, i0, min(i0+attnBlock, j.tq))
		}
	default:
		for g := lo; g < hi; g++ {
			rep := j.nHeads / j.nKV
			for i := 0; i < j.tq; i++ {
				j.tile(slot, g, g*rep, rep, i, i+1)
			}
		}
	}
}

// tile computes rows i0..i1 of query heads h0..h0+nh-1, all of kv head g. Either one head
// and a block of rows (the query rows are qd apart) or one row and the nh heads sharing g
// (adjacent, headDim apart): both are a matrix of rows for the micro-kernel.
func (j *attnJob) tile(slot, g, h0, nh, i0, i1 int) {
	hd, tk, tkp := j.headDim, j.tk, j.tkp
	qd := j.nHeads * hd
	nrows, lda, first := i1-i0, qd, i0*qd+h0*hd
	if nh > 1 {
		nrows, lda = nh, hd
	}
	per := attnBlock // rows of scores per worker slot, as AttendScratch sized them
	if j.blocks == 0 {
		per = max(j.tq*j.nHeads/j.nKV, 1)
	}
	sc := j.scratch[slot*per*tkp : (slot+1)*per*tkp]
	kp := j.kv.keys(g)
	tm := cur.mr
	for r0 := 0; r0 < nrows; r0 += tm {
		mr := min(tm, nrows-r0)
		a := j.q[first+r0*lda:]
		for pq := 0; pq < tkp/16; pq++ {
			gemmMicro(mr, hd, a, lda, kp[pq*hd*16:], sc[r0*tkp+pq*16:], tkp)
		}
	}
	for r := 0; r < nrows; r++ {
		i := i0 + r
		if nh > 1 {
			i = i0
		}
		row := sc[r*tkp : r*tkp+tk]
		n := tk
		if j.causal >= 0 {
			n = min(tk, i+j.causal+1)
		}
		softmaxScaled(row[:n], j.scale)
		clear(row[n:])
	}
	for r0 := 0; r0 < nrows; r0 += tm {
		mr := min(tm, nrows-r0)
		for c := 0; c < hd/16; c++ {
			gemmMicro(mr, tk, sc[r0*tkp:], tkp, j.kv.values(g, c), j.dst[first+r0*lda+c*16:], lda)
		}
	}
}

// runRows is the path for head dims the panels do not fit: heads h0..h1, one query row at
// a time, dot/axpy per key.
func (j *attnJob) runRows(h0, h1 int) {
	qd, kvd := j.nHeads*j.headDim, j.nKV*j.headDim
	rep := j.nHeads / j.nKV
	hd, tk := j.headDim, j.tk
	for h := h0; h < h1; h++ {
		g := h / rep
		sc := j.scratch[h*tk : h*tk+tk]
		for i := 0; i < j.tq; i++ {
			qi := j.q[i*qd+h*hd : i*qd+h*hd+hd]
			n := tk
			if j.causal >= 0 {
				n = min(tk, i+j.causal+1)
			}
			for t := 0; t < n; t++ {
				sc[t] = Dot(qi, j.k[t*kvd+g*hd:t*kvd+g*hd+hd])
			}
			softmaxScaled(sc[:n], j.scale)
			out := j.dst[i*qd+h*hd : i*qd+h*hd+hd]
			clear(out)
			for t := 0; t < n; t++ {
				Axpy(out, sc[t], j.v[t*kvd+g*hd:t*kvd+g*hd+hd])
			}
		}
	}
}
