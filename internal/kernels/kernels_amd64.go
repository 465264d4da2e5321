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
