package kernels

import "math"

// dotGeneric returns sum(a[i]*b[i]) for i < len(a). It is the oracle for Dot.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGeneric computes y[i] += alpha*x[i] for i < len(x).
func axpyGeneric(y []float32, alpha float32, x []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// MatMulTGeneric computes dst[i*n+j] = sum_p a[i*k+p] * b[j*k+p]: a is m x k, b is n x k
// (a PyTorch Linear weight), dst is m x n.
func MatMulTGeneric(dst, a, b []float32, m, k, n int) {
	for i := 0; i < m; i++ {
		ai := a[i*k : i*k+k]
		di := dst[i*n : i*n+n]
		for j := range di {
			di[j] = dotGeneric(ai, b[j*k:j*k+k])
		}
	}
}

// ExpGeneric is float32 exp via float64 math.Exp: the oracle for the vectorised exp.
func ExpGeneric(x float32) float32 { return float32(math.Exp(float64(x))) }

// expSumGeneric replaces x[i] with Exp((x[i]-shift)*scale) and returns their sum: the oracle
// of the vectorised softmax core.
func expSumGeneric(x []float32, shift, scale float32) float32 {
	var sum float32
	for i, v := range x {
		e := Exp((v - shift) * scale)
		x[i] = e
		sum += e
	}
	return sum
}

func maxGeneric(x []float32) float32 {
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	return mx
}

func scalGeneric(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// AttentionGeneric is the oracle of Attention: the textbook loops, one query row and head at
// a time, with math.Exp.
func AttentionGeneric(dst, q, k, v []float32, tq, tk, nHeads, nKV, headDim int, scale float32, causal int) {
	qd, kvd, rep := nHeads*headDim, nKV*headDim, nHeads/nKV
	sc := make([]float64, tk)
	for i := 0; i < tq; i++ {
		for h := 0; h < nHeads; h++ {
			g := h / rep
			n := tk
			if causal >= 0 {
				n = min(tk, i+causal+1)
			}
			mx := math.Inf(-1)
			for t := 0; t < n; t++ {
				sc[t] = float64(scale) * float64(dotGeneric(q[i*qd+h*headDim:i*qd+h*headDim+headDim], k[t*kvd+g*headDim:]))
				mx = math.Max(mx, sc[t])
			}
			var sum float64
			for t := 0; t < n; t++ {
				sc[t] = math.Exp(sc[t] - mx)
				sum += sc[t]
			}
			for d := 0; d < headDim; d++ {
				var acc float64
				for t := 0; t < n; t++ {
					acc += sc[t] * float64(v[t*kvd+g*headDim+d])
				}
				dst[i*qd+h*headDim+d] = float32(acc / sum)
			}
		}
	}
}

// normScaleGeneric writes x[i]*inv*(1+g[i]) to dst[i]: the second pass of ZCRMSNorm.
func normScaleGeneric(dst, x, g []float32, inv float32) {
	dst, g = dst[:len(x)], g[:len(x)]
	for i, v := range x {
		dst[i] = v * inv * (1 + g[i])
	}
}
