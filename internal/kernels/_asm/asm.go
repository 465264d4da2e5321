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
	ConstraintExpr("amd64,!noasm")
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
	normScale()
	for mr := 1; mr <= 6; mr++ {
		gemmQ8AVX2(mr)
	}
	// AVX-512 (F, BW, VL, DQ) set, and the VNNI kernels of the avx512-vnni set.
	dot512()
	axpy512()
	for mr := 1; mr <= mr512; mr++ {
		gemm512(mr)
	}
	gemvQ8512(false)
	gemvQ8512(true)
	gemvQ4512(false)
	gemvQ4512(true)
	for mr := 1; mr <= mr512; mr++ {
		gemmQ8512(mr, true)
		gemmQ8512(mr, false)
	}
	expSum512()
	vmax512()
	scal512()
	absMax512()
	quantX16512()
	normScale512()
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

// gemvQ4x16: the int4 GEMV on ymm, integer inside each group like gemvQ8x16. An int4
// panel is blocks of 8 steps, 64 bytes: one 32-bit word per row holding the 8 steps as
// nibbles w+8, steps 0, 2, 4, 6 in the low half-word and 1, 3, 5, 7 in the high one
// (packed.go). Per block, two plain loads (rows 0..7, rows 8..15) and q4Pairs: one shift
// and four ANDs give each of the block's 4 step pairs as 8 rows' int16 pairs (w[p]+8,
// w[p+1]+8), two of them times 16; one VPMADDWD against the broadcast (x[p], x[p+1]) and one
// VPADDD sum them into a plain and a times-16 accumulator. Each group starts the plain one at
// xg[g] = -8 * sum of the group's x (q4GroupSums), which takes the offset out: exact int32
// per group of 32 steps, then one conversion and one scale per group.
func gemvQ4() {
	TEXT("gemvQ4x16", NOSPLIT, "func(k int, x *int16, xg *int32, xs float32, q *byte, s *float32, c *float32)")
	Doc("gemvQ4x16 computes one 16-row panel of the int4 GEMV over int16 activations: c[j] = xs * sum_p x[p]*w[j][p], xg the group sums (q4GroupSums), k a multiple of 32.")
	k, px, pg, pq, ps := GP64(), GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("x"), px)
	Load(Param("xg"), pg)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	masks := q4Masks(YMM)
	acc0, acc1 := YMM(), YMM()
	VXORPS(acc0, acc0, acc0)
	VXORPS(acc1, acc1, acc1)
	Label("gemvQ4x16loop")
	CMPQ(k, Imm(0))
	JE(LabelRef("gemvQ4x16store"))
	var a [2][2]VecVirtual // [rows 0..7 / 8..15][plain / times 16]
	for h := 0; h < 2; h++ {
		a[h] = [2]VecVirtual{YMM(), YMM()}
		VPBROADCASTD(Mem{Base: pg}, a[h][0])
		VPXOR(a[h][1], a[h][1], a[h][1])
	}
	for b := 0; b < 4; b++ {
		var v [2][2]VecVirtual // [half][plain / shifted by 8]
		for h := 0; h < 2; h++ {
			v[h] = [2]VecVirtual{YMM(), YMM()}
			VMOVDQU(Mem{Base: pq, Disp: 64*b + 32*h}, v[h][0])
			VPSRLD(Imm(8), v[h][0], v[h][1])
		}
		for i := 0; i < 4; i++ {
			xb := YMM()
			VPBROADCASTD(Mem{Base: px, Disp: 4 * (4*b + i)}, xb)
			for h := 0; h < 2; h++ {
				t := YMM()
				VPAND(masks[i%2], v[h][i/2], t)
				VPMADDWD(xb, t, t)
				VPADDD(t, a[h][i%2], a[h][i%2])
			}
		}
	}
	for h := 0; h < 2; h++ {
		VPSRAD(Imm(4), a[h][1], a[h][1])
		VPADDD(a[h][1], a[h][0], a[h][0])
		VCVTDQ2PS(a[h][0], a[h][0])
	}
	VFMADD231PS(Mem{Base: ps}, a[0][0], acc0)
	VFMADD231PS(Mem{Base: ps, Disp: 32}, a[1][0], acc1)
	ADDQ(U32(256), pq)
	ADDQ(Imm(64), px)
	ADDQ(Imm(4), pg)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef("gemvQ4x16loop"))
	Label("gemvQ4x16store")
	xs := YMM()
	VBROADCASTSS(NewParamAddr("xs", 24), xs)
	VMULPS(xs, acc0, acc0)
	VMULPS(xs, acc1, acc1)
	pc := Load(Param("c"), GP64())
	VMOVUPS(acc0, Mem{Base: pc})
	VMOVUPS(acc1, Mem{Base: pc, Disp: 32})
	VZEROUPPER()
	RET()
}

