package needle

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/kernels"
)

// Weight names. The one place they are defined on the Go side, mirroring the docstring of
// train/needle_model.py. Matrices are [out, in] (PyTorch Linear layout), row-major.
//
//	embed                                  [vocab, d]       tied input/output embedding
//	enc.{i}.norm  enc.{i}.gate             [d], [1]
//	enc.{i}.attn.{q,k,v,o}                 q,o [d, d]; k,v [kv*hd, d]
//	enc.{i}.attn.{q_norm,k_norm}           [hd]
//	enc.norm                               [d]
//	dec.{i}.{self_norm,self_gate,cross_norm,cross_gate}
//	dec.{i}.self.*  dec.{i}.cross.*        as enc.{i}.attn.*
//	dec.norm                               [d]
//	head.fc1.weight [c, d]  head.fc1.bias [c]  head.fc2.weight [c, c]  head.log_temp [1]
//
// Fields are bound by their `needle` tags; a slice of structs binds "prefix.{i}.".

// Attention holds one attention block's projections and QK-norm scales.
type Attention struct {
	Q     []float32 `needle:"q" shape:"q,d"`
	K     []float32 `needle:"k" shape:"kv,d"`
	V     []float32 `needle:"v" shape:"kv,d"`
	O     []float32 `needle:"o" shape:"d,q"`
	QNorm []float32 `needle:"q_norm" shape:"hd"`
	KNorm []float32 `needle:"k_norm" shape:"hd"`

	// Packed copies for the register-tiled GEMM, made once at load. A decoder's
	// self-attention holds Q, K and V stacked in QKV instead (one product per step).
	Qp, Kp, Vp, Op *kernels.Packed
	QKV            *kernels.Packed
}

func (a *Attention) pack(pk *packer, prefix string, c Config) error {
	var err error
	if a.Qp, err = pk.pack(prefix+"q", a.Q, c.qDim(), c.DModel); err != nil {
		return err
	}
	if a.Kp, err = pk.pack(prefix+"k", a.K, c.kvDim(), c.DModel); err != nil {
		return err
	}
	if a.Vp, err = pk.pack(prefix+"v", a.V, c.kvDim(), c.DModel); err != nil {
		return err
	}
	if a.Op, err = pk.pack(prefix+"o", a.O, c.DModel, c.qDim()); err != nil {
		return err
	}
	// The row-major copies were only the source of the packing; holding both would double
	// the memory of every projection.
	a.Q, a.K, a.V, a.O = nil, nil, nil, nil
	return nil
}

// EncoderLayer is a bidirectional self-attention block.
type EncoderLayer struct {
	Norm []float32 `needle:"norm" shape:"d"`
	Gate []float32 `needle:"gate" shape:"1"`
	Attn Attention `needle:"attn"`
}

// DecoderLayer is causal self-attention then cross-attention.
type DecoderLayer struct {
	SelfNorm  []float32 `needle:"self_norm" shape:"d"`
	SelfGate  []float32 `needle:"self_gate" shape:"1"`
	Self      Attention `needle:"self"`
	CrossNorm []float32 `needle:"cross_norm" shape:"d"`
	CrossGate []float32 `needle:"cross_gate" shape:"1"`
	Cross     Attention `needle:"cross"`
}

// Head is the contrastive retrieval head.
type Head struct {
	FC1W    []float32 `needle:"fc1.weight" shape:"c,d"`
	FC1B    []float32 `needle:"fc1.bias" shape:"c"`
	FC2W    []float32 `needle:"fc2.weight" shape:"c,c"`
	LogTemp []float32 `needle:"log_temp" shape:"1"`
}

// Weights is the whole model.
type Weights struct {
	Embed   []float32      `needle:"embed" shape:"vocab,d"`
	Enc     []EncoderLayer `needle:"enc"`
	EncNorm []float32      `needle:"enc.norm" shape:"d"`
	Dec     []DecoderLayer `needle:"dec"`
	DecNorm []float32      `needle:"dec.norm" shape:"d"`
	Head    Head           `needle:"head"`

	// The tied embedding, packed: the output projection multiplies by it and the input
	// lookup reads rows back out of it (Packed.Row), so one copy serves both.
	EmbedP *kernels.Packed
}

