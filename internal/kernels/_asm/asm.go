//go:build ignore

// Generator of internal/kernels' AVX2/FMA assembly, with avo:
//
//	cd internal/kernels/_asm && go run asm.go -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg kernels
//
// The generated files are committed, so building the project needs neither avo nor any
// GOEXPERIMENT. Every function has a pure-Go twin in generic.go that tests treat as the oracle.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!noasm")
	dot()
	axpy()
	for mr := 1; mr <= 6; mr++ {
		gemm(mr)
	}
	gemvQ8()
	gemvQ4()
	dequantQ8()
	dequantQ4()
	expSum()
	vmax()
	scal()
	absMax()
	quantX16()
	Generate()
}

// dot: sum(a[i]*b[i]) over len(a), four 8-wide FMA accumulators, scalar tail.
func dot() {
	TEXT("dotAVX2", NOSPLIT, "func(a, b []float32) float32")
	Doc("dotAVX2 returns sum(a[i]*b[i]) for i < len(a); len(b) >= len(a).")
	pa := Load(Param("a").Base(), GP64())
	pb := Load(Param("b").Base(), GP64())
	n := Load(Param("a").Len(), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, r := range acc {
		VXORPS(r, r, r)
	}
	Label("dot32")
	CMPQ(n, Imm(32))
	JL(LabelRef("dot8"))
	for i, r := range acc {
		x := YMM()
		VMOVUPS(Mem{Base: pa, Disp: 32 * i}, x)
		VFMADD231PS(Mem{Base: pb, Disp: 32 * i}, x, r)
	}
	ADDQ(Imm(128), pa)
	ADDQ(Imm(128), pb)
	SUBQ(Imm(32), n)
	JMP(LabelRef("dot32"))
	Label("dot8")
	CMPQ(n, Imm(8))
	JL(LabelRef("dotreduce"))
	x := YMM()
	VMOVUPS(Mem{Base: pa}, x)
	VFMADD231PS(Mem{Base: pb}, x, acc[0])
	ADDQ(Imm(32), pa)
	ADDQ(Imm(32), pb)
	SUBQ(Imm(8), n)
	JMP(LabelRef("dot8"))
	Label("dotreduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTF128(Imm(1), acc[0], hi)
	lo := acc[0].AsX()
	VADDPS(hi, lo, lo)
	VHADDPS(lo, lo, lo)
	VHADDPS(lo, lo, lo)
	Label("dottail")
	CMPQ(n, Imm(0))
	JE(LabelRef("dotdone"))
	t := XMM()
	VMOVSS(Mem{Base: pa}, t)
	VFMADD231SS(Mem{Base: pb}, t, lo)
	ADDQ(Imm(4), pa)
	ADDQ(Imm(4), pb)
	DECQ(n)
	JMP(LabelRef("dottail"))
	Label("dotdone")
	VZEROUPPER()
	Store(lo, ReturnIndex(0))
	RET()
}

// axpy: y[i] += alpha*x[i] over len(x).
func axpy() {
	TEXT("axpyAVX2", NOSPLIT, "func(y []float32, alpha float32, x []float32)")
	Doc("axpyAVX2 computes y[i] += alpha*x[i] for i < len(x); len(y) >= len(x).")
	py := Load(Param("y").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	al := YMM()
	VBROADCASTSS(NewParamAddr("alpha", 24), al)
	Label("axpy32")
	CMPQ(n, Imm(32))
	JL(LabelRef("axpy8"))
	for i := 0; i < 4; i++ {
		r := YMM()
		VMOVUPS(Mem{Base: py, Disp: 32 * i}, r)
		VFMADD231PS(Mem{Base: px, Disp: 32 * i}, al, r)
		VMOVUPS(r, Mem{Base: py, Disp: 32 * i})
	}
	ADDQ(Imm(128), py)
	ADDQ(Imm(128), px)
	SUBQ(Imm(32), n)
	JMP(LabelRef("axpy32"))
	Label("axpy8")
	CMPQ(n, Imm(8))
	JL(LabelRef("axpytail"))
	r := YMM()
	VMOVUPS(Mem{Base: py}, r)
	VFMADD231PS(Mem{Base: px}, al, r)
	VMOVUPS(r, Mem{Base: py})
	ADDQ(Imm(32), py)
	ADDQ(Imm(32), px)
	SUBQ(Imm(8), n)
	JMP(LabelRef("axpy8"))
	Label("axpytail")
	CMPQ(n, Imm(0))
	JE(LabelRef("axpydone"))
	t := XMM()
	VMOVSS(Mem{Base: py}, t)
	VFMADD231SS(Mem{Base: px}, al.AsX(), t)
	VMOVSS(t, Mem{Base: py})
	ADDQ(Imm(4), py)
	ADDQ(Imm(4), px)
	DECQ(n)
	JMP(LabelRef("axpytail"))
	Label("axpydone")
	VZEROUPPER()
	RET()
}

// gemm<mr>x16: c[i*ldc+j] = sum_p a[i*lda+p] * b[p*16+j] for i < mr, j < 16, where b is one
// packed panel of 16 output columns (k x 16, row-major). 2*mr accumulators stay in
// registers for the whole k loop; each step loads 16 weights and broadcasts mr inputs.
func gemm(mr int) {
	name := fmt.Sprintf("gemm%dx16", mr)
	TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, c *float32, ldc int)")
	Doc(fmt.Sprintf("%s computes a %dx16 tile: c[i*ldc+j] = sum_p a[i*lda+p]*b[p*16+j].", name, mr))
	k := GP64()
	Load(Param("k"), k)
	pa := GP64()
	Load(Param("a"), pa)
	lda := GP64()
	Load(Param("lda"), lda)
	pb := GP64()
	Load(Param("b"), pb)
	SHLQ(Imm(2), lda)
	acc := make([][2]VecVirtual, mr)
	for i := range acc {
		acc[i] = [2]VecVirtual{YMM(), YMM()}
		VXORPS(acc[i][0], acc[i][0], acc[i][0])
		VXORPS(acc[i][1], acc[i][1], acc[i][1])
	}
	// Row pointers: a, a+lda, a+2lda (lda in bytes).
	rows := []GPVirtual{pa}
	for i := 1; i < mr; i++ {
		r := GP64()
		MOVQ(rows[i-1], r)
		ADDQ(lda, r)
		rows = append(rows, r)
	}
	Label(name + "loop")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "store"))
	b0, b1 := YMM(), YMM()
	VMOVUPS(Mem{Base: pb}, b0)
	VMOVUPS(Mem{Base: pb, Disp: 32}, b1)
	for i := 0; i < mr; i++ {
		x := YMM()
		VBROADCASTSS(Mem{Base: rows[i]}, x)
		VFMADD231PS(b0, x, acc[i][0])
		VFMADD231PS(b1, x, acc[i][1])
		ADDQ(Imm(4), rows[i])
	}
	ADDQ(Imm(64), pb)
	DECQ(k)
	JMP(LabelRef(name + "loop"))
	Label(name + "store")
	pc := GP64()
	Load(Param("c"), pc)
	ldc := GP64()
	Load(Param("ldc"), ldc)
	SHLQ(Imm(2), ldc)
	for i := 0; i < mr; i++ {
		VMOVUPS(acc[i][0], Mem{Base: pc})
		VMOVUPS(acc[i][1], Mem{Base: pc, Disp: 32})
		if i+1 < mr {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()
}

// Quantised panels (see packed.go): 16 output rows interleaved along k, one float32 scale
// per row per 32 inputs. int8 rows take 16 bytes per step of k; int4 rows 8 bytes, byte i
// holding row i in its low nibble and row i+8 in its high nibble, each stored as w+8.

// gemvQ8x16: the int8 GEMV, integer inside each group. The panel stores pairs of steps per
// row (bytes: rows 0..7 as (p, p+1) pairs, then rows 8..15), so one VPMADDWD multiplies 8
// rows by the int16 activations (x[p], x[p+1]) and adds each pair: 16 multiply-adds per
// instruction, summed exactly in int32 over the group's 32 steps (|q| <= 127 and
// |x| <= 32767 keep 32 products inside int32), then converted once and scaled:
// c[j] = xs * sum_g s[g*16+j] * sum_{p<32} x[32g+p]*q[j][32g+p].
func gemvQ8() {
	TEXT("gemvQ8x16", NOSPLIT, "func(k int, x *int16, xs float32, q *byte, s *float32, c *float32)")
	Doc("gemvQ8x16 computes one 16-row panel of the int8 GEMV over int16 activations: c[j] = xs * sum_p x[p]*w[j][p], k a multiple of 32.")
	k, px, pq, ps := GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("x"), px)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	acc0, acc1 := YMM(), YMM()
	VXORPS(acc0, acc0, acc0)
	VXORPS(acc1, acc1, acc1)
	Label("gemvQ8x16loop")
	CMPQ(k, Imm(0))
	JE(LabelRef("gemvQ8x16store"))
	// Two interleaved chains per half (even and odd pairs) keep the adds off the critical path.
	var a [2][2]VecVirtual
	for pp := 0; pp < 16; pp++ {
		xb := YMM()
		VPBROADCASTD(Mem{Base: px, Disp: 4 * pp}, xb)
		t0, t1 := YMM(), YMM()
		VPMOVSXBW(Mem{Base: pq, Disp: 32 * pp}, t0)
		VPMOVSXBW(Mem{Base: pq, Disp: 32*pp + 16}, t1)
		VPMADDWD(xb, t0, t0)
		VPMADDWD(xb, t1, t1)
		c := pp % 2
		if pp < 2 {
			a[c] = [2]VecVirtual{t0, t1}
			continue
		}
		VPADDD(t0, a[c][0], a[c][0])
		VPADDD(t1, a[c][1], a[c][1])
	}
	for h := 0; h < 2; h++ {
		VPADDD(a[1][h], a[0][h], a[0][h])
		VCVTDQ2PS(a[0][h], a[0][h])
	}
	VFMADD231PS(Mem{Base: ps}, a[0][0], acc0)
	VFMADD231PS(Mem{Base: ps, Disp: 32}, a[0][1], acc1)
	ADDQ(U32(512), pq)
	ADDQ(Imm(64), px)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef("gemvQ8x16loop"))
	Label("gemvQ8x16store")
	xs := YMM()
	VBROADCASTSS(NewParamAddr("xs", 16), xs)
	VMULPS(xs, acc0, acc0)
	VMULPS(xs, acc1, acc1)
	pc := GP64()
	Load(Param("c"), pc)
	VMOVUPS(acc0, Mem{Base: pc})
	VMOVUPS(acc1, Mem{Base: pc, Disp: 32})
	VZEROUPPER()
	RET()
}

