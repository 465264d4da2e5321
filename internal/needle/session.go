package needle

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoTokenizer is returned when a model without tokenizer is asked to handle text.
var ErrNoTokenizer = errors.New("needle: model has no tokenizer")

// ErrPromptTooLong marks a prompt longer than the encoder takes (max_enc_len tokens); it is
// a *PromptTooLongError. The caller decides what to do: the router escalates (reason
// PROMPT_TOO_LONG) rather than decode a cut prompt, which loses the tools at its end.
var ErrPromptTooLong = errors.New("needle: prompt longer than the encoder takes")

// PromptTooLongError says how long the prompt was and what the encoder takes.
type PromptTooLongError struct{ Tokens, Max int }

func (e *PromptTooLongError) Error() string {
	return fmt.Sprintf("needle: prompt of %d tokens, the encoder takes at most %d", e.Tokens, e.Max)
}

// Is makes errors.Is(err, ErrPromptTooLong) true.
func (e *PromptTooLongError) Is(target error) bool { return target == ErrPromptTooLong }

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
// decoder layer's cross-attention keys and values from its output. A longer prompt is a
// *PromptTooLongError, never cut.
func (s *Session) Encode(ids []int32) error {
	if len(ids) > s.m.cfg.MaxEncLen {
		return &PromptTooLongError{Tokens: len(ids), Max: s.m.cfg.MaxEncLen}
	}
	if len(ids) == 0 {
		return errors.New("needle: empty prompt")
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
	ids = m.tok.AppendEncode(dst, QueryText(query))
	nQuery = len(ids) - len(dst)
	ids = append(ids, TokTools)
	return m.tok.AppendEncode(ids, string(tools)), nQuery
}

// QueryText is the transcript as the encoder sees it: with one leading space, so its first
// word carries SentencePiece's word-start marker like every other word and like the values
// the decoder copies from it (train/answer_format.py).
func QueryText(q string) string { return " " + q }

// Embed returns the contrastive embedding of text (L2-normalised, HeadDimContrastive long).
// It reads the first MaxEncLen tokens of a longer text: an embedding ranks tools, and the
// start of a text says what it is about.
func (m *Model) Embed(ctx context.Context, text string) ([]float32, error) {
	if m.tok == nil {
		return nil, ErrNoTokenizer
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := m.getScratch()
	defer m.putScratch(s)
	ids := m.tok.AppendEncode(s.ids[:0], text)
	if len(ids) > m.cfg.MaxEncLen {
		ids = ids[:m.cfg.MaxEncLen]
	}
	if len(ids) == 0 {
		ids = append(ids, TokPad)
	}
	s.ids = ids
	out := make([]float32, m.cfg.HeadDimContrastive)
	m.embedIDs(s, out, ids)
	return out, nil
}