// Options choose how the weights are held in memory.
type Options struct {
	// Weights is the format of the weight matrices:
	//   ""     as the file stores them (the default): int8 tensors stay int8 (decode reads
	//          them with the int8 GEMV), fp32 tensors stay fp32;
	//   "f32"  everything expanded to fp32;
	//   "int8" fp32 tensors quantised to int8 too (one scale per 32 inputs);
	//   "int4" projections requantised to int4 (what int4 QAT trains for; lossless for a QAT
	//          export), the embedding kept at int8 because QAT does not cover it;
	//   "int8+int4" int8 for prefill (the int8 GEMM) and an int4 copy of the projections
	//          for decode (half the bytes per token), whatever the file holds.
	// With "", int8 projections that lie on the int4 grid (an int4 QAT export, as
	// train/train.py writes them) get the int4 decode copy too: it is what they were trained
	// as, so the copy costs no accuracy. "int8" keeps int8 only.
	Weights string
}

// WeightFormats are the values Options.Weights takes besides "" (as stored).
var WeightFormats = []string{"f32", "int8", "int4", "int8+int4"}

func (o Options) validate() error {
	if o.Weights == "" || slices.Contains(WeightFormats, o.Weights) {
		return nil
	}
	return fmt.Errorf("%w: weights format %q (want %s)", ErrConfig, o.Weights, strings.Join(WeightFormats, ", "))
}

// packer turns bound matrices into the packed form the options ask for.
type packer struct {
	st  *safetensors
	opt Options
}

func (pk *packer) pack(name string, w []float32, n, k int) (*kernels.Packed, error) {
	bits := 32
	stored8 := pk.st.tensors[name].DType == "I8"
	if w == nil && !stored8 {
		return nil, fmt.Errorf("tensor %s was not bound", name)
	}
	decode4 := false // add an int4 copy for decode
	switch pk.opt.Weights {
	case "":
		if stored8 {
			bits = 8
			decode4 = name != "embed" && pk.onInt4Grid(name)
		}
	case "int8":
		bits = 8
	case "int8+int4":
		bits, decode4 = 8, name != "embed"
	case "int4":
		bits = 4
		if name == "embed" {
			bits = 8
		}
	}
	if k%kernels.GroupSize != 0 {
		bits = 32 // quantisation groups need whole groups of inputs
	}
	switch {
	case bits == 8 && stored8:
		q, s, ok := pk.st.int8s(name)
		if !ok {
			return nil, fmt.Errorf("tensor %s: unreadable int8 data", name)
		}
		p, err := kernels.PackQ8(q, s, n, k)
		if err != nil || !decode4 {
			return p, err
		}
		if w, _, err = pk.st.float32s(name); err != nil {
			return nil, err
		}
		p.Decode, err = kernels.Quantize(w, n, k, 4)
		return p, err
	case stored8:
		var err error
		if w, _, err = pk.st.float32s(name); err != nil {
			return nil, err
		}
	}
	if bits == 32 {
		return kernels.Pack(w, n, k), nil
	}
	p, err := kernels.Quantize(w, n, k, bits)
	if err == nil && decode4 && bits == 8 {
		p.Decode, err = kernels.Quantize(w, n, k, 4)
	}
	return p, err
}

// onInt4Grid reports whether the stored int8 tensor name lies on the int4 grid: in every
// group of 32 the values are multiples (to int8 rounding, half a step) of max|q|/7, as an
// int4 QAT export stored as int8 is. Random or plainly trained weights fail in the first
// groups.
func (pk *packer) onInt4Grid(name string) bool {
	q, s, ok := pk.st.int8s(name)
	if !ok || len(q) == 0 || len(q)%kernels.GroupSize != 0 || len(s) != len(q)/kernels.GroupSize {
		return false
	}
	for g := 0; g < len(q); g += kernels.GroupSize {
		grp := q[g : g+kernels.GroupSize]
		mx := 0
		for _, v := range grp {
			mx = max(mx, int(v), -int(v))
		}
		if mx == 0 {
			continue
		}
		step := float64(mx) / 7
		for _, v := range grp {
			if d := float64(v) - step*math.Round(float64(v)/step); d > 0.5+1e-9 || d < -0.5-1e-9 {
				return false
			}
		}
	}
	return true
}

