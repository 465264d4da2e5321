//go:build !noasm

package kernels

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAsm selects the AVX2/FMA kernels when the CPU has them, unless NEEDLE_KERNELS=generic
// forces the pure-Go twins (for debugging in production).
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && os.Getenv("NEEDLE_KERNELS") != "generic"

// Variant names the kernel implementation in use.
var Variant = map[bool]string{true: "avx2-fma", false: "generic"}[useAsm]

func dot(a, b []float32) float32 {
	if useAsm {
		return dotAVX2(a, b)
	}
	return dotGeneric(a, b)
}

func axpy(y []float32, alpha float32, x []float32) {
	if useAsm {
		axpyAVX2(y, alpha, x)
		return
	}
	axpyGeneric(y, alpha, x)
}

func gemmMicro(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	if !useAsm || k == 0 {
		gemmMicroGeneric(mr, k, a, lda, b, c, ldc)
		return
	}
	_ = a[(mr-1)*lda+k-1]
	_ = b[k*16-1]
	_ = c[(mr-1)*ldc+15]
	switch mr {
	case 1:
		gemm1x16(k, &a[0], lda, &b[0], &c[0], ldc)
	case 2:
		gemm2x16(k, &a[0], lda, &b[0], &c[0], ldc)
	case 3:
		gemm3x16(k, &a[0], lda, &b[0], &c[0], ldc)
	case 4:
		gemm4x16(k, &a[0], lda, &b[0], &c[0], ldc)
	case 5:
		gemm5x16(k, &a[0], lda, &b[0], &c[0], ldc)
	case 6:
		gemm6x16(k, &a[0], lda, &b[0], &c[0], ldc)
	}
}

func gemvQ4(k int, x []float32, q []byte, s []float32, c []float32) {
	if !useAsm {
		gemvQ4Generic(k, x, q, s, c)
		return
	}
	_ = x[k-1]
	_ = q[k*8-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ4x16(k, &x[0], &q[0], &s[0], &c[0])
}

func gemvQ8(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	if !useAsm {
		gemvQ8Generic(k, x, xs, q, s, c)
		return
	}
	_ = x[k-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ8x16(k, &x[0], xs, &q[0], &s[0], &c[0])
}

func dequantQ(bits, k int, q []byte, s []float32, dst []float32) {
	if !useAsm {
		dequantQGeneric(bits, k, q, s, dst)
		return
	}
	_ = q[k*bits*2-1]
	_ = s[(k/GroupSize)*16-1]
	_ = dst[k*16-1]
	if bits == 8 {
		dequantQ8x16(k, &q[0], &s[0], &dst[0])
	} else {
		dequantQ4x16(k, &q[0], &s[0], &dst[0])
	}
}

// The vector kernels below cover len/8*8 elements; the tail goes through the twin.

func expSum(x []float32, shift, scale float32) float32 {
	if !useAsm || len(x) < 8 {
		return expSumGeneric(x, shift, scale)
	}
	n := len(x) &^ 7
	return expSumAVX2(x, shift, scale) + expSumGeneric(x[n:], shift, scale)
}

func vecMax(x []float32) float32 {
	if !useAsm || len(x) < 8 {
		return maxGeneric(x)
	}
	n := len(x) &^ 7
	if n == len(x) {
		return maxAVX2(x)
	}
	return max(maxAVX2(x), maxGeneric(x[n:]))
}

func scal(x []float32, a float32) {
	if !useAsm || len(x) < 8 {
		scalGeneric(x, a)
		return
	}
	n := len(x) &^ 7
	scalAVX2(x, a)
	scalGeneric(x[n:], a)
}

func absMax(x []float32) float32 {
	if !useAsm || len(x) < 8 {
		return absMaxGeneric(x)
	}
	n := len(x) &^ 7
	return max(absMaxAVX2(x), absMaxGeneric(x[n:]))
}

func quantX16(dst []int16, x []float32, inv float32) {
	if !useAsm || len(x) < 16 {
		quantX16Generic(dst, x, inv)
		return
	}
	n := len(x) &^ 15
	_ = dst[len(x)-1]
	quantX16AVX2(&dst[0], x, inv)
	quantX16Generic(dst[n:], x[n:], inv)
}
