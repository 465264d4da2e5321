package needle

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"sync"

	"github.com/needle-router/needle/internal/kernels"
)

// Model is a loaded Needle model. Weights are shared read-only; each request takes a
// scratch from a pool, so a Model is safe for concurrent use.
type Model struct {
	cfg      Config
	w        Weights
	tok      *Tokenizer
	meta     map[string]string // safetensors metadata written by the trainer
	cos, sin []float32
	pool     sync.Pool
}

// ErrNoModel means the file system has no trained model (config.json or model.safetensors
// is missing), e.g. a checkout whose models/ holds only the tokenizer.
var ErrNoModel = errors.New("needle: no trained model is present (config.json or model.safetensors missing)")

// Load reads config.json, model.safetensors and tokenizer.model from the root of fsys (a
// directory, os.DirFS, or the embedded models/). It returns ErrNoModel when config.json or
// model.safetensors is missing, ErrConfig, ErrCorruptWeights or ErrBadTokenizer when one
// does not parse.
func Load(fsys fs.FS, opt Options) (*Model, error) {
	cb, err := fs.ReadFile(fsys, "config.json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoModel
	} else if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(cb)
	if err != nil {
		return nil, err
	}
	wb, err := fs.ReadFile(fsys, "model.safetensors")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoModel
	} else if err != nil {
		return nil, err
	}
	tb, err := fs.ReadFile(fsys, "tokenizer.model")
	if err != nil {
		return nil, err
	}
	tok, err := ParseTokenizer(tb)
	if err != nil {
		return nil, err
	}
	return New(cfg, wb, tok, opt)
}

// New builds a model from a config, safetensors bytes and a tokenizer (nil for tests that
// drive token ids directly), holding the weights in the format opt asks for.
func New(cfg Config, weights []byte, tok *Tokenizer, opt Options) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := opt.validate(); err != nil {
		return nil, err
	}
	st, err := parseSafetensors(weights)
	if err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, tok: tok, meta: st.meta}
	if _, err := m.threshold(); err != nil {
		return nil, err
	}
	if err := bindWeights(&m.w, st, cfg); err != nil {
		return nil, err
	}
	if err := m.w.pack(cfg, st, opt); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptWeights, err)
	}
	if tok != nil && tok.VocabSize() != cfg.VocabSize {
		return nil, fmt.Errorf("%w: tokenizer has %d pieces, config says %d", ErrConfig, tok.VocabSize(), cfg.VocabSize)
	}
	maxPos := max(cfg.MaxEncLen, cfg.MaxDecLen)
	half := cfg.HeadDim / 2
	m.cos = make([]float32, maxPos*half)
	m.sin = make([]float32, maxPos*half)
	kernels.RoPETables(m.cos, m.sin, maxPos, cfg.HeadDim, cfg.RopeTheta)
	m.pool.New = func() any { return m.newScratch() }
	return m, nil
}

// Config is the model's shape.
func (m *Model) Config() Config { return m.cfg }

// Tokenizer is the model's tokenizer (nil for a model built without one).
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// scratch is one request's working memory, reused through the pool.
type scratch struct {
	x, h, q, k, v, att, o []float32 // encoder rows, maxEnc x dims
	qkv                   []float32 // a decoder step's stacked q, k, v
	scores                []float32
	enc                   []float32          // final encoder output, maxEnc x d
	cross, self           []kernels.KVPanels // per decoder layer: keys/values in GEMM panels
	logits                []float32
	ids                   []int32
	pooled, hid           []float32
}

