package needle

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tokenizer is a SentencePiece BPE encoder/decoder read from a SentencePiece .model file
// (a serialized sentencepiece.ModelProto). It implements the parts of SentencePiece that BPE
// models with byte fallback use: the whitespace options of the normaliser (add_dummy_prefix,
// remove_extra_whitespaces, escape_whitespaces), user-defined symbols matched whole,
// score-ordered pair merges, and byte fallback. A precompiled (non-identity) character map
// is refused rather than silently ignored.
type Tokenizer struct {
	pieces   []string
	scores   []float32
	types    []pieceType
	ids      map[string]int32 // normal, user-defined and unused pieces: the merge candidates
	byteIDs  [256]int32       // id of <0xXX>, or -1
	userSyms []string         // user-defined symbols, longest first
	unkID    int32

	addDummyPrefix  bool
	removeExtraWS   bool
	escapeWS        bool
	byteFallback    bool
	treatWSAsSuffix bool
}

type pieceType int32

// sentencepiece.ModelProto.SentencePiece.Type
const (
	pieceNormal      pieceType = 1
	pieceUnknown     pieceType = 2
	pieceControl     pieceType = 3
	pieceUserDefined pieceType = 4
	pieceUnused      pieceType = 5
	pieceByte        pieceType = 6
)

const spaceSymbol = "\u2581"

// ErrBadTokenizer marks a tokenizer file that cannot be used.
var ErrBadTokenizer = errors.New("needle: bad tokenizer model")

// LoadTokenizer reads a SentencePiece model file.
func LoadTokenizer(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTokenizer(b)
}