// gemvQ4x16: as gemvQ8x16 over int4 panels.
func gemvQ4() {
	var mask, eight VecVirtual
	gemvQ("gemvQ4x16", 8, func(pq GPVirtual, p int) (VecVirtual, VecVirtual) {
		return unpackQ4(pq, p, mask, eight)
	}, func() { mask, eight = q4Consts() })
}

func q4Consts() (mask, eight VecVirtual) {
	mask, eight = YMM(), YMM()
	VPBROADCASTD(constU32("q4mask", 15), mask)
	VPBROADCASTD(constU32("q4eight", 8), eight)
	return
}

var consts = map[string]Mem{}

// constU32 declares a 4-byte constant once, however many functions use it.
func constU32(name string, v uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	consts[name] = ConstData(name, U32(v))
	return consts[name]
}

// unpackQ4 loads step p of an int4 panel as two vectors of 8 int32 in [-8, 7].
func unpackQ4(pq GPVirtual, p int, mask, eight VecVirtual) (VecVirtual, VecVirtual) {
	t, t0, t1 := YMM(), YMM(), YMM()
	VPMOVZXBD(Mem{Base: pq, Disp: p * 8}, t)
	VPAND(mask, t, t0)
	VPSRLD(Imm(4), t, t1)
	VPSUBD(eight, t0, t0)
	VPSUBD(eight, t1, t1)
	return t0, t1
}

