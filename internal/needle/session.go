package needle

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoTokenizer is returned when a model without tokenizer is asked to handle text.
var ErrNoTokenizer = errors.New("needle: model has no tokenizer")

// Session is one request's working memory for the forward pass: the encoder output, the
// cross-attention keys and values and the decoder's KV cache. It comes from a pool; Close
// returns it. A Session is not safe for concurrent use; a Model serves many at once.
type Session struct {
	m *Model
	s *scratch
	n int // encoder length
}

// NewSession takes a session from the model's pool.
func (m *Model) NewSession() *Session { return &Session{m: m, s: m.getScratch()} }

// Close returns the session's memory to the pool; the session is unusable after.
func (s *Session) Close() {
	if s.s != nil {
		s.m.putScratch(s.s)
		s.s = nil
	}
}

// Encode runs the encoder over the prompt ids (1 to MaxEncLen of them) and prepares every
// decoder layer's cross-attention keys and values from its output.
func (s *Session) Encode(ids []int32) error {
	if len(ids) == 0 || len(ids) > s.m.Cfg.MaxEncLen {
		return fmt.Errorf("needle: %d prompt tokens, the encoder takes 1 to %d", len(ids), s.m.Cfg.MaxEncLen)
	}
	s.m.encode(s.s, ids)
	s.m.prepareCross(s.s, len(ids))
	s.n = len(ids)
	return nil
}

// Step feeds token at decoder position pos (0 = the start token, then 1, 2, ... in order,
// below MaxDecLen) against the encoded prompt, extends the KV cache and returns the logits
// over the vocabulary. The slice is the session's: valid until the next Step, and the
// caller may change it in place.
func (s *Session) Step(token int32, pos int) []float32 {
	s.m.decodeStep(s.s, token, pos, s.n)
	return s.s.logits
}

// AppendPrompt appends the encoder ids of a request to dst, in the training format
// (NEEDLE-SPEC.md, train/answer_format.py): the query with one leading space, <tools>, then
// the offered tools' compact flat JSON (toolspec.AppendJSON). nQuery is the number of the
// query's own ids, which start the prompt.
func (m *Model) AppendPrompt(dst []int32, query string, tools []byte) (ids []int32, nQuery int) {
	ids = m.Tok.AppendEncode(dst, QueryText(query))
	nQuery = len(ids) - len(dst)
	ids = append(ids, TokTools)
	return m.Tok.AppendEncode(ids, string(tools)), nQuery
}

// QueryText is the transcript as the encoder sees it: with one leading space, so its first
// word carries SentencePiece's word-start marker like every other word and like the values
// the decoder copies from it (train/answer_format.py).
func QueryText(q string) string { return " " + q }

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