// q4Masks broadcasts the two masks that pick a step pair out of int4 block words (or the
// words shifted right by 8): 0x000F000F, the pair itself, and 0x00F000F0, the next pair
// times 16. Masks[i%2] applied to the words shifted by 8*(i/2) gives pair i of the block.
func q4Masks(vec func() VecVirtual) [2]VecVirtual {
	m := [2]VecVirtual{vec(), vec()}
	VPBROADCASTD(constU32("q4lo", 0x000F000F), m[0])
	VPBROADCASTD(constU32("q4hi", 0x00F000F0), m[1])
	return m
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

// dequantQ4x16: step 8b+r of a block's row words is the nibble w+8 at bit 16*(r%2) +
// 4*(r/2); a left shift that puts it at the top, flipping the top bit (w+8 -> w as a 4-bit
// two's complement) and an arithmetic right shift by 28 give w as int32.
func dequantQ4() {
	TEXT("dequantQ4x16", NOSPLIT, "func(k int, q *byte, s *float32, dst *float32)")
	Doc("dequantQ4x16 expands one int4 16-row panel of k steps (k a multiple of 32) to fp32.")
	k, pq, ps, pd := GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	Load(Param("dst"), pd)
	top := YMM()
	VPBROADCASTD(constU32("q4top", 1<<31), top)
	Label("dequantQ4x16loop")
	CMPQ(k, Imm(0))
	JE(LabelRef("dequantQ4x16done"))
	sc := [2]VecVirtual{YMM(), YMM()}
	VMOVUPS(Mem{Base: ps}, sc[0])
	VMOVUPS(Mem{Base: ps, Disp: 32}, sc[1])
	for b := 0; b < 4; b++ {
		for h := 0; h < 2; h++ {
			v := YMM()
			VMOVDQU(Mem{Base: pq, Disp: 64*b + 32*h}, v)
			for r := 0; r < 8; r++ {
				bit := 16*(r%2) + 4*(r/2)
				t := YMM()
				if bit == 28 {
					VPXOR(top, v, t)
				} else {
					VPSLLD(Imm(uint64(28-bit)), v, t)
					VPXOR(top, t, t)
				}
				VPSRAD(Imm(28), t, t)
				VCVTDQ2PS(t, t)
				VMULPS(sc[h], t, t)
				VMOVUPS(t, Mem{Base: pd, Disp: 64*(8*b+r) + 32*h})
			}
		}
	}
	ADDQ(U32(256), pq)
	ADDQ(Imm(64), ps)
	ADDQ(U32(2048), pd)
	SUBQ(Imm(32), k)
	JMP(LabelRef("dequantQ4x16loop"))
	Label("dequantQ4x16done")
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

// normScale: dst[i] = x[i]*inv*(1+g[i]) for i < len(x)/8*8, the second pass of ZCRMSNorm
// (rounded as the twin rounds: (x*inv) then times (1+g)).
func normScale() {
	TEXT("normScaleAVX2", NOSPLIT, "func(dst, x, g []float32, inv float32)")
	Doc("normScaleAVX2 writes x[i]*inv*(1+g[i]) to dst[i] for i < len(x)/8*8; dst may alias x.")
	pd := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	pg := Load(Param("g").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	inv, one := YMM(), YMM()
	VBROADCASTSS(NewParamAddr("inv", 72), inv)
	VBROADCASTSS(ConstData("normone", F32(1)), one)
	Label("normscale8")
	CMPQ(n, Imm(8))
	JL(LabelRef("normscaledone"))
	v, g := YMM(), YMM()
	VMULPS(Mem{Base: px}, inv, v)
	VADDPS(Mem{Base: pg}, one, g)
	VMULPS(g, v, v)
	VMOVUPS(v, Mem{Base: pd})
	ADDQ(Imm(32), px)
	ADDQ(Imm(32), pg)
	ADDQ(Imm(32), pd)
	SUBQ(Imm(8), n)
	JMP(LabelRef("normscale8"))
	Label("normscaledone")
	VZEROUPPER()
	RET()
}

// gemmQ8AVX2<mr>: the int8 prefill GEMM on ymm (no VNNI): per pair of steps the panel's
// 32 bytes sign-extend to two vectors of 8 rows' (p, p+1) words; per row one VPBROADCASTD of
// (a[p], a[p+1]), two VPMADDWD, two VPADDD into exact int32 sums. 2*mr integer accumulators
// fill the register file, so the fp32 sums live in c itself: zeroed at the start, and at
// each group's end c += float(sum) * scale; at the end c *= xs[i].
func gemmQ8AVX2(mr int) {
	name := fmt.Sprintf("gemmQ8AVX2x%d", mr)
	TEXT(name, NOSPLIT, "func(k int, a *int16, lda int, xs *float32, q *byte, s *float32, c *float32, ldc int)")
	Doc(fmt.Sprintf("%s computes a %dx16 tile over int16 rows and an int8 panel on ymm: c[i*ldc+j] = xs[i] * sum_p a[i*lda+p]*w[j][p], k a multiple of 32.", name, mr))
	k := Load(Param("k"), GP64())
	pa := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	pq := Load(Param("q"), GP64())
	ps := Load(Param("s"), GP64())
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(1), lda)
	SHLQ(Imm(2), ldc)
	bases := rowAddrs(pa, lda, mr)
	cb := rowAddrs(pc, ldc, mr)
	z := YMM()
	VPXOR(z, z, z)
	for i := 0; i < mr; i++ {
		VMOVUPS(z, rowMem(cb, ldc, i, 0))
		VMOVUPS(z, rowMem(cb, ldc, i, 32))
	}
	iacc := make([][2]VecVirtual, mr)
	for i := range iacc {
		iacc[i] = [2]VecVirtual{YMM(), YMM()}
	}
	Label(name + "group")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "scale"))
	for i := range iacc {
		VPXOR(iacc[i][0], iacc[i][0], iacc[i][0])
		VPXOR(iacc[i][1], iacc[i][1], iacc[i][1])
	}
	for pp := 0; pp < 16; pp++ {
		w0, w1 := YMM(), YMM()
		VPMOVSXBW(Mem{Base: pq, Disp: 32 * pp}, w0)
		VPMOVSXBW(Mem{Base: pq, Disp: 32*pp + 16}, w1)
		for i := 0; i < mr; i++ {
			t, u := YMM(), YMM()
			VPBROADCASTD(rowMem(bases, lda, i, 4*pp), t)
			VPMADDWD(w1, t, u)
			VPMADDWD(w0, t, t)
			VPADDD(t, iacc[i][0], iacc[i][0])
			VPADDD(u, iacc[i][1], iacc[i][1])
		}
	}
	for i := 0; i < mr; i++ {
		for h := 0; h < 2; h++ {
			t := YMM()
			VCVTDQ2PS(iacc[i][h], iacc[i][h])
			VMOVUPS(rowMem(cb, ldc, i, 32*h), t)
			VFMADD231PS(Mem{Base: ps, Disp: 32 * h}, iacc[i][h], t)
			VMOVUPS(t, rowMem(cb, ldc, i, 32*h))
		}
	}
	for _, b := range bases {
		ADDQ(Imm(64), b)
	}
	ADDQ(U32(512), pq)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef(name + "group"))
	Label(name + "scale")
	pxs := Load(Param("xs"), GP64())
	for i := 0; i < mr; i++ {
		x := YMM()
		VBROADCASTSS(Mem{Base: pxs, Disp: 4 * i}, x)
		for h := 0; h < 2; h++ {
			t := YMM()
			VMULPS(rowMem(cb, ldc, i, 32*h), x, t)
			VMOVUPS(t, rowMem(cb, ldc, i, 32*h))
		}
	}
	VZEROUPPER()
	RET()
}