func gemvQ(name string, stepBytes int, load func(pq GPVirtual, p int) (VecVirtual, VecVirtual), setup func()) {
	TEXT(name, NOSPLIT, "func(k int, x *float32, q *byte, s *float32, c *float32)")
	Doc(name + " computes one 16-row panel of a quantised GEMV: c[j] = sum_p x[p]*w[j][p], k a multiple of 32.")
	k, px, pq, ps := GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("x"), px)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	if setup != nil {
		setup()
	}
	acc0, acc1 := YMM(), YMM()
	VXORPS(acc0, acc0, acc0)
	VXORPS(acc1, acc1, acc1)
	Label(name + "loop")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "store"))
	var g [4][2]VecVirtual
	for p := 0; p < 32; p++ {
		u := p % 4
		t0, t1 := load(pq, p)
		VCVTDQ2PS(t0, t0)
		VCVTDQ2PS(t1, t1)
		xb := YMM()
		VBROADCASTSS(Mem{Base: px, Disp: 4 * p}, xb)
		if p < 4 {
			g[u] = [2]VecVirtual{YMM(), YMM()}
			VMULPS(t0, xb, g[u][0])
			VMULPS(t1, xb, g[u][1])
		} else {
			VFMADD231PS(t0, xb, g[u][0])
			VFMADD231PS(t1, xb, g[u][1])
		}
	}
	for h := 0; h < 2; h++ {
		VADDPS(g[1][h], g[0][h], g[0][h])
		VADDPS(g[3][h], g[2][h], g[2][h])
		VADDPS(g[2][h], g[0][h], g[0][h])
	}
	VFMADD231PS(Mem{Base: ps}, g[0][0], acc0)
	VFMADD231PS(Mem{Base: ps, Disp: 32}, g[0][1], acc1)
	ADDQ(U32(32*stepBytes), pq)
	ADDQ(Imm(128), px)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef(name + "loop"))
	Label(name + "store")
	pc := Load(Param("c"), GP64())
	VMOVUPS(acc0, Mem{Base: pc})
	VMOVUPS(acc1, Mem{Base: pc, Disp: 32})
	VZEROUPPER()
	RET()
}

