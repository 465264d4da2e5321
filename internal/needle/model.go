package needle

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/needle-router/needle/internal/kernels"
)

// Model is a loaded Needle model. Weights are shared read-only; each request takes a
// scratch from a pool, so a Model is safe for concurrent use.
type Model struct {
	Cfg      Config
	W        Weights
	Tok      *Tokenizer
	Meta     map[string]string // safetensors metadata written by the trainer
	cos, sin []float32
	pool     sync.Pool
}

// Load reads config.json, model.safetensors and tokenizer.model from dir.
func Load(dir string, opt Options) (*Model, error) { return LoadFS(os.DirFS(dir), ".", opt) }

// LoadFS loads a model from a file system (a directory or the embedded models/).
func LoadFS(fsys fs.FS, dir string, opt Options) (*Model, error) {
	read := func(name string) ([]byte, error) {
		return fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, name)))
	}
	cb, err := read("config.json")
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(cb)
	if err != nil {
		return nil, err
	}
	wb, err := read("model.safetensors")
	if err != nil {
		return nil, err
	}
	tb, err := read("tokenizer.model")
	if err != nil {
		return nil, err
	}
	tok, err := ParseTokenizer(tb)
	if err != nil {
		return nil, err
	}
	return NewWithOptions(cfg, wb, tok, opt)
}

// New builds a model from a config, safetensors bytes and a tokenizer (nil for tests that
// drive token ids directly), holding the weights as the file stores them.
func New(cfg Config, weights []byte, tok *Tokenizer) (*Model, error) {
	return NewWithOptions(cfg, weights, tok, Options{})
}