// ---- AVX-512 ----
//
// The same kernels on 16-wide zmm registers, with embedded broadcasts ({1to16} memory
// operands) so a GEMM step is one panel load and one FMA per row.

// mr512 is the rows of the AVX-512 GEMM micro-kernels: 12 zmm accumulators cover the FMA
// latency (4 cycles, 2 per cycle) with room for the panel row.
const mr512 = 12

// zreduce leaves the horizontal sum of z's 16 lanes in lane 0 of z's xmm.
func zreduce(z VecVirtual) {
	hi := YMM()
	VEXTRACTF64X4(Imm(1), z, hi)
	VADDPS(hi, z.AsY(), z.AsY())
	x := XMM()
	VEXTRACTF128(Imm(1), z.AsY(), x)
	VADDPS(x, z.AsX(), z.AsX())
	VHADDPS(z.AsX(), z.AsX(), z.AsX())
	VHADDPS(z.AsX(), z.AsX(), z.AsX())
}

// zmaxreduce leaves the maximum of z's 16 lanes in lane 0 of z's xmm.
func zmaxreduce(z VecVirtual) {
	hi := YMM()
	VEXTRACTF64X4(Imm(1), z, hi)
	VMAXPS(hi, z.AsY(), z.AsY())
	x := XMM()
	VEXTRACTF128(Imm(1), z.AsY(), x)
	VMAXPS(x, z.AsX(), z.AsX())
	t := XMM()
	VPERMILPS(Imm(0x4e), z.AsX(), t)
	VMAXPS(t, z.AsX(), z.AsX())
	VPERMILPS(Imm(0xb1), z.AsX(), t)
	VMAXPS(t, z.AsX(), z.AsX())
}