// dequantQ8x16 / dequantQ4x16 expand one quantised panel to the fp32 panel layout
// (dst[p*16+j] = w[j][p]), so prefill runs the fp32 micro-kernel over it.
func dequantQ8() {
	TEXT("dequantQ8x16", NOSPLIT, "func(k int, q *byte, s *float32, dst *float32)")
	Doc("dequantQ8x16 expands one int8 16-row panel of k steps (k a multiple of 32) to fp32.")
	k, pq, ps, pd := GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	Load(Param("dst"), pd)
	// VPMADDWD against (1, 0) and (0, 1) word pairs splits the (p, p+1) pairs into int32.
	even, odd := YMM(), YMM()
	VPBROADCASTD(constU32("q8even", 1), even)
	VPBROADCASTD(constU32("q8odd", 1<<16), odd)
	Label("dequantQ8x16loop")
	CMPQ(k, Imm(0))
	JE(LabelRef("dequantQ8x16done"))
	s0, s1 := YMM(), YMM()
	VMOVUPS(Mem{Base: ps}, s0)
	VMOVUPS(Mem{Base: ps, Disp: 32}, s1)
	for pp := 0; pp < 16; pp++ {
		for h, sc := range []VecVirtual{s0, s1} {
			t := YMM()
			VPMOVSXBW(Mem{Base: pq, Disp: 32*pp + 16*h}, t)
			for par, sel := range []VecVirtual{even, odd} {
				u := YMM()
				VPMADDWD(sel, t, u)
				VCVTDQ2PS(u, u)
				VMULPS(sc, u, u)
				VMOVUPS(u, Mem{Base: pd, Disp: 64*(2*pp+par) + 32*h})
			}
		}
	}
	ADDQ(U32(512), pq)
	ADDQ(Imm(64), ps)
	ADDQ(U32(2048), pd)
	SUBQ(Imm(32), k)
	JMP(LabelRef("dequantQ8x16loop"))
	Label("dequantQ8x16done")
	VZEROUPPER()
	RET()
}

func dequantQ4() {
	var mask, eight VecVirtual
	dequantQ("dequantQ4x16", 8, func(pq GPVirtual, p int) (VecVirtual, VecVirtual) {
		return unpackQ4(pq, p, mask, eight)
	}, func() { mask, eight = q4Consts() })
}

func dequantQ(name string, stepBytes int, load func(pq GPVirtual, p int) (VecVirtual, VecVirtual), setup func()) {
	TEXT(name, NOSPLIT, "func(k int, q *byte, s *float32, dst *float32)")
	Doc(name + " expands one quantised 16-row panel of k steps (k a multiple of 32) to fp32.")
	k, pq, ps, pd := GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	Load(Param("dst"), pd)
	if setup != nil {
		setup()
	}
	Label(name + "loop")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "done"))
	s0, s1 := YMM(), YMM()
	VMOVUPS(Mem{Base: ps}, s0)
	VMOVUPS(Mem{Base: ps, Disp: 32}, s1)
	for p := 0; p < 32; p++ {
		t0, t1 := load(pq, p)
		VCVTDQ2PS(t0, t0)
		VCVTDQ2PS(t1, t1)
		VMULPS(s0, t0, t0)
		VMULPS(s1, t1, t1)
		VMOVUPS(t0, Mem{Base: pd, Disp: 64 * p})
		VMOVUPS(t1, Mem{Base: pd, Disp: 64*p + 32})
	}
	ADDQ(U32(32*stepBytes), pq)
	ADDQ(Imm(64), ps)
	ADDQ(U32(2048), pd)
	SUBQ(Imm(32), k)
	JMP(LabelRef(name + "loop"))
	Label(name + "done")
	VZEROUPPER()
	RET()
}

