package needle

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/kernels"
)

// teacherLogits loads the golden model with opt and returns its teacher-forced logits.
func teacherLogits(t *testing.T, wb []byte, opt Options) []float32 {
	t.Helper()
	cb, err := os.ReadFile("testdata/golden/config.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewWithOptions(cfg, wb, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := readSafetensors("testdata/golden/expect.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	enc, dec := mustI32(t, exp, "enc_ids"), mustI32(t, exp, "dec_ids")
	s := m.getScratch()
	m.encode(s, enc)
	m.prepareCross(s, len(enc))
	var out []float32
	for p, id := range dec {
		m.decodeStep(s, id, p, len(enc))
		out = append(out, s.logits...)
	}
	return out
}

func relRMS(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i] - want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

// TestQuantisedWeights: int8 weights stay close to fp32 on the golden model, and weights that
// lie on the int4 grid (what int4 QAT exports) run through the int4 kernels with no loss.
func TestQuantisedWeights(t *testing.T) {
	wb, err := os.ReadFile("testdata/golden/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ref := teacherLogits(t, wb, Options{})
	if e := relRMS(teacherLogits(t, wb, Options{Weights: "int8"}), ref); e > 0.02 {
		t.Errorf("int8 logits relative RMS error %.4f > 0.02", e)
	} else {
		t.Logf("int8 logits relative RMS error %.4f", e)
	}

	// Snap every projection of the golden model to the int4 grid, as train.export does with
	// QAT on, and compare the int4 engine against fp32 on the snapped weights.
	st, err := parseSafetensors(wb)
	if err != nil {
		t.Fatal(err)
	}
	tensors, shapes := map[string][]float32{}, map[string][]int{}
	for _, name := range st.names() {
		v, shape, err := st.float32s(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(shape) == 2 && shape[1]%kernels.GroupSize == 0 && !strings.HasPrefix(name, "head.") {
			bits := 4
			if name == "embed" {
				bits = 8 // what "int4" holds the embedding as
			}
			p, err := kernels.Quantize(v, shape[0], shape[1], bits)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < shape[0]; j++ {
				p.Row(v[j*shape[1]:(j+1)*shape[1]], j)
			}
		}
		tensors[name], shapes[name] = v, shape
	}
	grid := writeSafetensors(tensors, shapes)
	ref4 := teacherLogits(t, grid, Options{Weights: "f32"})
	// Under every kernel set this CPU has: only rounding may remain, the decode GEMVs (int4
	// projections, int8 embedding) taking their input as int16 (under 2e-5 of the largest
	// activation) and float sums in another order.
	prev := kernels.Set()
	defer kernels.Use(prev)
	for name, ok := range kernels.Sets() {
		if !ok {
			t.Logf("kernel set %s: skipped, this CPU lacks its features", name)
			continue
		}
		if err := kernels.Use(name); err != nil {
			t.Fatal(err)
		}
		if e := relRMS(teacherLogits(t, grid, Options{Weights: "int4"}), ref4); e > 1e-4 {
			t.Errorf("kernel set %s: int4 on int4-grid weights: logits relative RMS error %.2g, want rounding only", name, e)
		} else {
			t.Logf("kernel set %-12s int4 on int4-grid weights: logits relative RMS error %.2g", name, e)
		}
	}
	if e := relRMS(ref4, ref); e < 0.01 {
		t.Errorf("snapping to the int4 grid changed nothing (%.4f): the test is not exercising int4", e)
	}
}

func TestWeightsOption(t *testing.T) {
	wb, err := os.ReadFile("testdata/golden/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile("testdata/golden/config.json")
	cfg, _ := ParseConfig(cb)
	for opt, want := range map[string]string{"": "f32", "f32": "f32", "int8": "int8", "int4": "int4 (embedding int8)"} {
		m, err := NewWithOptions(cfg, wb, nil, Options{Weights: opt})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.WeightsFormat(); got != want {
			t.Errorf("weights %q: format %q, want %q", opt, got, want)
		}
	}
	if _, err := NewWithOptions(cfg, wb, nil, Options{Weights: "int2"}); err == nil {
		t.Error("int2 accepted")
	}
}

// TestInt8ComputeAccuracy measures, on the golden model with int8 weights, the logit error
// against fp32 under every kernel set this CPU has: the sets with an int8 prefill GEMM
// quantise the encoder's activations to int16 per row and sum in int32 per group; the
// others expand the weights to fp32. The int8 compute must not add measurable error.
func TestInt8ComputeAccuracy(t *testing.T) {
	wb, err := os.ReadFile("testdata/golden/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	prev := kernels.Set()
	defer kernels.Use(prev)
	errs := map[string]float64{}
	for name, ok := range kernels.Sets() {
		if !ok {
			t.Logf("kernel set %s: skipped, this CPU lacks its features", name)
			continue
		}
		if err := kernels.Use(name); err != nil {
			t.Fatal(err)
		}
		ref := teacherLogits(t, wb, Options{Weights: "f32"})
		got := teacherLogits(t, wb, Options{Weights: "int8"})
		var maxAbs float64
		for i := range ref {
			maxAbs = math.Max(maxAbs, math.Abs(float64(got[i]-ref[i])))
		}
		errs[name] = relRMS(got, ref)
		t.Logf("kernel set %-12s int8 weights: logits relative RMS error %.6g, max |error| %.4g (of %d logits)", name, errs[name], maxAbs, len(ref))
		if errs[name] > 0.02 {
			t.Errorf("kernel set %s: int8 logits relative RMS error %.4f > 0.02", name, errs[name])
		}
	}
	if g, ok := errs["generic"]; ok {
		for name, e := range errs {
			if e > g*1.05+1e-4 {
				t.Errorf("kernel set %s: int8 error %.5f, generic (fp32 compute) %.5f", name, e, g)
			}
		}
	}
}

// TestDecodeStepDoesNotAllocateQuantised: as TestDecodeStepDoesNotAllocate with int8 and int4
// weights, whose GEMV converts its input to int16 in pooled job buffers.
func TestDecodeStepDoesNotAllocateQuantised(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	wb, err := os.ReadFile("testdata/golden/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile("testdata/golden/config.json")
	cfg, _ := ParseConfig(cb)
	exp, err := readSafetensors("testdata/golden/expect.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ids := mustI32(t, exp, "enc_ids")
	for _, w := range []string{"int8", "int4"} {
		m, err := NewWithOptions(cfg, wb, nil, Options{Weights: w})
		if err != nil {
			t.Fatal(err)
		}
		s := m.getScratch()
		m.encode(s, ids)
		m.prepareCross(s, len(ids))
		m.decodeStep(s, TokEOS, 0, len(ids))
		pos := 1
		allocs := testing.AllocsPerRun(20, func() {
			m.decodeStep(s, 7, pos, len(ids))
			pos++
		})
		if allocs != 0 {
			t.Fatalf("%s weights, kernels %s: decodeStep allocates %.1f times per token", w, kernels.Set(), allocs)
		}
	}
}
