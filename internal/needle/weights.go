package needle

import (
	"fmt"
	"github.com/needle-router/needle/internal/kernels"
	"reflect"
	"slices"
	"strconv"
	"strings"
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

	// Packed copies for the register-tiled GEMM, made once at load.
	Qp, Kp, Vp, Op *kernels.Packed
}

func (a *Attention) pack(c Config) {
	a.Qp = kernels.Pack(a.Q, c.qDim(), c.DModel)
	a.Kp = kernels.Pack(a.K, c.kvDim(), c.DModel)
	a.Vp = kernels.Pack(a.V, c.kvDim(), c.DModel)
	a.Op = kernels.Pack(a.O, c.DModel, c.qDim())
	// The row-major copies were only the source of the packing; holding both would double
	// the memory of every projection.
	a.Q, a.K, a.V, a.O = nil, nil, nil, nil
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

	EmbedP *kernels.Packed // the tied output projection, packed
}

// pack prepares the packed copies of every projection.
func (w *Weights) pack(c Config) {
	for i := range w.Enc {
		w.Enc[i].Attn.pack(c)
	}
	for i := range w.Dec {
		w.Dec[i].Self.pack(c)
		w.Dec[i].Cross.pack(c)
	}
	w.EmbedP = kernels.Pack(w.Embed, c.VocabSize, c.DModel)
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
				data, shape, err := st.float32s(name)
				if err != nil {
					problems = append(problems, err.Error())
					continue
				}
				if st.tensors[name].DType == "I8" {
					used[name+".scale"] = true
				}
				if !slices.Equal(shape, want) {
					problems = append(problems, fmt.Sprintf("tensor %s has shape %v, want %v", name, shape, want))
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