// expSum: x[i] = exp((x[i]-shift)*scale) for the first len(x)/8*8 elements, returning their
// sum. Same reduction and polynomial as the scalar Exp, with FMAs; arguments below -87.3
// give 0, and the caller guarantees arguments <= 0 (softmax subtracts the maximum).
func expSum() {
	TEXT("expSumAVX2", NOSPLIT, "func(x []float32, shift, scale float32) float32")
	Doc("expSumAVX2 replaces x[i] with exp((x[i]-shift)*scale) for i < len(x)/8*8 and returns their sum.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	bc := func(name string, v float32) VecVirtual {
		r := YMM()
		VBROADCASTSS(ConstData(name, F32(v)), r)
		return r
	}
	shift, scale := YMM(), YMM()
	VBROADCASTSS(NewParamAddr("shift", 24), shift)
	VBROADCASTSS(NewParamAddr("scale", 28), scale)
	lo := bc("explo", -87.3)
	sum := YMM()
	VXORPS(sum, sum, sum)
	Label("expsum8")
	CMPQ(n, Imm(8))
	JL(LabelRef("expsumdone"))
	v := YMM()
	VMOVUPS(Mem{Base: px}, v)
	VSUBPS(shift, v, v)
	VMULPS(scale, v, v)
	keep := YMM()
	VCMPPS(Imm(13), lo, v, keep) // v >= -87.3 (GE_OS)
	VMAXPS(lo, v, v)
	t := bc("exphalf", 0.5)
	VFMADD231PS(bc("explog2e", 1.44269504088896341), v, t) // t = v*log2e + 0.5
	nn := YMM()
	VROUNDPS(Imm(9), t, nn)                             // floor, no precision exception
	VFNMADD231PS(bc("expln2hi", 0.693359375), nn, v)    // v -= n*ln2hi
	VFNMADD231PS(bc("expln2lo", -2.12194440e-4), nn, v) // v -= n*ln2lo
	p := bc("expc0", 1.9875691500e-4)
	for i, c := range []float32{1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		VFMADD213PS(bc(fmt.Sprintf("expc%d", i+1), c), v, p) // p = p*r + c
	}
	rr := YMM()
	VMULPS(v, v, rr)
	VFMADD213PS(v, rr, p) // p = p*r*r + r
	VADDPS(bc("expone", 1), p, p)
	ni := YMM()
	VCVTPS2DQ(nn, ni)
	b127 := YMM()
	VPBROADCASTD(ConstData("exp127", U32(127)), b127)
	VPADDD(b127, ni, ni)
	VPSLLD(Imm(23), ni, ni)
	VMULPS(ni, p, p)
	VANDPS(keep, p, p)
	VMOVUPS(p, Mem{Base: px})
	VADDPS(p, sum, sum)
	ADDQ(Imm(32), px)
	SUBQ(Imm(8), n)
	JMP(LabelRef("expsum8"))
	Label("expsumdone")
	hsum(sum)
	Store(sum.AsX(), ReturnIndex(0))
	RET()
}

// hsum leaves the horizontal sum of v's 8 lanes in lane 0 of v, and clears the upper halves.
func hsum(v VecVirtual) {
	hi := XMM()
	VEXTRACTF128(Imm(1), v, hi)
	VADDPS(hi, v.AsX(), v.AsX())
	VHADDPS(v.AsX(), v.AsX(), v.AsX())
	VHADDPS(v.AsX(), v.AsX(), v.AsX())
	VZEROUPPER()
}

