//go:build !noasm

package kernels

import "golang.org/x/sys/cpu"

// The amd64 sets, best first. The wrappers check bounds once and hand the assembly raw
// pointers; vector kernels cover whole vectors and leave the tail to a narrower kernel or
// the twin.

func archSets() []*kernelSet {
	x := cpu.X86
	avx2 := &kernelSet{
		name: "avx2", needs: "avx2 fma", ok: x.HasAVX2 && x.HasFMA, mr: 6,
		dot: dotAVX2, axpy: axpyAVX2x, gemm: gemmAVX2, gemvQ8: gemvQ8AVX2, gemvQ4: gemvQ4AVX2,
		dequantQ: dequantQAVX2, expSum: expSumAVX2x, vecMax: vecMaxAVX2, scal: scalAVX2x,
		absMax: absMaxAVX2x, quantX16: quantX16AVX2x, normScale: normScaleAVX2x,
		gemmQ8: gemmQ8AVX2, qmr: 6,
	}
	has512 := avx2.ok && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512DQ
	avx512 := &kernelSet{
		name: "avx512", needs: "avx2 fma avx512f avx512bw avx512vl avx512dq", ok: has512, mr: mr512,
		dot: dotAVX512, axpy: axpy512x, gemm: gemm512, gemvQ8: gemvQ8512, gemvQ4: gemvQ4512,
		dequantQ: dequantQAVX2, expSum: expSum512x, vecMax: vecMax512, scal: scal512x,
		absMax: absMax512x, quantX16: quantX16512x, normScale: normScale512x,
		gemmQ8: gemmQ8AVX512, qmr: mr512,
	}
	vnni := *avx512
	vnni.name, vnni.needs, vnni.ok = "avx512-vnni", avx512.needs+" avx512vnni", has512 && x.HasAVX512VNNI
	vnni.gemvQ8, vnni.gemvQ4, vnni.gemmQ8, vnni.qmr = gemvQ8VNNIx, gemvQ4VNNIx, gemmQ8VNNI, mr512
	return []*kernelSet{&vnni, avx512, avx2}
}

const mr512 = 12

// ---- avx2 ----

func axpyAVX2x(y []float32, alpha float32, x []float32) { axpyAVX2(y, alpha, x) }

func gemmAVX2(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	if k == 0 {
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
	default:
		panic("kernels: avx2 GEMM tile of more than 6 rows")
	}
}

