package kernels

func dot(a, b []float32) float32                   { return dotGeneric(a, b) }
func axpy(y []float32, alpha float32, x []float32) { axpyGeneric(y, alpha, x) }

// Variant names the kernel implementation compiled in.
const Variant = "generic"