// vmax: the maximum of the first len(x)/8*8 elements (len(x) >= 8).
func vmax() {
	TEXT("maxAVX2", NOSPLIT, "func(x []float32) float32")
	Doc("maxAVX2 returns the maximum of x[i] for i < len(x)/8*8; len(x) >= 8.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	m := YMM()
	VMOVUPS(Mem{Base: px}, m)
	Label("max8")
	CMPQ(n, Imm(8))
	JL(LabelRef("maxdone"))
	VMAXPS(Mem{Base: px}, m, m)
	ADDQ(Imm(32), px)
	SUBQ(Imm(8), n)
	JMP(LabelRef("max8"))
	Label("maxdone")
	hi := XMM()
	VEXTRACTF128(Imm(1), m, hi)
	VMAXPS(hi, m.AsX(), m.AsX())
	t := XMM()
	VPERMILPS(Imm(0x4e), m.AsX(), t)
	VMAXPS(t, m.AsX(), m.AsX())
	VPERMILPS(Imm(0xb1), m.AsX(), t)
	VMAXPS(t, m.AsX(), m.AsX())
	VZEROUPPER()
	Store(m.AsX(), ReturnIndex(0))
	RET()
}

// scal: x[i] *= a for i < len(x)/8*8.
func scal() {
	TEXT("scalAVX2", NOSPLIT, "func(x []float32, a float32)")
	Doc("scalAVX2 multiplies x[i] by a for i < len(x)/8*8.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	a := YMM()
	VBROADCASTSS(NewParamAddr("a", 24), a)
	Label("scal8")
	CMPQ(n, Imm(8))
	JL(LabelRef("scaldone"))
	v := YMM()
	VMULPS(Mem{Base: px}, a, v)
	VMOVUPS(v, Mem{Base: px})
	ADDQ(Imm(32), px)
	SUBQ(Imm(8), n)
	JMP(LabelRef("scal8"))
	Label("scaldone")
	VZEROUPPER()
	RET()
}

// absMax: max |x[i]| over the first len(x)/8*8 elements (len(x) >= 8).
func absMax() {
	TEXT("absMaxAVX2", NOSPLIT, "func(x []float32) float32")
	Doc("absMaxAVX2 returns the largest |x[i]| for i < len(x)/8*8; len(x) >= 8.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	mask, m := YMM(), YMM()
	VPBROADCASTD(constU32("absmask", 0x7fffffff), mask)
	VXORPS(m, m, m)
	Label("absmax8")
	CMPQ(n, Imm(8))
	JL(LabelRef("absmaxdone"))
	v := YMM()
	VANDPS(Mem{Base: px}, mask, v)
	VMAXPS(v, m, m)
	ADDQ(Imm(32), px)
	SUBQ(Imm(8), n)
	JMP(LabelRef("absmax8"))
	Label("absmaxdone")
	hi := XMM()
	VEXTRACTF128(Imm(1), m, hi)
	VMAXPS(hi, m.AsX(), m.AsX())
	t := XMM()
	VPERMILPS(Imm(0x4e), m.AsX(), t)
	VMAXPS(t, m.AsX(), m.AsX())
	VPERMILPS(Imm(0xb1), m.AsX(), t)
	VMAXPS(t, m.AsX(), m.AsX())
	VZEROUPPER()
	Store(m.AsX(), ReturnIndex(0))
	RET()
}

// quantX16: dst[i] = round(x[i]*inv) as int16 (to nearest even, the default MXCSR mode)
// for i < len(x)/16*16; the caller keeps |x[i]*inv| <= 32767.
func quantX16() {
	TEXT("quantX16AVX2", NOSPLIT, "func(dst *int16, x []float32, inv float32)")
	Doc("quantX16AVX2 writes round(x[i]*inv) as int16 to dst[i] for i < len(x)/16*16.")
	pd := Load(Param("dst"), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	inv := YMM()
	VBROADCASTSS(NewParamAddr("inv", 32), inv)
	Label("quantx16")
	CMPQ(n, Imm(16))
	JL(LabelRef("quantx16done"))
	a, b := YMM(), YMM()
	VMULPS(Mem{Base: px}, inv, a)
	VMULPS(Mem{Base: px, Disp: 32}, inv, b)
	VCVTPS2DQ(a, a)
	VCVTPS2DQ(b, b)
	VPACKSSDW(b, a, a) // per 128-bit lane: a0-3 b0-3 | a4-7 b4-7
	VPERMQ(Imm(0xd8), a, a)
	VMOVDQU(a, Mem{Base: pd})
	ADDQ(Imm(64), px)
	ADDQ(Imm(32), pd)
	SUBQ(Imm(16), n)
	JMP(LabelRef("quantx16"))
	Label("quantx16done")
	VZEROUPPER()
	RET()
}
