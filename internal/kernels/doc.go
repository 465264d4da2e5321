// Package kernels holds the numeric kernels of the Needle engine.
//
// Conventions, after math/big:
//   - Destination first: MatMulT(dst, a, b, m, k, n) writes dst. Shapes are passed explicitly,
//     row-major, and slices must be at least as long as the shapes say.
//   - dst never aliases an input unless the function's comment says it may (ZCRMSNorm and
//     RoPE work in place).
//   - Kernels never allocate on the hot path. Scratch is passed in by the caller, sized by the
//     kernel's own function (AttentionScratch, AttendScratch, KVPanelsSize); parallel work
//     goes through pooled job structs and a persistent worker pool (pool.go), not a goroutine
//     or closure per call. The one exception is the per-worker panel buffer of the quantised
//     GEMM, taken from a sync.Pool and allocated only on first use.
//   - Weights are packed once at load (Pack, PackQ8, Quantize) into 16-row panels; see
//     packed.go for the fp32, int8 and int4 layouts.
//
// Every fast kernel has a pure-Go twin (the *Generic functions) that is always compiled and is
// the oracle in tests; the build tag noasm makes the twin the implementation, and
// NEEDLE_KERNELS=generic selects it at run time.
package kernels
