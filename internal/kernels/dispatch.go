package kernels

import (
	"fmt"
	"strconv"
	"strings"
)

// Kernel sets: every kernel the package dispatches, in one struct per instruction set. The
// sets register in priority order (best first); the first one the CPU supports is chosen
// once, at start, unless the caller's Settings name another (Configure; mains and tests read
// NEEDLE_KERNELS for it, SettingsFromEnv). The generic set (the pure-Go twins)
// is always present and is the oracle of every other in the conformance suite.
//
//	generic      pure Go, every GOARCH
//	avx2         AVX2 + FMA: 6x16 fp32 GEMM on ymm, int8 and int4 GEMVs with VPMADDWD (Zen 3,
//	             Haswell on)
//	avx512       AVX-512 F/BW/VL/DQ: 12x16 fp32 GEMM on zmm, exp/softmax, norms, int8 and int4
//	             GEMVs on zmm
//	avx512-vnni  avx512 plus AVX512-VNNI: int8 and int4 GEMVs and the int8 prefill GEMM with
//	             VPDPWSSD (Ice Lake, Sapphire Rapids, Zen 4/5)
type kernelSet struct {
	name  string
	needs string // the CPU features it requires, named as Features names them
	ok    bool   // the CPU has them
	mr    int    // rows of the fp32 GEMM micro-kernel (gemm takes 1..mr)

	dot       func(a, b []float32) float32
	axpy      func(y []float32, alpha float32, x []float32)
	gemm      func(mr, k int, a []float32, lda int, b, c []float32, ldc int)
	gemvQ8    func(k int, x []int16, xs float32, q []byte, s, c []float32)
	gemvQ4    func(k int, x []int16, xg []int32, xs float32, q []byte, s, c []float32)
	dequantQ  func(bits, k int, q []byte, s, dst []float32)
	expSum    func(x []float32, shift, scale float32) float32
	vecMax    func(x []float32) float32
	scal      func(x []float32, a float32)
	absMax    func(x []float32) float32
	quantX16  func(dst []int16, x []float32, inv float32)
	normScale func(dst, x, g []float32, inv float32)

	// gemmQ8 is the int8 prefill GEMM (int16 rows, int8 panel, 1..qmr rows per call); nil
	// where it does not beat expanding the panel to fp32 (measured), and prefill does that.
	gemmQ8 func(mr, k int, a []int16, lda int, xs []float32, q []byte, s, c []float32, ldc int)
	qmr    int
}

// mrMax bounds every set's mr and qmr (tile buffers are sized by it).
const mrMax = 12

var genericSet = &kernelSet{
	name: "generic", ok: true, mr: 6,
	dot: dotGeneric, axpy: axpyGeneric, gemm: gemmMicroGeneric,
	gemvQ8: gemvQ8Generic, gemvQ4: gemvQ4Generic, dequantQ: dequantQGeneric,
	expSum: expSumGeneric, vecMax: maxGeneric, scal: scalGeneric, absMax: absMaxGeneric,
	quantX16: quantX16Generic, normScale: normScaleGeneric,
	// No gemmQ8: in pure Go the int8 GEMM (90-110 ms for 300x512x512) lost to expanding
	// panels for the fp32 one (66-69 ms), measured in one run on the Zen 5 machine.
}

var (
	sets = append(archSets(), genericSet) // best first; archSets is per GOARCH and build tag
	cur  = genericSet
	note string // why the requested kernel set was not followed, if it was not
)

// init picks the best set this CPU runs; it reads no environment (Configure).
func init() {
	for _, s := range sets {
		if s.ok {
			cur = s
			break
		}
	}
}

// Settings are the kernels' start-up choices, passed in by the caller.
type Settings struct {
	// Set names a kernel set to force ("generic" for the pure-Go twins); "": the best one
	// this CPU runs.
	Set string
	// Threads is the worker count, 1 to 4 per CPU (Configure caps it there, with a
	// warning); 0: GOMAXPROCS.
	Threads int
}

