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