// NewWithOptions is New with a choice of in-memory weight format.
func NewWithOptions(cfg Config, weights []byte, tok *Tokenizer, opt Options) (*Model, error) {
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
	m := &Model{Cfg: cfg, Tok: tok, Meta: st.meta}
	if err := bindWeights(&m.W, st, cfg); err != nil {
		return nil, err
	}
	if err := m.W.pack(cfg, st, opt); err != nil {
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
	c := m.Cfg
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
	d := m.Cfg.DModel
	sc := float32(math.Sqrt(float64(d)))
	for i, id := range ids {
		out := dst[i*d : i*d+d]
		m.W.EmbedP.Row(out, int(id))
		for j := range out {
			out[j] *= sc
		}
	}
}

// encode runs the encoder over ids; the final-normed output lands in s.enc[:len(ids)*d].
func (m *Model) encode(s *scratch, ids []int32) {
	c := m.Cfg
	n, d, qd, kvd := len(ids), c.DModel, c.qDim(), c.kvDim()
	x := s.x[:n*d]
	m.embedRows(x, ids)
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	for l := range m.W.Enc {
		L := &m.W.Enc[l]
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
	kernels.ZCRMSNorm(s.enc[:n*d], x, m.W.EncNorm, c.NormEps)
}

// prepareCross computes every decoder layer's cross-attention K/V from the encoder output,
// once per request.
func (m *Model) prepareCross(s *scratch, n int) {
	c := m.Cfg
	d, kvd := c.DModel, c.kvDim()
	enc := s.enc[:n*d]
	for l := range m.W.Dec {
		A := &m.W.Dec[l].Cross
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
	c := m.Cfg
	d, qd, kvd := c.DModel, c.qDim(), c.kvDim()
	x := s.x[:d]
	m.embedRows(x, []int32{token})
	scale := float32(1 / math.Sqrt(float64(c.HeadDim)))
	h, att, o := s.h[:d], s.att[:qd], s.o[:d]
	for l := range m.W.Dec {
		L := &m.W.Dec[l]
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
	kernels.ZCRMSNorm(h, x, m.W.DecNorm, c.NormEps)
	kernels.MatMulPacked(s.logits, h, m.W.EmbedP, 1)
}

// embedIDs computes the contrastive embedding of ids (L2-normalised) into dst.
func (m *Model) embedIDs(s *scratch, dst []float32, ids []int32) {
	c := m.Cfg
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
	kernels.MatMulT(s.hid, p, m.W.Head.FC1W, 1, d, hd)
	for i := range s.hid {
		s.hid[i] = max(0, s.hid[i]+m.W.Head.FC1B[i])
	}
	kernels.MatMulT(dst[:hd], s.hid, m.W.Head.FC2W, 1, hd, hd)
	var ss float64
	for _, v := range dst[:hd] {
		ss += float64(v) * float64(v)
	}
	nrm := float32(1 / max(math.Sqrt(ss), 1e-12))
	for i := range dst[:hd] {
		dst[i] *= nrm
	}
}

// ErrNoModel means the directory has a tokenizer but no trained weights yet.
var ErrNoModel = errors.New("needle: no trained model is present (config.json and model.safetensors missing)")

// LoadDefault loads the model embedded in models/ (the shipped one).
func LoadDefault(fsys fs.FS, opt Options) (*Model, error) {
	if _, err := fs.Stat(fsys, "model.safetensors"); err != nil {
		return nil, ErrNoModel
	}
	return LoadFS(fsys, ".", opt)
}

// ID names the model: its config name plus training steps where the trainer recorded them.
func (m *Model) ID() string {
	if s := m.Meta["steps"]; s != "" {
		return m.Cfg.Name + "@" + s
	}
	return m.Cfg.Name
}

// BenchPrefill runs the encoder (and cross-attention K/V) over n synthetic tokens and
// returns the time taken; for benchmarks.
func (m *Model) BenchPrefill(n int) time.Duration {
	s := m.getScratch()
	defer m.putScratch(s)
	n = min(n, m.Cfg.MaxEncLen)
	ids := s.ids[:0]
	for i := 0; i < n; i++ {
		ids = append(ids, int32(6+(i*7919)%(m.Cfg.VocabSize-6)))
	}
	t0 := time.Now()
	m.encode(s, ids)
	m.prepareCross(s, n)
	return time.Since(t0)
}

// BenchDecode runs steps decoder steps against an encoder output of encLen tokens and
// returns the mean time per step (logits over the whole vocabulary included).
func (m *Model) BenchDecode(encLen, steps int) time.Duration {
	s := m.getScratch()
	defer m.putScratch(s)
	encLen = min(encLen, m.Cfg.MaxEncLen)
	steps = min(steps, m.Cfg.MaxDecLen)
	clear(s.enc[:encLen*m.Cfg.DModel])
	m.prepareCross(s, encLen)
	t0 := time.Now()
	tok := int32(TokEOS)
	for p := 0; p < steps; p++ {
		m.decodeStep(s, tok, p, encLen)
		tok = int32(6 + p)
	}
	return time.Since(t0) / time.Duration(steps)
}

// WeightBytes is the memory held by the weights after load (projections and the tied
// embedding packed, norms and the retrieval head as stored).
func (m *Model) WeightBytes() int64 {
	var n int64
	m.eachPacked(func(p *kernels.Packed) { n += p.Bytes() })
	add := func(x []float32) { n += int64(4 * len(x)) }
	add(m.W.EncNorm)
	add(m.W.DecNorm)
	for i := range m.W.Enc {
		add(m.W.Enc[i].Norm)
		add(m.W.Enc[i].Attn.QNorm)
		add(m.W.Enc[i].Attn.KNorm)
	}
	for i := range m.W.Dec {
		for _, a := range []*Attention{&m.W.Dec[i].Self, &m.W.Dec[i].Cross} {
			add(a.QNorm)
			add(a.KNorm)
		}
		add(m.W.Dec[i].SelfNorm)
		add(m.W.Dec[i].CrossNorm)
	}
	add(m.W.Head.FC1W)
	add(m.W.Head.FC2W)
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
	for i := range m.W.Enc {
		attn(&m.W.Enc[i].Attn)
	}
	for i := range m.W.Dec {
		attn(&m.W.Dec[i].Self)
		attn(&m.W.Dec[i].Cross)
	}
	f(m.W.EmbedP)
}

// WeightsFormat describes how the projections and the embedding are held, e.g. "int8",
// "int4 (embedding int8)", "f32", or "int8+int4 (embedding int8)": int8 for prefill and an
// int4 copy for decode.
func (m *Model) WeightsFormat() string {
	name := map[int]string{32: "f32", 8: "int8", 4: "int4"}
	proj := map[int]bool{}
	m.eachPacked(func(p *kernels.Packed) {
		if p != m.W.EmbedP {
			proj[p.Bits] = true
		}
	})
	if len(proj) != 1 {
		return "mixed"
	}
	dec := map[int]bool{}
	m.eachPacked(func(p *kernels.Packed) {
		if p != m.W.EmbedP && p.Decode != nil {
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
		if b != m.W.EmbedP.Bits || len(dec) == 1 {
			f += " (embedding " + name[m.W.EmbedP.Bits] + ")"
		}
		return f
	}
	return ""
}