func (m *Model) newScratch() *scratch {
	c := m.cfg
	n, d := c.MaxEncLen, c.DModel
	s := &scratch{
		x: make([]float32, n*d), h: make([]float32, n*d), q: make([]float32, n*c.qDim()),
		k: make([]float32, n*c.kvDim()), v: make([]float32, n*c.kvDim()), att: make([]float32, n*c.qDim()),
		o: make([]float32, n*d), enc: make([]float32, n*d), qkv: make([]float32, c.qDim()+2*c.kvDim()),
		scores: make([]float32, max(kernels.AttentionScratch(n, n, c.NHeads, c.NKVHeads, c.HeadDim),
			kernels.AttendScratch(1, max(c.MaxEncLen, c.MaxDecLen), c.NHeads, c.NKVHeads))),
		logits: make([]float32, c.VocabSize), ids: make([]int32, 0, n),
		pooled: make([]float32, d), hid: make([]float32, c.HeadDimContrastive),
	}
	for i := 0; i < c.DecLayers; i++ {
		s.cross = append(s.cross, kernels.KVPanels{Data: make([]float32, kernels.KVPanelsSize(c.NKVHeads, c.HeadDim, n)),
			NKV: c.NKVHeads, HeadDim: c.HeadDim, Cap: n})
		s.self = append(s.self, kernels.KVPanels{Data: make([]float32, kernels.KVPanelsSize(c.NKVHeads, c.HeadDim, c.MaxDecLen)),
			NKV: c.NKVHeads, HeadDim: c.HeadDim, Cap: c.MaxDecLen})
	}
	return s
}

func (m *Model) getScratch() *scratch  { return m.pool.Get().(*scratch) }
func (m *Model) putScratch(s *scratch) { m.pool.Put(s) }

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// embedRows writes embed[id]*sqrt(d) for each id.
func (m *Model) embedRows(dst []float32, ids []int32) {
	d := m.cfg.DModel
	sc := float32(math.Sqrt(float64(d)))
	for i, id := range ids {
		out := dst[i*d : i*d+d]
		m.w.EmbedP.Row(out, int(id))
		for j := range out {
			out[j] *= sc
		}
	}
}

// encode runs the encoder over ids; the final-normed output lands in s.enc[:len(ids)*d].
func (m *Model) encode(s *scratch, ids []int32) {
	c := m.cfg
	n, d, qd, kvd := len(ids), c.DModel, c.qDim(), c.kvDim()
	x := s.x[:n*d]
	m.embedRows(x, ids)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for l := range m.w.Enc {
		L := &m.w.Enc[l]
		h := s.h[:n*d]
		kernels.ZCRMSNorm(h, x, L.Norm, c.NormEps)
		q, k, v := s.q[:n*qd], s.k[:n*kvd], s.v[:n*kvd]
		kernels.MatMulPacked(q, h, L.Attn.Qp, n)
		kernels.MatMulPacked(k, h, L.Attn.Kp, n)
		kernels.MatMulPacked(v, h, L.Attn.Vp, n)
		kernels.ZCRMSNorm(q, q, L.Attn.QNorm, c.NormEps)
		kernels.ZCRMSNorm(k, k, L.Attn.KNorm, c.NormEps)
		kernels.RoPE(q, c.NHeads, c.HeadDim, 0, m.cos, m.sin)
		kernels.RoPE(k, c.NKVHeads, c.HeadDim, 0, m.cos, m.sin)
		att := s.att[:n*qd]
		kernels.Attention(att, q, k, v, s.scores, n, n, c.NHeads, c.NKVHeads, c.HeadDim, scale, -1)
		o := s.o[:n*d]
		kernels.MatMulPacked(o, att, L.Attn.Op, n)
		kernels.Axpy(x, sigmoid(L.Gate[0]), o)
	}
	kernels.ZCRMSNorm(s.enc[:n*d], x, m.w.EncNorm, c.NormEps)
}

