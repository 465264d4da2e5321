// Package kernels holds the numeric kernels of the Needle engine.
//
// Conventions, after math/big:
//   - Destination first: MatMulT(dst, a, b, m, k, n) writes dst. Shapes are passed explicitly,
//     row-major, and slices must be at least as long as the shapes say.
//   - dst never aliases an input unless the function's comment says it may (RMSNorm and RoPE
//     work in place).
//   - Kernels never allocate. Scratch, where needed, is passed in by the caller.
//
// Every fast kernel has a pure-Go twin (the *Generic functions) that is always compiled and is
// the oracle in tests; the build tag noasm makes the twin the implementation.
package kernels