// pack prepares the packed form of every projection and drops the row-major copies.
func (w *Weights) pack(c Config, st *safetensors, opt Options) error {
	pk := &packer{st: st, opt: opt}
	for i := range w.Enc {
		if err := w.Enc[i].Attn.pack(pk, fmt.Sprintf("enc.%d.attn.", i), c); err != nil {
			return err
		}
	}
	for i := range w.Dec {
		a := &w.Dec[i].Self
		if err := a.pack(pk, fmt.Sprintf("dec.%d.self.", i), c); err != nil {
			return err
		}
		qkv, err := kernels.Concat(a.Qp, a.Kp, a.Vp)
		if err != nil {
			return err
		}
		a.QKV, a.Qp, a.Kp, a.Vp = qkv, nil, nil, nil
		if err := w.Dec[i].Cross.pack(pk, fmt.Sprintf("dec.%d.cross.", i), c); err != nil {
			return err
		}
	}
	var err error
	w.EmbedP, err = pk.pack("embed", w.Embed, c.VocabSize, c.DModel)
	w.Embed = nil
	return err
}

// bindWeights fills w from st. Every tensor must be used exactly once and have the shape
// the config implies; otherwise one error names every missing, extra or misshapen tensor.
func bindWeights(w *Weights, st *safetensors, c Config) error {
	w.Enc = make([]EncoderLayer, c.EncLayers)
	w.Dec = make([]DecoderLayer, c.DecLayers)
	dims := map[string]int{"d": c.DModel, "q": c.qDim(), "kv": c.kvDim(), "hd": c.HeadDim,
		"vocab": c.VocabSize, "c": c.HeadDimContrastive, "1": 1}
	used := map[string]bool{}
	var problems []string
	var bind func(v reflect.Value, prefix string)
	bind = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Tag.Get("needle") == "" {
				continue // derived at load (packed copies), not stored
			}
			name := prefix + f.Tag.Get("needle")
			fv := v.Field(i)
			switch {
			case f.Type.Kind() == reflect.Struct:
				bind(fv, name+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				for j := 0; j < fv.Len(); j++ {
					bind(fv.Index(j), name+"."+strconv.Itoa(j)+".")
				}
			default:
				var want []int
				for _, d := range strings.Split(f.Tag.Get("shape"), ",") {
					want = append(want, dims[d])
				}
				if _, ok := st.tensors[name]; !ok {
					problems = append(problems, fmt.Sprintf("missing tensor %s %v", name, want))
					continue
				}
				used[name] = true
				if shape := st.tensors[name].Shape; !slices.Equal(shape, want) {
					problems = append(problems, fmt.Sprintf("tensor %s has shape %v, want %v", name, shape, want))
					continue
				}
				if st.tensors[name].DType == "I8" {
					// Held as int8 by default: the packer reads the integers directly and
					// expands to fp32 only when asked to, so loading never holds both.
					used[name+".scale"] = true
					if err := st.checkInt8(name); err != nil {
						problems = append(problems, err.Error())
					}
					continue
				}
				data, _, err := st.float32s(name)
				if err != nil {
					problems = append(problems, err.Error())
					continue
				}
				fv.Set(reflect.ValueOf(data))
			}
		}
	}
	bind(reflect.ValueOf(w).Elem(), "")
	for _, n := range st.names() {
		if !used[n] {
			problems = append(problems, "extra tensor "+n)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrCorruptWeights, strings.Join(problems, "; "))
	}
	return nil
}

