package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// forEachSet runs a conformance test once per kernel set compiled in, with that set in use,
// the twins as the oracle. A set this CPU cannot run is skipped with a message naming it
// and the features it lacks, so the suite reads the same on every machine.
func forEachSet(t *testing.T, f func(t *testing.T)) {
	for _, s := range sets {
		t.Run(s.name, func(t *testing.T) {
			if !s.ok {
				t.Skipf("kernel set %s: this CPU lacks some of %s (it has: %s)", s.name, s.needs, Features())
			}
			prev := cur
			cur = s
			defer func() { cur = prev }()
			f(t)
		})
	}
}

func TestSetSelection(t *testing.T) {
	t.Log(Describe())
	if want := os.Getenv("NEEDLE_KERNELS"); want != "" && Sets()[want] && Set() != want {
		t.Fatalf("NEEDLE_KERNELS=%s, set in use %s", want, Set())
	}
	if err := Use("no-such-set"); err == nil {
		t.Fatal("an unknown set was accepted")
	}
	for _, s := range sets {
		if s.mr < 1 || s.mr > mrMax || s.qmr > mrMax || (s.gemmQ8 != nil) != (s.qmr > 0) {
			t.Fatalf("set %s: tile rows %d/%d out of range", s.name, s.mr, s.qmr)
		}
		if err := Use(s.name); (err == nil) != s.ok {
			t.Fatalf("Use(%s) = %v with ok %v", s.name, err, s.ok)
		}
	}
	cur = sets[0]
	for _, s := range sets {
		if s.ok {
			cur = s
			break
		}
	}
}

func TestNormScaleConformance(t *testing.T) { forEachSet(t, testNormScaleConformance) }

func testNormScaleConformance(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range sizes {
		x, g := randVec(r, n), randVec(r, n)
		full, got := guarded(n)
		want := make([]float32, n)
		normScale(got, x, g, 0.37)
		normScaleGeneric(want, x, g, 0.37)
		checkGuards(t, full, n, fmt.Sprintf("normScale n=%d", n))
		for i := range want {
			if got[i] != want[i] { // two multiplies and an add, in the same order: exact
				t.Fatalf("normScale n=%d [%d]: %g, want %g", n, i, got[i], want[i])
			}
		}
		copy(got, x) // in place
		normScale(got, got, g, 0.37)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("normScale in place n=%d [%d]: %g, want %g", n, i, got[i], want[i])
			}
		}
	}
}

// TestGemmQ8Conformance: the int8 prefill GEMM of each set that has one against its twin,
// every tile height, odd strides, guards; and the twin against fp32 over the dequantised
// weights (the int16 rounding of the input is the only difference).
func TestGemmQ8Conformance(t *testing.T) { forEachSet(t, testGemmQ8Conformance) }

func testGemmQ8Conformance(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, k := range []int{32, 64, 96, 512} {
		qi, s := randQuant(r, 16, k)
		p, err := PackQ8(qi, s, 16, k)
		if err != nil {
			t.Fatal(err)
		}
		for mr := 1; mr <= max(cur.qmr, 3); mr++ {
			lda, ldc := k+5, 19
			a := randVec(r, mr*lda)
			a16 := make([]int16, mr*lda)
			xs := make([]float32, mr)
			for i := 0; i < mr; i++ {
				xs[i] = quantizeX16(a16[i*lda:i*lda+k], a[i*lda:i*lda+k])
			}
			want := make([]float32, mr*ldc)
			gemmQ8Generic(mr, k, a16, lda, xs, p.Q, p.S, want, ldc)
			what := fmt.Sprintf("gemmQ8 mr=%d k=%d", mr, k)
			// Twin against fp32 on the dequantised panel.
			for i := 0; i < mr; i++ {
				for j := 0; j < 16; j++ {
					var ref float64
					for c := 0; c < k; c++ {
						ref += float64(a[i*lda+c]) * float64(p.Weight(j, c))
					}
					if !close32(want[i*ldc+j], float32(ref), 2e-5*float64(k)) {
						t.Fatalf("%s twin [%d][%d]: %g, fp32 %g", what, i, j, want[i*ldc+j], ref)
					}
				}
			}
			if cur.gemmQ8 == nil || mr > cur.qmr {
				continue
			}
			full, got := guarded(mr * ldc)
			copy(got, want) // the kernel must overwrite every tile value it owns
			for i := 0; i < mr; i++ {
				for j := 0; j < 16; j++ {
					got[i*ldc+j] = 1e9
				}
			}
			cur.gemmQ8(mr, k, a16, lda, xs, p.Q, p.S, got, ldc)
			checkGuards(t, full, mr*ldc, what)
			for i := range want {
				if !close32(got[i], want[i], 1e-6*float64(k)) {
					t.Fatalf("%s [%d]: %g, want %g", what, i, got[i], want[i])
				}
			}
		}
	}
}

func TestParseThreads(t *testing.T) {
	for _, c := range []struct {
		env      string
		want     int
		wantNote string
	}{
		{"", 2, ""},
		{"1", 1, ""},
		{"8", 8, ""},
		{"9", 8, "capped at 8"},
		{"100000", 8, "capped at 8"},
		{"0", 2, "ignored"},
		{"-3", 2, "ignored"},
		{"abc", 2, "ignored"},
		{"1.5", 2, "ignored"},
	} {
		n, note := parseThreads(c.env, 2, 2)
		if n != c.want || (c.wantNote == "") != (note == "") || !strings.Contains(note, c.wantNote) {
			t.Errorf("NEEDLE_THREADS=%q: %d %q, want %d and a note with %q", c.env, n, note, c.want, c.wantNote)
		}
	}
}

// A NEEDLE_THREADS that is no count is the caller's start-up error, not a silent zero.
func TestSettingsFromEnv(t *testing.T) {
	for _, c := range []struct {
		threads, set string
		want         int
		wantErr      bool
	}{
		{"", "", 0, false},
		{"3", "generic", 3, false},
		{"100000", "", 100000, false}, // capped by Configure, with a warning
		{"abc", "", 0, true},
		{"1.5", "", 0, true},
		{"2x", "", 0, true},
		{"0", "", 0, true},
		{"-3", "", 0, true},
	} {
		env := map[string]string{"NEEDLE_THREADS": c.threads, "NEEDLE_KERNELS": c.set}
		s, err := SettingsFromEnv(func(k string) string { return env[k] })
		if s.Threads != c.want || s.Set != c.set || (err != nil) != c.wantErr {
			t.Errorf("NEEDLE_THREADS=%q: %+v %v, want %d threads, error %v", c.threads, s, err, c.want, c.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("NEEDLE_THREADS=%q", c.threads)) {
			t.Errorf("the error does not name the setting: %v", err)
		}
	}
}
