package needle

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/kernels"
)

// teacherLogits loads the golden model with opt and returns its teacher-forced logits.
func teacherLogits(t *testing.T, wb []byte, opt Options) []float32 {
	t.Helper()
	cfg := goldenConfig(t)
	m, err := New(cfg, wb, nil, opt)
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
	eachKernelSet(t, func(name string) {
		if e := relRMS(teacherLogits(t, grid, Options{Weights: "int4"}), ref4); e > 1e-4 {
			t.Errorf("kernel set %s: int4 on int4-grid weights: logits relative RMS error %.2g, want rounding only", name, e)
		} else {
			t.Logf("kernel set %-12s int4 on int4-grid weights: logits relative RMS error %.2g", name, e)
		}
	})
	// Stored as int8 (what train.py writes), the int4-grid weights are recognised and get an
	// int4 decode copy by default; plain weights do not.
	st8, err := parseSafetensors(grid)
	if err != nil {
		t.Fatal(err)
	}
	grid8 := storeInt8(t, st8)
	cb, _ := os.ReadFile("testdata/golden/config.json")
	cfg, _ := ParseConfig(cb)
	for _, c := range []struct {
		wb   []byte
		opt  string
		want string
	}{
		{grid8, "", "int8+int4 (embedding int8)"},
		{grid8, "int8", "int8"},
		{storeInt8(t, st), "", "int8"},
		{storeInt8(t, st), "int8+int4", "int8+int4 (embedding int8)"},
	} {
		m, err := New(cfg, c.wb, nil, Options{Weights: c.opt})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.WeightsFormat(); got != c.want {
			t.Errorf("weights %q: format %q, want %q", c.opt, got, c.want)
		}
	}
	if e := relRMS(teacherLogits(t, grid8, Options{}), ref4); e > 0.02 {
		t.Errorf("int8 prefill + int4 decode on int4-grid weights: logits relative RMS error %.4f", e)
	}
	if e := relRMS(ref4, ref); e < 0.01 {
		t.Errorf("snapping to the int4 grid changed nothing (%.4f): the test is not exercising int4", e)
	}
}

// eachKernelSet runs f under every kernel set this CPU has (naming the ones it lacks) and
// restores the set in use.
func eachKernelSet(t *testing.T, f func(name string)) {
	t.Helper()
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
		f(name)
	}
}

// storeInt8 writes st's matrices as train.py exports them: int8 with one scale per 32 inputs.
func storeInt8(t *testing.T, st *safetensors) []byte {
	t.Helper()
	tensors, shapes := map[string][]float32{}, map[string][]int{}
	for _, name := range st.names() {
		v, shape, err := st.float32s(name)
		if err != nil {
			t.Fatal(err)
		}
		tensors[name], shapes[name] = v, shape
	}
	return writeSafetensorsInt8(t, tensors, shapes)
}

func TestWeightsOption(t *testing.T) {
	wb, err := os.ReadFile("testdata/golden/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile("testdata/golden/config.json")
	cfg, _ := ParseConfig(cb)
	for opt, want := range map[string]string{"": "f32", "f32": "f32", "int8": "int8", "int4": "int4 (embedding int8)"} {
		m, err := New(cfg, wb, nil, Options{Weights: opt})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.WeightsFormat(); got != want {
			t.Errorf("weights %q: format %q, want %q", opt, got, want)
		}
	}
	if _, err := New(cfg, wb, nil, Options{Weights: "int2"}); err == nil {
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
	errs := map[string]float64{}
	eachKernelSet(t, func(name string) {
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
	})
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
	for _, w := range []string{"int8", "int4", "int8+int4"} {
		m, err := New(cfg, wb, nil, Options{Weights: w})
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

// writeSafetensorsInt8 is writeSafetensors with the matrices stored the way train.export
// does: int8 (name) with one float32 scale per 32 inputs (name.scale, n x k/32).
func writeSafetensorsInt8(t *testing.T, tensors map[string][]float32, shapes map[string][]int) []byte {
	t.Helper()
	names := make([]string, 0, len(tensors))
	for k := range tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	hdr := map[string]any{}
	var data []byte
	put := func(name, dtype string, shape []int, b []byte) {
		hdr[name] = map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int{len(data), len(data) + len(b)}}
		data = append(data, b...)
	}
	f32 := func(v []float32) []byte {
		var b []byte
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		return b
	}
	for _, name := range names {
		v, shape := tensors[name], shapes[name]
		if len(shape) != 2 || shape[1]%kernels.GroupSize != 0 || strings.HasPrefix(name, "head.") {
			put(name, "F32", shape, f32(v))
			continue
		}
		q := make([]byte, len(v))
		sc := make([]float32, len(v)/kernels.GroupSize)
		for g := range sc {
			grp := v[g*kernels.GroupSize : (g+1)*kernels.GroupSize]
			var mx float64
			for _, x := range grp {
				mx = max(mx, math.Abs(float64(x)))
			}
			s := mx / 127
			if s == 0 {
				s = 1
			}
			sc[g] = float32(s)
			for i, x := range grp {
				q[g*kernels.GroupSize+i] = byte(int8(math.Round(float64(x) / s)))
			}
		}
		put(name, "I8", shape, q)
		put(name+".scale", "F32", []int{shape[0], shape[1] / kernels.GroupSize}, f32(sc))
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}