// Configs are the named shapes of train/needle_model.py (CONFIGS), for benchmarks that need
// a model of a shape rather than a trained one.
var Configs = map[string]Config{
	"26m": {Name: "needle-26m", VocabSize: 8192, DModel: 512, EncLayers: 12, DecLayers: 8, NHeads: 8, NKVHeads: 4,
		HeadDim: 64, RopeTheta: 10000, NormEps: 1e-6, HeadDimContrastive: 128, MaxEncLen: 1024, MaxDecLen: 512},
	"small": {Name: "needle-small", VocabSize: 8192, DModel: 256, EncLayers: 4, DecLayers: 4, NHeads: 4, NKVHeads: 2,
		HeadDim: 64, RopeTheta: 10000, NormEps: 1e-6, HeadDimContrastive: 128, MaxEncLen: 1024, MaxDecLen: 512},
	"tiny": {Name: "needle-tiny", VocabSize: 8192, DModel: 64, EncLayers: 1, DecLayers: 1, NHeads: 2, NKVHeads: 1,
		HeadDim: 32, RopeTheta: 10000, NormEps: 1e-6, HeadDimContrastive: 32, MaxEncLen: 256, MaxDecLen: 96},
}

// RandomWeights returns a safetensors file of shape cfg with random weights drawn as the
// trainer initialises them (Needle.reset_parameters, NEEDLE-SPEC "Init"): matrices
// normal(0, 0.02), attention output projections normal(0, 0.02/sqrt(2 x layers)), norms and
// gates 0, the fc1 bias 0, log_temp log(1/0.07); for benchmarks of a shape (New builds the
// model). The same seed gives the same weights.
func RandomWeights(cfg Config, seed uint64) ([]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x6e656564))
	oStd := 0.02 / math.Sqrt(float64(2*(cfg.EncLayers+cfg.DecLayers)))
	var names []string
	shapes := map[string][]int{}
	walkTensors(reflect.TypeOf(Weights{}), "", cfg, func(name string, shape []int) {
		names = append(names, name)
		shapes[name] = shape
	})
	hdr := map[string]any{"__metadata__": map[string]string{"note": fmt.Sprintf("random weights, seed %d", seed)}}
	total := 0
	for _, name := range names {
		n := 4
		for _, d := range shapes[name] {
			n *= d
		}
		total += n
	}
	data := make([]byte, 0, total)
	for _, name := range names {
		shape := shapes[name]
		n := 1
		for _, d := range shape {
			n *= d
		}
		std := 0.0
		if len(shape) == 2 {
			std = 0.02
			if strings.HasSuffix(name, ".o") {
				std = oStd
			}
		}
		off := len(data)
		for i := 0; i < n; i++ {
			v := float32(r.NormFloat64() * std)
			if name == "head.log_temp" {
				v = float32(math.Log(1 / 0.07))
			}
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		hdr[name] = map[string]any{"dtype": "F32", "shape": shape, "data_offsets": []int{off, len(data)}}
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	file := append(binary.LittleEndian.AppendUint64(nil, uint64(len(h))), h...)
	return append(file, data...), nil
}

// walkTensors calls f with the name and shape of every stored tensor of a Weights, in the
// order the struct declares them, following the same tags bindWeights binds.
func walkTensors(t reflect.Type, prefix string, c Config, f func(name string, shape []int)) {
	dims := map[string]int{"d": c.DModel, "q": c.qDim(), "kv": c.kvDim(), "hd": c.HeadDim,
		"vocab": c.VocabSize, "c": c.HeadDimContrastive, "1": 1}
	for i := 0; i < t.NumField(); i++ {
		fld := t.Field(i)
		tag := fld.Tag.Get("needle")
		if tag == "" {
			continue
		}
		name := prefix + tag
		switch {
		case fld.Type.Kind() == reflect.Struct:
			walkTensors(fld.Type, name+".", c, f)
		case fld.Type.Kind() == reflect.Slice && fld.Type.Elem().Kind() == reflect.Struct:
			n := c.EncLayers
			if tag == "dec" {
				n = c.DecLayers
			}
			for j := 0; j < n; j++ {
				walkTensors(fld.Type.Elem(), name+"."+strconv.Itoa(j)+".", c, f)
			}
		default:
			var shape []int
			for _, d := range strings.Split(fld.Tag.Get("shape"), ",") {
				shape = append(shape, dims[d])
			}
			f(name, shape)
		}
	}
}
