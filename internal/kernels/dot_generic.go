//go:build !amd64 || noasm

package kernels

func dot(a, b []float32) float32                   { return dotGeneric(a, b) }
func axpy(y []float32, alpha float32, x []float32) { axpyGeneric(y, alpha, x) }
func gemmMicro(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	gemmMicroGeneric(mr, k, a, lda, b, c, ldc)
}

// Variant names the kernel implementation compiled in.
var Variant = "generic"