// prepareCross computes every decoder layer's cross-attention K/V from the encoder output,
// once per request.
func (m *Model) prepareCross(s *scratch, n int) {
	c := m.cfg
	d, kvd := c.DModel, c.kvDim()
	enc := s.enc[:n*d]
	for l := range m.w.Dec {
		A := &m.w.Dec[l].Cross
		k, v := s.k[:n*kvd], s.v[:n*kvd]
		kernels.MatMulPacked(k, enc, A.Kp, n)
		kernels.MatMulPacked(v, enc, A.Vp, n)
		kernels.ZCRMSNorm(k, k, A.KNorm, c.NormEps)
		s.cross[l].Set(k, v, 0, n)
	}
}

// decodeStep feeds token at position pos (0 = the start token) with the encoder output of
// length n, extends the self-attention KV cache and writes the logits to s.logits.
func (m *Model) decodeStep(s *scratch, token int32, pos, n int) {
	c := m.cfg
	d, qd, kvd := c.DModel, c.qDim(), c.kvDim()
	x := s.x[:d]
	m.embedRows(x, []int32{token})
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	h, att, o := s.h[:d], s.att[:qd], s.o[:d]
	for l := range m.w.Dec {
		L := &m.w.Dec[l]
		kernels.ZCRMSNorm(h, x, L.SelfNorm, c.NormEps)
		kernels.MatMulPacked(s.qkv, h, L.Self.QKV, 1)
		q, k, v := s.qkv[:qd], s.qkv[qd:qd+kvd], s.qkv[qd+kvd:qd+2*kvd]
		kernels.ZCRMSNorm(q, q, L.Self.QNorm, c.NormEps)
		kernels.ZCRMSNorm(k, k, L.Self.KNorm, c.NormEps)
		kernels.RoPE(q, c.NHeads, c.HeadDim, pos, m.cos, m.sin)
		kernels.RoPE(k, c.NKVHeads, c.HeadDim, pos, m.cos, m.sin)
		s.self[l].Set(k, v, pos, 1)
		kernels.AttendPanels(att, q, &s.self[l], s.scores, 1, pos+1, c.NHeads, scale, -1)
		kernels.MatMulPacked(o, att, L.Self.Op, 1)
		kernels.Axpy(x, sigmoid(L.SelfGate[0]), o)

		kernels.ZCRMSNorm(h, x, L.CrossNorm, c.NormEps)
		kernels.MatMulPacked(q, h, L.Cross.Qp, 1)
		kernels.ZCRMSNorm(q, q, L.Cross.QNorm, c.NormEps)
		kernels.AttendPanels(att, q, &s.cross[l], s.scores, 1, n, c.NHeads, scale, -1)
		kernels.MatMulPacked(o, att, L.Cross.Op, 1)
		kernels.Axpy(x, sigmoid(L.CrossGate[0]), o)
	}
	kernels.ZCRMSNorm(h, x, m.w.DecNorm, c.NormEps)
	kernels.MatMulPacked(s.logits, h, m.w.EmbedP, 1)
}

// embedIDs computes the contrastive embedding of ids (L2-normalised) into dst.
func (m *Model) embedIDs(s *scratch, dst []float32, ids []int32) {
	c := m.cfg
	d, n := c.DModel, len(ids)
	m.encode(s, ids)
	p := s.pooled
	clear(p)
	for i := 0; i < n; i++ {
		kernels.Axpy(p, 1, s.enc[i*d:i*d+d])
	}
	inv := 1 / float32(max(n, 1))
	for i := range p {
		p[i] *= inv
	}
	hd := c.HeadDimContrastive
	kernels.MatMulT(s.hid, p, m.w.Head.FC1W, 1, d, hd)
	for i := range s.hid {
		s.hid[i] = max(0, s.hid[i]+m.w.Head.FC1B[i])
	}
	kernels.MatMulT(dst[:hd], s.hid, m.w.Head.FC2W, 1, hd, hd)
	var ss float64
	for _, v := range dst[:hd] {
		ss += float64(v) * float64(v)
	}
	nrm := float32(1 / max(math.Sqrt(ss), 1e-12))
	for i := range dst[:hd] {
		dst[i] *= nrm
	}
}