func dot512() {
	TEXT("dotAVX512", NOSPLIT, "func(a, b []float32) float32")
	Doc("dotAVX512 returns sum(a[i]*b[i]) for i < len(a); len(b) >= len(a).")
	pa := Load(Param("a").Base(), GP64())
	pb := Load(Param("b").Base(), GP64())
	n := Load(Param("a").Len(), GP64())
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	for _, r := range acc {
		VPXORD(r, r, r)
	}
	Label("dot512x64")
	CMPQ(n, Imm(64))
	JL(LabelRef("dot512x16"))
	for i, r := range acc {
		x := ZMM()
		VMOVUPS(Mem{Base: pa, Disp: 64 * i}, x)
		VFMADD231PS(Mem{Base: pb, Disp: 64 * i}, x, r)
	}
	ADDQ(U32(256), pa)
	ADDQ(U32(256), pb)
	SUBQ(Imm(64), n)
	JMP(LabelRef("dot512x64"))
	Label("dot512x16")
	CMPQ(n, Imm(16))
	JL(LabelRef("dot512reduce"))
	x := ZMM()
	VMOVUPS(Mem{Base: pa}, x)
	VFMADD231PS(Mem{Base: pb}, x, acc[0])
	ADDQ(Imm(64), pa)
	ADDQ(Imm(64), pb)
	SUBQ(Imm(16), n)
	JMP(LabelRef("dot512x16"))
	Label("dot512reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	zreduce(acc[0])
	lo := acc[0].AsX()
	Label("dot512tail")
	CMPQ(n, Imm(0))
	JE(LabelRef("dot512done"))
	t := XMM()
	VMOVSS(Mem{Base: pa}, t)
	VFMADD231SS(Mem{Base: pb}, t, lo)
	ADDQ(Imm(4), pa)
	ADDQ(Imm(4), pb)
	DECQ(n)
	JMP(LabelRef("dot512tail"))
	Label("dot512done")
	VZEROUPPER()
	Store(lo, ReturnIndex(0))
	RET()
}

func axpy512() {
	TEXT("axpyAVX512", NOSPLIT, "func(y []float32, alpha float32, x []float32)")
	Doc("axpyAVX512 computes y[i] += alpha*x[i] for i < len(x)/16*16; len(y) >= len(x).")
	py := Load(Param("y").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	al := ZMM()
	VBROADCASTSS(NewParamAddr("alpha", 24), al)
	Label("axpy512x64")
	CMPQ(n, Imm(64))
	JL(LabelRef("axpy512x16"))
	for i := 0; i < 4; i++ {
		r := ZMM()
		VMOVUPS(Mem{Base: py, Disp: 64 * i}, r)
		VFMADD231PS(Mem{Base: px, Disp: 64 * i}, al, r)
		VMOVUPS(r, Mem{Base: py, Disp: 64 * i})
	}
	ADDQ(U32(256), py)
	ADDQ(U32(256), px)
	SUBQ(Imm(64), n)
	JMP(LabelRef("axpy512x64"))
	Label("axpy512x16")
	CMPQ(n, Imm(16))
	JL(LabelRef("axpy512done"))
	r := ZMM()
	VMOVUPS(Mem{Base: py}, r)
	VFMADD231PS(Mem{Base: px}, al, r)
	VMOVUPS(r, Mem{Base: py})
	ADDQ(Imm(64), py)
	ADDQ(Imm(64), px)
	SUBQ(Imm(16), n)
	JMP(LabelRef("axpy512x16"))
	Label("axpy512done")
	VZEROUPPER()
	RET()
}

// rowAddrs sets up addressing for mr rows lda bytes apart: base pointers to rows 0, 3, 6,
// 9 and the stride, so row i is Mem{Base: bases[i/3], Index: lda, Scale: i%3} (scale 0 means
// no index). Four pointers to advance instead of twelve keeps the GP registers free.
func rowAddrs(pa, lda Register, mr int) []Register {
	bases := []Register{pa}
	for i := 3; i < mr; i += 3 {
		r := GP64()
		LEAQ(Mem{Base: bases[len(bases)-1], Index: lda, Scale: 2}, r)
		ADDQ(lda, r)
		bases = append(bases, r)
	}
	return bases
}

func rowMem(bases []Register, lda Register, i, disp int) Mem {
	m := Mem{Base: bases[i/3], Disp: disp}
	if i%3 != 0 {
		m.Index, m.Scale = lda, uint8(i%3)
	}
	return m
}

// gemm512_<mr>: as gemm<mr>x16 on zmm: one 16-float panel row per step, one FMA per row
// with the input broadcast from memory. Steps are unrolled by 4; rows fewer than 8 split
// their sum over several accumulators (one per unrolled step) so the FMA latency is covered.
func gemm512(mr int) {
	name := fmt.Sprintf("gemm512x%d", mr)
	TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, c *float32, ldc int)")
	Doc(fmt.Sprintf("%s computes a %dx16 tile on zmm registers: c[i*ldc+j] = sum_p a[i*lda+p]*b[p*16+j].", name, mr))
	k := Load(Param("k"), GP64())
	pa := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	pb := Load(Param("b"), GP64())
	SHLQ(Imm(2), lda)
	split := 1
	switch {
	case mr <= 3:
		split = 4
	case mr < 8:
		split = 2
	}
	acc := make([][]VecVirtual, mr)
	for i := range acc {
		for s := 0; s < split; s++ {
			z := ZMM()
			VPXORD(z, z, z)
			acc[i] = append(acc[i], z)
		}
	}
	bases := rowAddrs(pa, lda, mr)
	advance := func(steps int) {
		for _, b := range bases {
			ADDQ(Imm(uint64(4*steps)), b)
		}
		ADDQ(U32(uint64(64*steps)), pb)
		SUBQ(Imm(uint64(steps)), k)
	}
	Label(name + "loop4")
	CMPQ(k, Imm(4))
	JL(LabelRef(name + "loop1"))
	for u := 0; u < 4; u++ {
		b := ZMM()
		VMOVUPS(Mem{Base: pb, Disp: 64 * u}, b)
		for i := 0; i < mr; i++ {
			VFMADD231PS_BCST(rowMem(bases, lda, i, 4*u), b, acc[i][u%split])
		}
	}
	advance(4)
	JMP(LabelRef(name + "loop4"))
	Label(name + "loop1")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "store"))
	b := ZMM()
	VMOVUPS(Mem{Base: pb}, b)
	for i := 0; i < mr; i++ {
		VFMADD231PS_BCST(rowMem(bases, lda, i, 0), b, acc[i][0])
	}
	advance(1)
	JMP(LabelRef(name + "loop1"))
	Label(name + "store")
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	for i := 0; i < mr; i++ {
		for s := 1; s < split; s++ {
			VADDPS(acc[i][s], acc[i][0], acc[i][0])
		}
		VMOVUPS(acc[i][0], Mem{Base: pc})
		if i+1 < mr {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()
}

// gemvQ8512: the int8 GEMV on zmm. One step pair of the panel (32 bytes: rows 0..7 as
// (p, p+1) pairs, then rows 8..15) sign-extends to 32 words in one VPMOVSXBW, and one
// VPMADDWD (or, with VNNI, one VPDPWSSD that also adds) against the broadcast int16 pair
// (x[p], x[p+1]) yields 16 row sums in row order. Exact int32 per group of 32, then one
// conversion and scale, as gemvQ8x16.
// storeGemvPanel ends a zmm GEMV panel kernel: at label name+"store", the 16 sums in acc
// times the input scale xs (the parameter at byte offset xsOff) go to c.
func storeGemvPanel(name string, acc VecVirtual, xsOff int) {
	Label(name + "store")
	VMULPS_BCST(NewParamAddr("xs", xsOff), acc, acc)
	pc := Load(Param("c"), GP64())
	VMOVUPS(acc, Mem{Base: pc})
	VZEROUPPER()
	RET()
}

func gemvQ8512(vnni bool) {
	name := "gemvQ8AVX512"
	if vnni {
		name = "gemvQ8VNNI"
	}
	TEXT(name, NOSPLIT, "func(k int, x *int16, xs float32, q *byte, s *float32, c *float32)")
	Doc(name + " computes one 16-row panel of the int8 GEMV over int16 activations on zmm: c[j] = xs * sum_p x[p]*w[j][p], k a multiple of 32.")
	k, px, pq, ps := GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("x"), px)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	acc := ZMM()
	VPXORD(acc, acc, acc)
	Label(name + "loop")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "store"))
	var chains [4]VecVirtual
	for i := range chains {
		chains[i] = ZMM()
		VPXORD(chains[i], chains[i], chains[i])
	}
	for pp := 0; pp < 16; pp++ {
		w := ZMM()
		VPMOVSXBW(Mem{Base: pq, Disp: 32 * pp}, w)
		c := chains[pp%4]
		if vnni {
			VPDPWSSD_BCST(Mem{Base: px, Disp: 4 * pp}, w, c)
			continue
		}
		xb := ZMM()
		VPBROADCASTD(Mem{Base: px, Disp: 4 * pp}, xb)
		VPMADDWD(xb, w, w)
		VPADDD(w, c, c)
	}
	VPADDD(chains[1], chains[0], chains[0])
	VPADDD(chains[3], chains[2], chains[2])
	VPADDD(chains[2], chains[0], chains[0])
	VCVTDQ2PS(chains[0], chains[0])
	VFMADD231PS(Mem{Base: ps}, chains[0], acc)
	ADDQ(U32(512), pq)
	ADDQ(Imm(64), px)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef(name + "loop"))
	storeGemvPanel(name, acc, 16)
}

