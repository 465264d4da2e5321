//go:build !amd64 || noasm

package kernels

// archSets: without assembly for this GOARCH (or with -tags noasm) the pure-Go twins are
// the only set.
func archSets() []*kernelSet { return nil }