// MetaThreshold is the weights' metadata key that holds the confidence threshold calibrated
// for the toolset a model was fine-tuned on (`needle finetune` writes it).
const MetaThreshold = "router_threshold"

// Threshold is the confidence threshold calibrated for the toolset the model was fine-tuned
// on, in (0, 1]; 0 when the model has none. New refuses a model whose value is not a number
// in (0, 1] (ErrCorruptWeights).
func (m *Model) Threshold() float64 {
	t, _ := m.threshold()
	return t
}

func (m *Model) threshold() (float64, error) {
	s, ok := m.meta[MetaThreshold]
	if !ok {
		return 0, nil
	}
	t, err := strconv.ParseFloat(s, 64)
	if err != nil || !(t > 0 && t <= 1) {
		return 0, fmt.Errorf("%w: metadata %s = %q is not a number in (0, 1]", ErrCorruptWeights, MetaThreshold, s)
	}
	return t, nil
}

// ID names the model: its config name plus training steps where the trainer recorded them.
func (m *Model) ID() string {
	if s := m.meta["steps"]; s != "" {
		return m.cfg.Name + "@" + s
	}
	return m.cfg.Name
}

// WeightBytes is the memory held by the weights after load (projections and the tied
// embedding packed, norms and the retrieval head as stored).
func (m *Model) WeightBytes() int64 {
	var n int64
	m.eachPacked(func(p *kernels.Packed) { n += p.Bytes() })
	add := func(x []float32) { n += int64(4 * len(x)) }
	add(m.w.EncNorm)
	add(m.w.DecNorm)
	for i := range m.w.Enc {
		add(m.w.Enc[i].Norm)
		add(m.w.Enc[i].Attn.QNorm)
		add(m.w.Enc[i].Attn.KNorm)
	}
	for i := range m.w.Dec {
		for _, a := range []*Attention{&m.w.Dec[i].Self, &m.w.Dec[i].Cross} {
			add(a.QNorm)
			add(a.KNorm)
		}
		add(m.w.Dec[i].SelfNorm)
		add(m.w.Dec[i].CrossNorm)
	}
	add(m.w.Head.FC1W)
	add(m.w.Head.FC2W)
	return n
}

func (m *Model) eachPacked(f func(*kernels.Packed)) {
	attn := func(a *Attention) {
		for _, p := range []*kernels.Packed{a.Qp, a.Kp, a.Vp, a.Op, a.QKV} {
			if p != nil {
				f(p)
			}
		}
	}
	for i := range m.w.Enc {
		attn(&m.w.Enc[i].Attn)
	}
	for i := range m.w.Dec {
		attn(&m.w.Dec[i].Self)
		attn(&m.w.Dec[i].Cross)
	}
	f(m.w.EmbedP)
}

// WeightsFormat describes how the projections and the embedding are held, e.g. "int8",
// "int4 (embedding int8)", "f32", or "int8+int4 (embedding int8)": int8 for prefill and an
// int4 copy for decode.
func (m *Model) WeightsFormat() string {
	name := map[int]string{32: "f32", 8: "int8", 4: "int4"}
	proj := map[int]bool{}
	m.eachPacked(func(p *kernels.Packed) {
		if p != m.w.EmbedP {
			proj[p.Bits] = true
		}
	})
	if len(proj) != 1 {
		return "mixed"
	}
	dec := map[int]bool{}
	m.eachPacked(func(p *kernels.Packed) {
		if p != m.w.EmbedP && p.Decode != nil {
			dec[p.Decode.Bits] = true
		}
	})
	for b := range proj {
		f := name[b]
		if len(dec) == 1 {
			for d := range dec {
				f += "+" + name[d] // prefill in b bits, decode in d
			}
		}
		if b != m.w.EmbedP.Bits || len(dec) == 1 {
			f += " (embedding " + name[m.w.EmbedP.Bits] + ")"
		}
		return f
	}
	return ""
}