// gemvQ4512: the int4 GEMV on zmm. A block of 8 steps (64 bytes, one word per row) is one
// plain load and one shift; four ANDs (q4Masks) give its 4 step pairs as the 16 rows' int16
// pairs (w[p]+8, w[p+1]+8), two of them times 16, and one VPDPWSSD against (x[p], x[p+1])
// broadcast from memory (without VNNI: VPBROADCASTD, VPMADDWD, VPADDD) sums each into a
// plain or a times-16 accumulator. The plain ones start each group at xg[g] = -8 * the
// group's sum of x, which takes the offset out: exact int32 per group of 32, then one
// conversion and scale, as gemvQ8512.
func gemvQ4512(vnni bool) {
	name := "gemvQ4AVX512"
	if vnni {
		name = "gemvQ4VNNI"
	}
	TEXT(name, NOSPLIT, "func(k int, x *int16, xg *int32, xs float32, q *byte, s *float32, c *float32)")
	Doc(name + " computes one 16-row panel of the int4 GEMV over int16 activations on zmm: c[j] = xs * sum_p x[p]*w[j][p], xg the group sums (q4GroupSums), k a multiple of 32.")
	k, px, pg, pq, ps := GP64(), GP64(), GP64(), GP64(), GP64()
	Load(Param("k"), k)
	Load(Param("x"), px)
	Load(Param("xg"), pg)
	Load(Param("q"), pq)
	Load(Param("s"), ps)
	masks := q4Masks(ZMM)
	acc := ZMM()
	VPXORD(acc, acc, acc)
	Label(name + "loop")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "store"))
	// chains[i]: pair i of each block; 0 and 2 plain, 1 and 3 times 16.
	var chains [4]VecVirtual
	for i := range chains {
		chains[i] = ZMM()
		if i == 0 {
			VPBROADCASTD(Mem{Base: pg}, chains[i])
		} else {
			VPXORD(chains[i], chains[i], chains[i])
		}
	}
	for b := 0; b < 4; b++ {
		v := [2]VecVirtual{ZMM(), ZMM()}
		VMOVDQU64(Mem{Base: pq, Disp: 64 * b}, v[0])
		VPSRLD(Imm(8), v[0], v[1])
		for i := 0; i < 4; i++ {
			pp := 4*b + i
			t := ZMM()
			VPANDD(masks[i%2], v[i/2], t)
			c := chains[i]
			if vnni {
				VPDPWSSD_BCST(Mem{Base: px, Disp: 4 * pp}, t, c)
				continue
			}
			xb := ZMM()
			VPBROADCASTD(Mem{Base: px, Disp: 4 * pp}, xb)
			VPMADDWD(xb, t, t)
			VPADDD(t, c, c)
		}
	}
	VPADDD(chains[3], chains[1], chains[1])
	VPSRAD(Imm(4), chains[1], chains[1])
	VPADDD(chains[2], chains[0], chains[0])
	VPADDD(chains[1], chains[0], chains[0])
	VCVTDQ2PS(chains[0], chains[0])
	VFMADD231PS(Mem{Base: ps}, chains[0], acc)
	ADDQ(U32(256), pq)
	ADDQ(Imm(64), px)
	ADDQ(Imm(4), pg)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef(name + "loop"))
	storeGemvPanel(name, acc, 24)
}

