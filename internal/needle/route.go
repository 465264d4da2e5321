package needle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/needle-router/needle/internal/kernels"
	"github.com/needle-router/needle/internal/toolspec"
)

// vocabIndex holds the decoded bytes of every piece the grammar may emit.
type vocabIndex struct {
	bytes [][]byte // nil for pieces never emitted (control, user-defined)
	ids   []int32  // ids with non-nil bytes
}

func newVocabIndex(t *Tokenizer) *vocabIndex {
	v := &vocabIndex{bytes: t.TokenBytes()}
	for i, b := range v.bytes {
		if b != nil {
			v.ids = append(v.ids, int32(i))
		}
	}
	return v
}

// Request is one routing request.
type Request struct {
	Query string
	Tools []toolspec.Tool
	// MaxNewTokens caps generated tokens (default: the model's max_dec_len - 1).
	MaxNewTokens int
}

// Result is the decoded answer.
type Result struct {
	Calls []toolspec.Call
	// Raw is the generated JSON text.
	Raw string
	// Confidence is exp(mean log p) of the informative tokens (see Confidence in README).
	Confidence   float64
	PromptTokens int
	OutputTokens int
	Timings      Timings
}

// Timings are the stages of one Route call.
type Timings struct {
	Tokenize, Encode, Decode time.Duration
}

// ErrNoTokenizer is returned when a model without tokenizer is asked to handle text.
var ErrNoTokenizer = errors.New("needle: model has no tokenizer")

// Route decodes the calls for req.Query against req.Tools with grammar-constrained greedy
// decoding. It honours ctx between decode steps.
func (m *Model) Route(ctx context.Context, req Request) (*Result, error) {
	if m.Tok == nil {
		return nil, ErrNoTokenizer
	}
	g, err := newGrammar(req.Tools)
	if err != nil {
		return nil, err
	}
	s := m.getScratch()
	defer m.putScratch(s)
	res := &Result{}

	t0 := time.Now()
	ids := m.Tok.AppendEncode(s.ids[:0], queryText(req.Query))
	ids = append(ids, TokTools)
	s.out = toolspec.AppendJSON(s.out[:0], req.Tools)
	ids = m.Tok.AppendEncode(ids, string(s.out))
	if len(ids) > m.Cfg.MaxEncLen {
		ids = ids[:m.Cfg.MaxEncLen]
	}
	s.ids = ids
	res.PromptTokens = len(ids)
	t1 := time.Now()
	res.Timings.Tokenize = t1.Sub(t0)

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.encode(s, ids)
	m.prepareCross(s, len(ids))
	t2 := time.Now()
	res.Timings.Encode = t2.Sub(t1)

	out, conf, n, err := m.decodeConstrained(ctx, s, g, len(ids), req.MaxNewTokens)
	res.Timings.Decode = time.Since(t2)
	if err != nil {
		return nil, err
	}
	res.OutputTokens = n
	res.Raw = string(out)
	res.Confidence = conf
	if err := json.Unmarshal(out, &res.Calls); err != nil {
		return nil, fmt.Errorf("needle: constrained output does not parse (grammar bug): %v: %s", err, out)
	}
	if res.Calls == nil {
		res.Calls = []toolspec.Call{}
	}
	return res, nil
}