func gemvQ4AVX2(k int, x []int16, xg []int32, xs float32, q []byte, s []float32, c []float32) {
	_ = x[k-1]
	_ = xg[k/GroupSize-1]
	_ = q[k*8-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ4x16(k, &x[0], &xg[0], xs, &q[0], &s[0], &c[0])
}

func gemvQ8AVX2(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	_ = x[k-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ8x16(k, &x[0], xs, &q[0], &s[0], &c[0])
}

func dequantQAVX2(bits, k int, q []byte, s []float32, dst []float32) {
	_ = q[k*bits*2-1]
	_ = s[(k/GroupSize)*16-1]
	_ = dst[k*16-1]
	if bits == 8 {
		dequantQ8x16(k, &q[0], &s[0], &dst[0])
	} else {
		dequantQ4x16(k, &q[0], &s[0], &dst[0])
	}
}

func expSumAVX2x(x []float32, shift, scale float32) float32 {
	if len(x) < 8 {
		return expSumGeneric(x, shift, scale)
	}
	n := len(x) &^ 7
	return expSumAVX2(x, shift, scale) + expSumGeneric(x[n:], shift, scale)
}

func vecMaxAVX2(x []float32) float32 {
	if len(x) < 8 {
		return maxGeneric(x)
	}
	n := len(x) &^ 7
	if n == len(x) {
		return maxAVX2(x)
	}
	return max(maxAVX2(x), maxGeneric(x[n:]))
}

func scalAVX2x(x []float32, a float32) {
	n := len(x) &^ 7
	if n > 0 {
		scalAVX2(x, a)
	}
	scalGeneric(x[n:], a)
}

func absMaxAVX2x(x []float32) float32 {
	if len(x) < 8 {
		return absMaxGeneric(x)
	}
	n := len(x) &^ 7
	return max(absMaxAVX2(x), absMaxGeneric(x[n:]))
}

func quantX16AVX2x(dst []int16, x []float32, inv float32) {
	if len(x) < 16 {
		quantX16Generic(dst, x, inv)
		return
	}
	n := len(x) &^ 15
	_ = dst[len(x)-1]
	quantX16AVX2(&dst[0], x, inv)
	quantX16Generic(dst[n:], x[n:], inv)
}

func normScaleAVX2x(dst, x, g []float32, inv float32) {
	if len(x) == 0 {
		return
	}
	_ = dst[len(x)-1]
	_ = g[len(x)-1]
	n := len(x) &^ 7
	if n > 0 {
		normScaleAVX2(dst, x, g, inv)
	}
	normScaleGeneric(dst[n:], x[n:], g[n:], inv)
}

func gemmQ8AVX2(mr, k int, a []int16, lda int, xs []float32, q []byte, s []float32, c []float32, ldc int) {
	_ = a[(mr-1)*lda+k-1]
	_ = xs[mr-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[(mr-1)*ldc+15]
	gemmQ8AVX2Fns[mr-1](k, &a[0], lda, &xs[0], &q[0], &s[0], &c[0], ldc)
}

var gemmQ8AVX2Fns = [6]func(k int, a *int16, lda int, xs *float32, q *byte, s *float32, c *float32, ldc int){
	gemmQ8AVX2x1, gemmQ8AVX2x2, gemmQ8AVX2x3, gemmQ8AVX2x4, gemmQ8AVX2x5, gemmQ8AVX2x6,
}

// ---- avx512 ----

func axpy512x(y []float32, alpha float32, x []float32) {
	if len(x) == 0 {
		return
	}
	_ = y[len(x)-1]
	n := len(x) &^ 15
	if n > 0 {
		axpyAVX512(y, alpha, x)
	}
	axpyGeneric(y[n:], alpha, x[n:])
}

func gemm512(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	if k == 0 {
		gemmMicroGeneric(mr, k, a, lda, b, c, ldc)
		return
	}
	_ = a[(mr-1)*lda+k-1]
	_ = b[k*16-1]
	_ = c[(mr-1)*ldc+15]
	gemm512Fns[mr-1](k, &a[0], lda, &b[0], &c[0], ldc)
}

var gemm512Fns = [mr512]func(k int, a *float32, lda int, b *float32, c *float32, ldc int){
	gemm512x1, gemm512x2, gemm512x3, gemm512x4, gemm512x5, gemm512x6,
	gemm512x7, gemm512x8, gemm512x9, gemm512x10, gemm512x11, gemm512x12,
}

func gemvQ8512(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	_ = x[k-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ8AVX512(k, &x[0], xs, &q[0], &s[0], &c[0])
}

func gemvQ8VNNIx(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	_ = x[k-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ8VNNI(k, &x[0], xs, &q[0], &s[0], &c[0])
}

func gemvQ4512(k int, x []int16, xg []int32, xs float32, q []byte, s []float32, c []float32) {
	_ = x[k-1]
	_ = xg[k/GroupSize-1]
	_ = q[k*8-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ4AVX512(k, &x[0], &xg[0], xs, &q[0], &s[0], &c[0])
}

func gemvQ4VNNIx(k int, x []int16, xg []int32, xs float32, q []byte, s []float32, c []float32) {
	_ = x[k-1]
	_ = xg[k/GroupSize-1]
	_ = q[k*8-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[15]
	gemvQ4VNNI(k, &x[0], &xg[0], xs, &q[0], &s[0], &c[0])
}

func gemmQ8VNNI(mr, k int, a []int16, lda int, xs []float32, q []byte, s []float32, c []float32, ldc int) {
	_ = a[(mr-1)*lda+k-1]
	_ = xs[mr-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[(mr-1)*ldc+15]
	gemmQ8VNNIFns[mr-1](k, &a[0], lda, &xs[0], &q[0], &s[0], &c[0], ldc)
}

func gemmQ8AVX512(mr, k int, a []int16, lda int, xs []float32, q []byte, s []float32, c []float32, ldc int) {
	_ = a[(mr-1)*lda+k-1]
	_ = xs[mr-1]
	_ = q[k*16-1]
	_ = s[(k/GroupSize)*16-1]
	_ = c[(mr-1)*ldc+15]
	gemmQ8AVX512Fns[mr-1](k, &a[0], lda, &xs[0], &q[0], &s[0], &c[0], ldc)
}

var gemmQ8AVX512Fns = [mr512]func(k int, a *int16, lda int, xs *float32, q *byte, s *float32, c *float32, ldc int){
	gemmQ8AVX512x1, gemmQ8AVX512x2, gemmQ8AVX512x3, gemmQ8AVX512x4, gemmQ8AVX512x5, gemmQ8AVX512x6,
	gemmQ8AVX512x7, gemmQ8AVX512x8, gemmQ8AVX512x9, gemmQ8AVX512x10, gemmQ8AVX512x11, gemmQ8AVX512x12,
}

var gemmQ8VNNIFns = [mr512]func(k int, a *int16, lda int, xs *float32, q *byte, s *float32, c *float32, ldc int){
	gemmQ8VNNIx1, gemmQ8VNNIx2, gemmQ8VNNIx3, gemmQ8VNNIx4, gemmQ8VNNIx5, gemmQ8VNNIx6,
	gemmQ8VNNIx7, gemmQ8VNNIx8, gemmQ8VNNIx9, gemmQ8VNNIx10, gemmQ8VNNIx11, gemmQ8VNNIx12,
}

// The AVX-512 vector kernels cover len/16*16 elements; the AVX2 wrappers take the rest.

func expSum512x(x []float32, shift, scale float32) float32 {
	n := len(x) &^ 15
	if n == 0 {
		return expSumAVX2x(x, shift, scale)
	}
	return expSumAVX512(x, shift, scale) + expSumAVX2x(x[n:], shift, scale)
}

func vecMax512(x []float32) float32 {
	n := len(x) &^ 15
	if n == 0 {
		return vecMaxAVX2(x)
	}
	if n == len(x) {
		return maxAVX512(x)
	}
	return max(maxAVX512(x), vecMaxAVX2(x[n:]))
}

func scal512x(x []float32, a float32) {
	n := len(x) &^ 15
	if n > 0 {
		scalAVX512(x, a)
	}
	scalAVX2x(x[n:], a)
}

func absMax512x(x []float32) float32 {
	n := len(x) &^ 15
	if n == 0 {
		return absMaxAVX2x(x)
	}
	if n == len(x) {
		return absMaxAVX512(x)
	}
	return max(absMaxAVX512(x), absMaxAVX2x(x[n:]))
}

func quantX16512x(dst []int16, x []float32, inv float32) {
	n := len(x) &^ 15
	if n > 0 {
		_ = dst[n-1]
		quantX16AVX512(&dst[0], x, inv)
	}
	quantX16Generic(dst[n:len(x)], x[n:], inv)
}

func normScale512x(dst, x, g []float32, inv float32) {
	if len(x) == 0 {
		return
	}
	_ = dst[len(x)-1]
	_ = g[len(x)-1]
	n := len(x) &^ 15
	if n > 0 {
		normScaleAVX512(dst, x, g, inv)
	}
	normScaleAVX2x(dst[n:], x[n:], g[n:], inv)
}