// ParseTokenizer parses a serialized SentencePiece ModelProto.
func ParseTokenizer(b []byte) (*Tokenizer, error) {
	t := &Tokenizer{ids: map[string]int32{}, unkID: -1,
		addDummyPrefix: true, removeExtraWS: true, escapeWS: true}
	for i := range t.byteIDs {
		t.byteIDs[i] = -1
	}
	var modelType int64 = 1 // UNIGRAM is the proto default
	err := walkProto(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1: // pieces
			return t.addPiece(v)
		case 2: // trainer_spec
			return walkProto(v, func(n protowire.Number, _ protowire.Type, _ []byte, x uint64) error {
				switch n {
				case 3:
					modelType = int64(x)
				case 35:
					t.byteFallback = x != 0
				case 24:
					t.treatWSAsSuffix = x != 0
				}
				return nil
			})
		case 3: // normalizer_spec
			return walkProto(v, func(n protowire.Number, _ protowire.Type, vv []byte, x uint64) error {
				switch n {
				case 2:
					if len(vv) > 0 {
						return fmt.Errorf("%w: precompiled normalisation rules are not supported (identity normaliser only)", ErrBadTokenizer)
					}
				case 3:
					t.addDummyPrefix = x != 0
				case 4:
					t.removeExtraWS = x != 0
				case 5:
					t.escapeWS = x != 0
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if modelType != 2 {
		return nil, fmt.Errorf("%w: model type %d is not BPE", ErrBadTokenizer, modelType)
	}
	if len(t.pieces) == 0 {
		return nil, fmt.Errorf("%w: no pieces", ErrBadTokenizer)
	}
	// Longest user-defined symbols first, so prefix matching is greedy as in SentencePiece.
	for i := 0; i < len(t.userSyms); i++ {
		for j := i + 1; j < len(t.userSyms); j++ {
			if len(t.userSyms[j]) > len(t.userSyms[i]) {
				t.userSyms[i], t.userSyms[j] = t.userSyms[j], t.userSyms[i]
			}
		}
	}
	return t, nil
}

func (t *Tokenizer) addPiece(v []byte) error {
	var piece string
	var score float32
	typ := pieceNormal
	err := walkProto(v, func(n protowire.Number, _ protowire.Type, vv []byte, x uint64) error {
		switch n {
		case 1:
			piece = string(vv)
		case 2:
			score = math.Float32frombits(uint32(x))
		case 3:
			typ = pieceType(x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	id := int32(len(t.pieces))
	t.pieces = append(t.pieces, piece)
	t.scores = append(t.scores, score)
	t.types = append(t.types, typ)
	switch typ {
	case pieceNormal, pieceUserDefined, pieceUnused:
		t.ids[piece] = id
		if typ == pieceUserDefined {
			t.userSyms = append(t.userSyms, piece)
		}
	case pieceUnknown:
		t.unkID = id
	case pieceByte:
		var bv int
		if _, err := fmt.Sscanf(piece, "<0x%02X>", &bv); err != nil || bv > 255 {
			return fmt.Errorf("%w: bad byte piece %q", ErrBadTokenizer, piece)
		}
		t.byteIDs[bv] = id
	}
	return nil
}

// walkProto calls fn for each field of a protobuf message; fixed32 values arrive in x.
func walkProto(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrBadTokenizer, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrBadTokenizer, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// VocabSize is the number of pieces.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Piece returns the text of piece id as stored in the model.
func (t *Tokenizer) Piece(id int) string { return t.pieces[id] }

// normalize applies SentencePiece's whitespace handling with an identity character map.
// Invalid UTF-8 bytes become U+FFFD, as SentencePiece does.
func (t *Tokenizer) normalize(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	ws := " "
	if t.escapeWS {
		ws = spaceSymbol
	}
	if t.removeExtraWS {
		s = strings.TrimLeft(s, " ")
	}
	if s == "" {
		return ""
	}
	if t.addDummyPrefix && !t.treatWSAsSuffix {
		sb.WriteString(ws)
	}
	prevSpace := t.removeExtraWS
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		if r == ' ' {
			if prevSpace {
				continue
			}
			sb.WriteString(ws)
			prevSpace = t.removeExtraWS
			continue
		}
		sb.WriteRune(r) // writes U+FFFD for an invalid byte
		prevSpace = false
	}
	out := sb.String()
	if t.removeExtraWS {
		out = strings.TrimRight(out, ws)
	}
	if t.addDummyPrefix && t.treatWSAsSuffix && out != "" {
		out += ws
	}
	return out
}

type symbol struct {
	start, end int // byte range in the normalised text
	prev, next int
	fixed      bool // user-defined symbol: never merged
}

type pairItem struct {
	left, right int
	size        int
	score       float32
}

type pairHeap []pairItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score > h[j].score
	}
	return h[i].left < h[j].left
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Encode returns the piece ids of s, without BOS or EOS.
func (t *Tokenizer) Encode(s string) []int32 { return t.AppendEncode(nil, s) }

// AppendEncode appends the ids of s to dst.
func (t *Tokenizer) AppendEncode(dst []int32, s string) []int32 {
	text := t.normalize(s)
	if text == "" {
		return dst
	}
	syms := make([]symbol, 0, len(text))
	for i := 0; i < len(text); {
		n, fixed := 0, false
		for _, u := range t.userSyms {
			if strings.HasPrefix(text[i:], u) {
				n, fixed = len(u), true
				break
			}
		}
		if n == 0 {
			_, n = utf8.DecodeRuneInString(text[i:])
		}
		syms = append(syms, symbol{start: i, end: i + n, prev: len(syms) - 1, next: len(syms) + 1, fixed: fixed})
		i += n
	}
	syms[len(syms)-1].next = -1
	h := make(pairHeap, 0, len(syms))
	add := func(l, r int) {
		if l < 0 || r < 0 || syms[l].fixed || syms[r].fixed {
			return
		}
		id, ok := t.ids[text[syms[l].start:syms[r].end]]
		if !ok || t.types[id] == pieceUserDefined {
			return
		}
		heap.Push(&h, pairItem{left: l, right: r, size: syms[r].end - syms[l].start, score: t.scores[id]})
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for h.Len() > 0 {
		p := heap.Pop(&h).(pairItem)
		l, r := &syms[p.left], &syms[p.right]
		// Stale entry: one side was merged away or changed size since it was pushed.
		if l.end == l.start || r.end == r.start || l.next != p.right || r.end-l.start != p.size {
			continue
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = p.left
		}
		r.start, r.end = 0, 0
		add(l.prev, p.left)
		add(p.left, l.next)
	}
	for i := 0; i >= 0 && i < len(syms); i = syms[i].next {
		piece := text[syms[i].start:syms[i].end]
		if id, ok := t.ids[piece]; ok {
			dst = append(dst, id)
			continue
		}
		if t.byteFallback {
			for j := 0; j < len(piece); j++ {
				dst = append(dst, t.byteIDs[piece[j]])
			}
			continue
		}
		dst = append(dst, t.unkID)
	}
	return dst
}

// Decode turns ids back into text: byte pieces become bytes, control pieces vanish, and the
// whitespace symbol becomes a space (the dummy prefix's space is removed).
func (t *Tokenizer) Decode(ids []int32) string {
	var b []byte
	for _, id := range ids {
		b = t.appendPieceBytes(b, id)
	}
	s := string(b)
	if t.escapeWS {
		s = strings.ReplaceAll(s, spaceSymbol, " ")
	}
	if t.addDummyPrefix && !t.treatWSAsSuffix {
		s = strings.TrimPrefix(s, " ")
	}
	return s
}

// appendPieceBytes appends the raw bytes a piece stands for (whitespace symbol kept).
func (t *Tokenizer) appendPieceBytes(b []byte, id int32) []byte {
	if id < 0 || int(id) >= len(t.pieces) {
		return b
	}
	switch t.types[id] {
	case pieceControl:
		return b
	case pieceByte:
		var v int
		fmt.Sscanf(t.pieces[id], "<0x%02X>", &v)
		return append(b, byte(v))
	case pieceUnknown:
		return append(b, " \u2047 "...)
	}
	return append(b, t.pieces[id]...)
}

// TokenBytes returns the bytes each piece contributes to decoded text (whitespace symbol as a
// space), or nil for pieces that never appear in generated JSON (control, unknown and
// user-defined pieces). The constrained decoder checks candidates against these.
func (t *Tokenizer) TokenBytes() [][]byte {
	out := make([][]byte, len(t.pieces))
	for i := range t.pieces {
		switch t.types[i] {
		case pieceControl, pieceUnknown, pieceUserDefined, pieceUnused:
			continue
		}
		b := t.appendPieceBytes(nil, int32(i))
		if t.escapeWS {
			b = []byte(strings.ReplaceAll(string(b), spaceSymbol, " "))
		}
		if len(b) > 0 {
			out[i] = b
		}
	}
	return out
}