// decodeConstrained runs greedy decoding under the grammar. It returns the JSON bytes, the
// confidence and the number of generated tokens (including <tool_call> and </s>).
func (m *Model) decodeConstrained(ctx context.Context, s *scratch, g *grammar, n, maxNew int) ([]byte, float64, int, error) {
	limit := m.Cfg.MaxDecLen - 1
	if maxNew > 0 && maxNew < limit {
		limit = maxNew
	}
	if limit < 4 {
		return nil, 0, 0, fmt.Errorf("needle: token cap %d is too small for an answer", limit)
	}
	var st gstate
	s.out = s.out[:0]
	m.decodeStep(s, TokEOS, 0, n)
	// <tool_call> is forced: the answer format begins with it.
	m.decodeStep(s, TokToolCall, 1, n)
	used := 1 // <tool_call>
	var sumLogp float64
	var nInfo int
	vb := m.vocab.bytes
	for pos := 2; ; pos++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, err
		}
		if st.phase == phDone {
			used++ // </s>
			break
		}
		// Room left for this token, the closer's bytes after it and </s>.
		room := limit - used - 1
		lse := kernels.LogSumExp(s.logits)
		tok, next, ok := m.pickToken(g, &st, s.logits, room)
		if !ok {
			return nil, 0, 0, fmt.Errorf("needle: no token fits the grammar (cap %d)", limit)
		}
		if next.info {
			sumLogp += float64(s.logits[tok] - lse)
			nInfo++
		}
		// The token's bytes, without the virtual leading spaces of values (grammar.go).
		cur := st
		for _, c := range vb[tok] {
			g.feed(&cur, c)
			if !cur.virt {
				s.out = append(s.out, c)
			}
		}
		next.info = false
		st = next
		used++
		if st.phase == phDone {
			continue // no need to run the decoder for the forced </s>
		}
		m.decodeStep(s, tok, pos, n)
	}
	conf := 0.0
	if nInfo > 0 {
		conf = math.Exp(sumLogp / float64(nInfo))
	}
	return s.out, conf, used, nil
}

// pickToken returns the highest-logit token the grammar allows whose completion still fits
// in room tokens, and the state after it.
func (m *Model) pickToken(g *grammar, st *gstate, logits []float32, room int) (int32, gstate, bool) {
	vb := m.vocab.bytes
	try := func(id int32) (gstate, bool) {
		b := vb[id]
		if b == nil {
			return gstate{}, false
		}
		s := *st
		s.info = false
		for _, c := range b {
			if !g.feed(&s, c) {
				return gstate{}, false
			}
		}
		return s, true
	}
	fits := func(s gstate) bool { return room >= 1 && g.closeLen(s, room-1) <= room-1 }
	// Fast path: the model's own first choice.
	best := int32(0)
	for i, v := range logits {
		if v > logits[best] {
			best = int32(i)
		}
	}
	if s, ok := try(best); ok && fits(s) {
		return best, s, true
	}
	// Slow path: best allowed token by logit, skipping ones that would overrun the cap.
	var banned [4]int32
	nb := 0
	for attempt := 0; attempt < 64; attempt++ {
		bi := int32(-1)
		var bs gstate
		for _, id := range m.vocab.ids {
			if bi >= 0 && logits[id] <= logits[bi] {
				continue
			}
			if isBanned(banned[:nb], id) {
				continue
			}
			if s, ok := try(id); ok {
				bi, bs = id, s
			}
		}
		if bi < 0 {
			return 0, gstate{}, false
		}
		if fits(bs) {
			return bi, bs, true
		}
		if nb < len(banned) {
			banned[nb] = bi
			nb++
			continue
		}
		// Near the cap: take the closer's own byte, which always fits.
		c, ok := g.closeChar(*st)
		if !ok {
			return 0, gstate{}, false
		}
		for _, id := range m.vocab.ids {
			if b := vb[id]; len(b) == 1 && b[0] == c {
				if s, ok := try(id); ok {
					return id, s, true
				}
			}
		}
		return 0, gstate{}, false
	}
	return 0, gstate{}, false
}

func isBanned(b []int32, id int32) bool {
	for _, x := range b {
		if x == id {
			return true
		}
	}
	return false
}

// queryText is the transcript as the encoder sees it: with one leading space, so its first
// word carries SentencePiece's word-start marker like every other word and like the values
// the decoder copies from it (train/answer_format.py).
func queryText(q string) string { return " " + q }

// Embed returns the contrastive embedding of text (L2-normalised, HeadDimContrastive long).
func (m *Model) Embed(ctx context.Context, text string) ([]float32, error) {
	if m.Tok == nil {
		return nil, ErrNoTokenizer
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := m.getScratch()
	defer m.putScratch(s)
	ids := m.Tok.AppendEncode(s.ids[:0], text)
	if len(ids) > m.Cfg.MaxEncLen {
		ids = ids[:m.Cfg.MaxEncLen]
	}
	if len(ids) == 0 {
		ids = append(ids, TokPad)
	}
	s.ids = ids
	out := make([]float32, m.Cfg.HeadDimContrastive)
	m.embedIDs(s, out, ids)
	return out, nil
}
