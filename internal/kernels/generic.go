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