// gemmQ8VNNI<mr> / gemmQ8AVX512<mr>: the int8 GEMM of prefill, integer inside each group. Rows of a are int16
// (each row quantised with its own scale xs[i]); the panel is int8 in step pairs as for the
// GEMV. Per pair of steps: one VPMOVSXBW of the panel, then per row one VPDPWSSD with the
// row's (a[p], a[p+1]) broadcast from memory: 32 multiply-adds per instruction, exact int32
// over the group's 32 steps. At each group's end the sums convert to fp32 and accumulate
// with the panel's scales; at the end each row is multiplied by its xs. Without VNNI the
// product is a VPBROADCASTD, a VPMADDWD and a VPADDD.
func gemmQ8512(mr int, vnni bool) {
	name := fmt.Sprintf("gemmQ8VNNIx%d", mr)
	if !vnni {
		name = fmt.Sprintf("gemmQ8AVX512x%d", mr)
	}
	TEXT(name, NOSPLIT, "func(k int, a *int16, lda int, xs *float32, q *byte, s *float32, c *float32, ldc int)")
	Doc(fmt.Sprintf("%s computes a %dx16 tile over int16 rows and an int8 panel: c[i*ldc+j] = xs[i] * sum_p a[i*lda+p]*w[j][p], k a multiple of 32.", name, mr))
	k := Load(Param("k"), GP64())
	pa := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	pq := Load(Param("q"), GP64())
	ps := Load(Param("s"), GP64())
	SHLQ(Imm(1), lda)
	facc := make([]VecVirtual, mr)
	iacc := make([]VecVirtual, mr)
	for i := range facc {
		facc[i], iacc[i] = ZMM(), ZMM()
		VPXORD(facc[i], facc[i], facc[i])
	}
	bases := rowAddrs(pa, lda, mr)
	Label(name + "group")
	CMPQ(k, Imm(0))
	JE(LabelRef(name + "store"))
	for i := range iacc {
		VPXORD(iacc[i], iacc[i], iacc[i])
	}
	for pp := 0; pp < 16; pp++ {
		w := ZMM()
		VPMOVSXBW(Mem{Base: pq, Disp: 32 * pp}, w)
		for i := 0; i < mr; i++ {
			if vnni {
				VPDPWSSD_BCST(rowMem(bases, lda, i, 4*pp), w, iacc[i])
				continue
			}
			t := ZMM()
			VPBROADCASTD(rowMem(bases, lda, i, 4*pp), t)
			VPMADDWD(w, t, t)
			VPADDD(t, iacc[i], iacc[i])
		}
	}
	sc := ZMM()
	VMOVUPS(Mem{Base: ps}, sc)
	for i := 0; i < mr; i++ {
		VCVTDQ2PS(iacc[i], iacc[i])
		VFMADD231PS(sc, iacc[i], facc[i])
	}
	for _, b := range bases {
		ADDQ(Imm(64), b)
	}
	ADDQ(U32(512), pq)
	ADDQ(Imm(64), ps)
	SUBQ(Imm(32), k)
	JMP(LabelRef(name + "group"))
	Label(name + "store")
	pxs := Load(Param("xs"), GP64())
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	for i := 0; i < mr; i++ {
		VMULPS_BCST(Mem{Base: pxs, Disp: 4 * i}, facc[i], facc[i])
		VMOVUPS(facc[i], Mem{Base: pc})
		if i+1 < mr {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()
}

// expSum512: expSumAVX2 on zmm, over len(x)/16*16 elements.
func expSum512() {
	TEXT("expSumAVX512", NOSPLIT, "func(x []float32, shift, scale float32) float32")
	Doc("expSumAVX512 replaces x[i] with exp((x[i]-shift)*scale) for i < len(x)/16*16 and returns their sum.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	bc := func(name string, v float32) VecVirtual {
		r := ZMM()
		VBROADCASTSS(ConstData(name, F32(v)), r)
		return r
	}
	shift, scale := ZMM(), ZMM()
	VBROADCASTSS(NewParamAddr("shift", 24), shift)
	VBROADCASTSS(NewParamAddr("scale", 28), scale)
	lo := bc("exp512lo", -87.3)
	sum := ZMM()
	VPXORD(sum, sum, sum)
	b127 := ZMM()
	VPBROADCASTD(ConstData("exp512b127", U32(127)), b127)
	Label("expsum512")
	CMPQ(n, Imm(16))
	JL(LabelRef("expsum512done"))
	v := ZMM()
	VMOVUPS(Mem{Base: px}, v)
	VSUBPS(shift, v, v)
	VMULPS(scale, v, v)
	keep := K()
	VCMPPS(Imm(13), lo, v, keep) // v >= -87.3 (GE_OS)
	VMAXPS(lo, v, v)
	t := bc("exp512half", 0.5)
	VFMADD231PS(bc("exp512log2e", 1.44269504088896341), v, t)
	nn := ZMM()
	VRNDSCALEPS(Imm(9), t, nn) // floor, no precision exception
	VFNMADD231PS(bc("exp512ln2hi", 0.693359375), nn, v)
	VFNMADD231PS(bc("exp512ln2lo", -2.12194440e-4), nn, v)
	p := bc("exp512c0", 1.9875691500e-4)
	for i, c := range []float32{1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		VFMADD213PS(bc(fmt.Sprintf("exp512c%d", i+1), c), v, p)
	}
	rr := ZMM()
	VMULPS(v, v, rr)
	VFMADD213PS(v, rr, p)
	VADDPS(bc("exp512one", 1), p, p)
	ni := ZMM()
	VCVTPS2DQ(nn, ni)
	VPADDD(b127, ni, ni)
	VPSLLD(Imm(23), ni, ni)
	VMULPS(ni, p, p)
	VMOVUPS_Z(p, keep, p)
	VMOVUPS(p, Mem{Base: px})
	VADDPS(p, sum, sum)
	ADDQ(Imm(64), px)
	SUBQ(Imm(16), n)
	JMP(LabelRef("expsum512"))
	Label("expsum512done")
	zreduce(sum)
	VZEROUPPER()
	Store(sum.AsX(), ReturnIndex(0))
	RET()
}

func vmax512() {
	TEXT("maxAVX512", NOSPLIT, "func(x []float32) float32")
	Doc("maxAVX512 returns the maximum of x[i] for i < len(x)/16*16; len(x) >= 16.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	m := ZMM()
	VMOVUPS(Mem{Base: px}, m)
	Label("max512")
	CMPQ(n, Imm(16))
	JL(LabelRef("max512done"))
	VMAXPS(Mem{Base: px}, m, m)
	ADDQ(Imm(64), px)
	SUBQ(Imm(16), n)
	JMP(LabelRef("max512"))
	Label("max512done")
	zmaxreduce(m)
	VZEROUPPER()
	Store(m.AsX(), ReturnIndex(0))
	RET()
}

func scal512() {
	TEXT("scalAVX512", NOSPLIT, "func(x []float32, a float32)")
	Doc("scalAVX512 multiplies x[i] by a for i < len(x)/16*16.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	a := ZMM()
	VBROADCASTSS(NewParamAddr("a", 24), a)
	Label("scal512")
	CMPQ(n, Imm(16))
	JL(LabelRef("scal512done"))
	v := ZMM()
	VMULPS(Mem{Base: px}, a, v)
	VMOVUPS(v, Mem{Base: px})
	ADDQ(Imm(64), px)
	SUBQ(Imm(16), n)
	JMP(LabelRef("scal512"))
	Label("scal512done")
	VZEROUPPER()
	RET()
}

func absMax512() {
	TEXT("absMaxAVX512", NOSPLIT, "func(x []float32) float32")
	Doc("absMaxAVX512 returns the largest |x[i]| for i < len(x)/16*16; len(x) >= 16.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	mask, m := ZMM(), ZMM()
	VPBROADCASTD(constU32("absmask", 0x7fffffff), mask)
	VPXORD(m, m, m)
	Label("absmax512")
	CMPQ(n, Imm(16))
	JL(LabelRef("absmax512done"))
	v := ZMM()
	VPANDD(Mem{Base: px}, mask, v)
	VMAXPS(v, m, m)
	ADDQ(Imm(64), px)
	SUBQ(Imm(16), n)
	JMP(LabelRef("absmax512"))
	Label("absmax512done")
	zmaxreduce(m)
	VZEROUPPER()
	Store(m.AsX(), ReturnIndex(0))
	RET()
}

// quantX16512: quantX16AVX2 on zmm; VPMOVSDW narrows with saturation, in lane order.
func quantX16512() {
	TEXT("quantX16AVX512", NOSPLIT, "func(dst *int16, x []float32, inv float32)")
	Doc("quantX16AVX512 writes round(x[i]*inv) as int16 to dst[i] for i < len(x)/16*16.")
	pd := Load(Param("dst"), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	inv := ZMM()
	VBROADCASTSS(NewParamAddr("inv", 32), inv)
	Label("quantx16512")
	CMPQ(n, Imm(16))
	JL(LabelRef("quantx16512done"))
	a := ZMM()
	VMULPS(Mem{Base: px}, inv, a)
	VCVTPS2DQ(a, a)
	VPMOVSDW(a, Mem{Base: pd})
	ADDQ(Imm(64), px)
	ADDQ(Imm(32), pd)
	SUBQ(Imm(16), n)
	JMP(LabelRef("quantx16512"))
	Label("quantx16512done")
	VZEROUPPER()
	RET()
}

func normScale512() {
	TEXT("normScaleAVX512", NOSPLIT, "func(dst, x, g []float32, inv float32)")
	Doc("normScaleAVX512 writes x[i]*inv*(1+g[i]) to dst[i] for i < len(x)/16*16; dst may alias x.")
	pd := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	pg := Load(Param("g").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	inv, one := ZMM(), ZMM()
	VBROADCASTSS(NewParamAddr("inv", 72), inv)
	VBROADCASTSS(ConstData("norm512one", F32(1)), one)
	Label("normscale512")
	CMPQ(n, Imm(16))
	JL(LabelRef("normscale512done"))
	v, g := ZMM(), ZMM()
	VMULPS(Mem{Base: px}, inv, v)
	VADDPS(Mem{Base: pg}, one, g)
	VMULPS(g, v, v)
	VMOVUPS(v, Mem{Base: pd})
	ADDQ(Imm(64), px)
	ADDQ(Imm(64), pg)
	ADDQ(Imm(64), pd)
	SUBQ(Imm(16), n)
	JMP(LabelRef("normscale512"))
	Label("normscale512done")
	VZEROUPPER()
	RET()
}