// SettingsFromEnv reads NEEDLE_KERNELS and NEEDLE_THREADS through getenv: the process's
// choice, for mains and TestMain functions to pass to Configure. A NEEDLE_THREADS that is
// not a whole number of at least 1 is an error, for the caller to stop on (the Settings
// returned with it take GOMAXPROCS threads); unset or empty: GOMAXPROCS. A kernel set this
// CPU cannot run is Configure's warning.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{Set: getenv("NEEDLE_KERNELS")}
	if text := getenv("NEEDLE_THREADS"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 {
			return s, fmt.Errorf("NEEDLE_THREADS=%q: want a whole number of kernel threads, at least 1 (unset: GOMAXPROCS)", text)
		}
		s.Threads = n
	}
	return s, nil
}

// Configure applies s. It is for start-up: it must run before any kernel does (the worker
// pool starts on first use and keeps its size). What could not be followed is left for
// Warning (and returned).
func Configure(s Settings) string {
	note = ""
	if s.Set != "" {
		if err := Use(s.Set); err != nil {
			note = fmt.Sprintf("NEEDLE_KERNELS=%s ignored: %v", s.Set, err)
		}
	}
	configureThreads(s)
	return Warning()
}

// Set names the kernel set in use: generic, avx2, avx512 or avx512-vnni.
func Set() string { return cur.name }

// Sets lists the kernel sets compiled into this binary, best first, with whether this CPU
// can run each.
func Sets() map[string]bool {
	m := map[string]bool{}
	for _, s := range sets {
		m[s.name] = s.ok
	}
	return m
}

// Use switches to the named set. It is for start-up, tests and benchmarks: it must not run
// while kernels do.
func Use(name string) error {
	for _, s := range sets {
		if s.name != name {
			continue
		}
		if !s.ok {
			return fmt.Errorf("kernel set %s needs %s, which this CPU lacks (it has: %s)", name, s.needs, Features())
		}
		cur = s
		return nil
	}
	var names []string
	for _, s := range sets {
		names = append(names, s.name)
	}
	return fmt.Errorf("no kernel set %q in this build (have %s)", name, strings.Join(names, ", "))
}

// Describe is one line for a start-up log: the set in use, the CPU features it was chosen
// from, and a note when the requested set could not be followed.
func Describe() string {
	s := fmt.Sprintf("kernels %s (cpu %s: %s; threads %d)", cur.name, cpuArch(), Features(), Threads())
	if w := Warning(); w != "" {
		s += "; " + w
	}
	return s
}

// Warning is what of the Settings (NEEDLE_KERNELS, NEEDLE_THREADS) could not be followed as
// given, or ""
// (for a start-up log to raise to a warning).
func Warning() string {
	Threads()
	switch {
	case note != "" && threadsNote != "":
		return note + "; " + threadsNote
	case note != "":
		return note
	}
	return threadsNote
}

// Features lists the CPU features the kernel sets depend on that this CPU has, e.g.
// "avx2 fma avx512f avx512bw avx512vl avx512dq avx512vnni avxvnni".
func Features() string { return strings.Join(cpuFeatures(), " ") }

// The dispatching wrappers the rest of the package calls.

func dot(a, b []float32) float32                   { return cur.dot(a, b) }
func axpy(y []float32, alpha float32, x []float32) { cur.axpy(y, alpha, x) }
func gemmMicro(mr, k int, a []float32, lda int, b []float32, c []float32, ldc int) {
	cur.gemm(mr, k, a, lda, b, c, ldc)
}
func gemvQ8(k int, x []int16, xs float32, q []byte, s []float32, c []float32) {
	cur.gemvQ8(k, x, xs, q, s, c)
}
func gemvQ4(k int, x []int16, xg []int32, xs float32, q []byte, s []float32, c []float32) {
	cur.gemvQ4(k, x, xg, xs, q, s, c)
}
func dequantQ(bits, k int, q []byte, s []float32, dst []float32) { cur.dequantQ(bits, k, q, s, dst) }
func expSum(x []float32, shift, scale float32) float32           { return cur.expSum(x, shift, scale) }
func vecMax(x []float32) float32                                 { return cur.vecMax(x) }
func scal(x []float32, a float32)                                { cur.scal(x, a) }
func absMax(x []float32) float32                                 { return cur.absMax(x) }
func quantX16(dst []int16, x []float32, inv float32)             { cur.quantX16(dst, x, inv) }
func normScale(dst, x, g []float32, inv float32)                 { cur.normScale(dst, x, g, inv) }
