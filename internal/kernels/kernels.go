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
// len(gamma). dst may alias x.
func ZCRMSNorm(dst, x, gamma []float32, eps float32) {
	d := len(gamma)
	for r := 0; r+d <= len(x); r += d {
		row := x[r : r+d]
		var ss float32
		for _, v := range row {
			ss += v * v
		}
		inv := float32(1 / math.Sqrt(float64(ss/float32(d)+eps)))
		out := dst[r : r+d]
		for i, v := range row {
			out[i] = v * inv * (1 + gamma[i])
		}
	}
}

// RoPE rotates x in place, rotate-half layout: x is rows of nHeads*headDim at positions
// pos0, pos0+1, ...; cos and sin are tables of [maxPos][headDim/2].
func RoPE(x []float32, nHeads, headDim, pos0 int, cos, sin []float32) {
	half := headDim / 2
	row := nHeads * headDim
	for r := 0; r*row < len(x); r++ {
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
func Softmax(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	var sum float32
	for i, v := range x {
		e := Exp(v - mx)
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
	return mx + float32(math.Log(float64(sum)))
}

// LogSumExp returns log(sum(exp(x))) without modifying x.
func LogSumExp(x []float32) float32 {
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
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
// row i sees keys j <= i + causal only. scores is scratch of at least nHeads*tk floats.
// Heads run in parallel on the worker pool.
func Attention(dst, q, k, v, scores []float32, tq, tk, nHeads, nKV, headDim int, scale float32, causal int) {
	_ = scores[nHeads*tk-1]
	j := attnJobs.Get().(*attnJob)
	*j = attnJob{dst: dst, q: q, k: k, v: v, scores: scores, tq: tq, tk: tk, nHeads: nHeads, nKV: nKV, headDim: headDim, scale: scale, causal: causal}
	if tq*tk*headDim < parallelMinWork/4 {
		j.run(0, nHeads)
	} else {
		parallelRun(nHeads, j)
	}
	*j = attnJob{}
	attnJobs.Put(j)
}

type attnJob struct {
	dst, q, k, v, scores                 []float32
	tq, tk, nHeads, nKV, headDim, causal int
	scale                                float32
}

var attnJobs = sync.Pool{New: func() any { return new(attnJob) }}

func (j *attnJob) run(h0, h1 int) {
	qd, kvd := j.nHeads*j.headDim, j.nKV*j.headDim
	rep := j.nHeads / j.nKV
	hd, tk := j.headDim, j.tk
	for h := h0; h < h1; h++ {
		g := h / rep
		sc := j.scores[h*tk : h*tk+tk]
		for i := 0; i < j.tq; i++ {
			qi := j.q[i*qd+h*hd : i*qd+h*hd+hd]
			n := tk
			if j.causal >= 0 {
				n = min(tk, i+j.causal+1)
			}
			for t := 0; t < n; t++ {
				sc[t] = Dot(qi, j.k[t*kvd+g*hd:t*kvd+g*hd+hd]) * j.scale
			}
			Softmax(sc[:n])
			out := j.dst[i*qd+h*hd : i*qd+h*hd+hd]
			clear(out)
			for t := 0; t < n; t++ {
				Axpy(out, sc[t], j.v[t*kvd+g*hd:t*kvd+g*hd+hd])
			}
		}
	}
}
