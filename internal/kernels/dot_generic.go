//go:build !amd64 || noasm

package kernels

func dot(a, b []float32) float32                   { return dotGeneric(a, b) }
func axpy(y []float32, alpha float32, x []float32) { axpyGeneric(y, alpha, x) }
func gemmMicro(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	gemmMicroGeneric(mr, k, a, lda, b, c, ldc)
}

func gemvQ4(k int, x []float32, q []byte, s []float32, c []float32) {
	gemvQ4Generic(k, x, q, s, c)
}
func gemvQ8(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	gemvQ8Generic(k, x, xs, q, s, c)
}
func absMax(x []float32) float32                     { return absMaxGeneric(x) }
func quantX16(dst []int16, x []float32, inv float32) { quantX16Generic(dst, x, inv) }
func dequantQ(bits, k int, q []byte, s []float32, dst []float32) {
	dequantQGeneric(bits, k, q, s, dst)
}

func expSum(x []float32, shift, scale float32) float32 { return expSumGeneric(x, shift, scale) }
func vecMax(x []float32) float32                       { return maxGeneric(x) }
func scal(x []float32, a float32)                      { scalGeneric(x, a) }

// Variant names the kernel implementation compiled in.
var Variant = "generic"
