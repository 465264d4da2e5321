package needle

import (
	"fmt"
	"math/bits"

	"github.com/needle-router/needle/internal/toolspec"
)

// The constrained decoder's grammar: a byte-level pushdown machine over the compact call
// JSON the model writes,
//
//	[ {"name":"<tool>","arguments":{"<key>":<value>,...}} , ... ]
//
// that admits only offered tool names, only that tool's keys (each at most once, required
// keys before the object closes) and, per key, only values of its type: integer, number,
// boolean, enum literal, string (valid JSON escapes and UTF-8), array of the item type, or
// any JSON for untyped parameters. A token is allowed when every byte of it is. The state is
// a small value type, so trying a token is a copy and a few transitions, with no allocation.
//
// Copy-consistent values (train/answer_format.py): the model writes every string value inside
// a call's arguments as if it were preceded by one space, '"' + " lisbon" + '"', so that its
// first word carries SentencePiece's word-start marker exactly as in the transcript. The grammar
// requires that space as the first byte of such a string (and of string enum literals) and
// marks it virtual (gstate.virt): the decoder drops it from the output. Object keys and tool
// names have no such space.
//
// The closer (closeChar) gives, for any state, one canonical next byte on a shortest-ish way
// to a complete answer; following it always terminates. closeLen counts those bytes, and the
// decoder only takes a token when closeLen after it still fits in the token budget, so every
// answer completes within the cap and parses.

const (
	maxDepth    = 8
	maxCalls    = 8
	maxArrayLen = 64
	maxNumLen   = 24
	maxCands    = 64 // names, keys and enum values per set: the width of a bitmask
)

type valKind uint8

const (
	vkString valKind = iota
	vkInteger
	vkNumber
	vkBoolean
	vkLiteral // enum
	vkArray
	vkObject
	vkAny
)

type valSpec struct {
	kind  valKind
	lits  int16 // literal set for vkBoolean / vkLiteral
	items int16 // item spec for vkArray
}

type litSet struct{ cands [][]byte }

type toolG struct {
	keys     [][]byte // JSON-escaped key + '"'
	specs    []int16
	required uint64
}

type grammar struct {
	tools []toolG
	names int16 // literal set of JSON-escaped tool names + '"'
	specs []valSpec
	lits  []litSet
	bools int16
	anyLt int16 // true, false, null
	anySp int16
}

// newGrammar compiles the offered tools. It fails for more than 64 tools, parameters or
// enum values, which the caller prevents by retrieval (top-k) and registry limits.
func newGrammar(tools []toolspec.Tool) (*grammar, error) {
	if len(tools) > maxCands {
		return nil, fmt.Errorf("needle: %d tools offered, the decoder takes at most %d", len(tools), maxCands)
	}
	g := &grammar{}
	g.bools = g.addLits([][]byte{[]byte("true"), []byte("false")})
	g.anyLt = g.addLits([][]byte{[]byte("true"), []byte("false"), []byte("null")})
	g.anySp = g.addSpec(valSpec{kind: vkAny})
	var names [][]byte
	for _, t := range tools {
		names = append(names, quoted(t.Name))
		var tg toolG
		if len(t.Params) > maxCands {
			return nil, fmt.Errorf("needle: tool %s has %d parameters, the decoder takes at most %d", t.Name, len(t.Params), maxCands)
		}
		for i, p := range t.Params {
			tg.keys = append(tg.keys, quoted(p.Name))
			sp, err := g.specFor(&p)
			if err != nil {
				return nil, fmt.Errorf("needle: tool %s parameter %s: %w", t.Name, p.Name, err)
			}
			tg.specs = append(tg.specs, sp)
			if p.Required {
				tg.required |= 1 << i
			}
		}
		g.tools = append(g.tools, tg)
	}
	g.names = g.addLits(names)
	return g, nil
}

func quoted(s string) []byte {
	b := toolspec.AppendString(nil, s)
	return b[1:] // drop the opening quote; keep the closing one as the terminator
}

func (g *grammar) addLits(c [][]byte) int16 {
	g.lits = append(g.lits, litSet{cands: c})
	return int16(len(g.lits) - 1)
}

func (g *grammar) addSpec(s valSpec) int16 {
	g.specs = append(g.specs, s)
	return int16(len(g.specs) - 1)
}

func (g *grammar) specFor(p *toolspec.Param) (int16, error) {
	if len(p.Enum) > 0 {
		if len(p.Enum) > maxCands {
			return g.anySp, nil // too many to track: fall back to the type below
		}
		var c [][]byte
		for _, v := range p.Enum {
			b := toolspec.AppendValue(nil, v)
			if len(b) > 0 && b[0] == '"' { // the value's leading space, see above
				b = append(b[:1], append([]byte{' '}, b[1:]...)...)
			}
			c = append(c, b)
		}
		return g.addSpec(valSpec{kind: vkLiteral, lits: g.addLits(c)}), nil
	}
	switch p.Type {
	case "string":
		return g.addSpec(valSpec{kind: vkString}), nil
	case "integer":
		return g.addSpec(valSpec{kind: vkInteger}), nil
	case "number":
		return g.addSpec(valSpec{kind: vkNumber}), nil
	case "boolean":
		return g.addSpec(valSpec{kind: vkBoolean, lits: g.bools}), nil
	case "array":
		items := g.anySp
		if p.Items != nil {
			var err error
			if items, err = g.specFor(p.Items); err != nil {
				return 0, err
			}
		}
		return g.addSpec(valSpec{kind: vkArray, items: items}), nil
	case "object":
		return g.addSpec(valSpec{kind: vkObject}), nil
	case "", "any":
		return g.anySp, nil
	}
	return 0, fmt.Errorf("unknown type %q", p.Type)
}

// Outer phases.
const (
	phStart = iota
	phOpen
	phCallHead
	phName
	phArgsHead
	phArgs0
	phKey
	phColon
	phInValue
	phAfterValue
	phComma
	phCallClose
	phAfterCall
	phDone
)

const (
	litCallHead = `{"name":"`
	litArgsHead = `,"arguments":{`
)

// Frame kinds.
const (
	fString = iota
	fNumber
	fLit
	fArray
	fObject
)

// strLead is the string sub-state of a value string before its virtual leading space.
const strLead = 3

type frame struct {
	kind  uint8
	sub   uint8
	pend  uint8 // string: pending hex digits or UTF-8 continuation bytes
	spec  int16 // number/array: spec; lit: literal set
	pos   uint16
	alive uint64
}

type gstate struct {
	phase  uint8
	pos    uint8 // position in a literal phase
	tool   int8
	key    int8
	ncalls uint8
	depth  uint8
	info   bool // this token touched a tool name, a value or a call/no-call decision
	virt   bool // the last byte fed was a value's leading space: not part of the JSON
	mpos   uint16
	alive  uint64
	seen   uint64
	stack  [maxDepth]frame
}

type feedResult uint8

const (
	reject feedResult = iota
	consumed
	doneBefore // the frame completed before this byte: pop and give the byte to the parent
)

func allMask(n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return 1<<n - 1
}

// feed advances s by one byte, reporting whether the byte is allowed. After it, s.virt
// reports whether the byte was a value's virtual leading space.
func (g *grammar) feed(s *gstate, c byte) bool {
	s.virt = false
	for s.depth > 0 {
		s.info = true
		switch g.feedFrame(s, c) {
		case reject:
			return false
		case consumed:
			return true
		}
		s.depth--
		g.valueDone(s)
	}
	return g.feedOuter(s, c)
}

func (g *grammar) missingRequired(s *gstate) bool {
	return g.tools[s.tool].required&^s.seen != 0
}

func (g *grammar) unusedKeys(s *gstate) uint64 {
	return allMask(len(g.tools[s.tool].keys)) &^ s.seen
}

func (g *grammar) feedOuter(s *gstate, c byte) bool {
	switch s.phase {
	case phStart:
		if c == '[' {
			s.phase = phOpen
			return true
		}
	case phOpen:
		s.info = true
		if c == ']' {
			s.phase = phDone
			return true
		}
		if c == '{' && len(g.tools) > 0 { // with no tools offered, [] is the only answer
			s.phase, s.pos = phCallHead, 1
			return true
		}
	case phCallHead:
		if c == litCallHead[s.pos] {
			s.pos++
			if int(s.pos) == len(litCallHead) {
				s.phase, s.mpos, s.alive = phName, 0, allMask(len(g.tools))
			}
			return true
		}
	case phName:
		s.info = true
		done, idx, ok := g.matchLit(&g.lits[g.names], &s.alive, &s.mpos, c)
		if !ok {
			return false
		}
		if done {
			s.tool, s.seen = int8(idx), 0
			s.phase, s.pos = phArgsHead, 0
		}
		return true
	case phArgsHead:
		if c == litArgsHead[s.pos] {
			s.pos++
			if int(s.pos) == len(litArgsHead) {
				s.phase = phArgs0
			}
			return true
		}
	case phArgs0, phAfterValue:
		if c == '}' && !g.missingRequired(s) {
			s.phase = phCallClose
			return true
		}
		if s.phase == phArgs0 && c == '"' && g.unusedKeys(s) != 0 {
			s.phase, s.mpos, s.alive = phKey, 0, g.unusedKeys(s)
			return true
		}
		if s.phase == phAfterValue && c == ',' && g.unusedKeys(s) != 0 {
			s.phase = phComma
			return true
		}
	case phComma:
		if c == '"' {
			s.phase, s.mpos, s.alive = phKey, 0, g.unusedKeys(s)
			return true
		}
	case phKey:
		done, idx, ok := g.matchKey(s, c)
		if !ok {
			return false
		}
		if done {
			s.key = int8(idx)
			s.seen |= 1 << idx
			s.phase = phColon
		}
		return true
	case phColon:
		if c == ':' {
			s.phase = phInValue
			return true
		}
	case phInValue:
		s.info = true
		return g.startValue(s, g.tools[s.tool].specs[s.key], c)
	case phCallClose:
		if c == '}' {
			s.ncalls++
			s.phase = phAfterCall
			return true
		}
	case phAfterCall:
		s.info = true
		if c == ']' {
			s.phase = phDone
			return true
		}
		if c == ',' && s.ncalls < maxCalls {
			s.phase, s.pos = phCallHead, 0
			return true
		}
	}
	return false
}

func (g *grammar) matchKey(s *gstate, c byte) (done bool, idx int, ok bool) {
	keys := g.tools[s.tool].keys
	var next uint64
	for a := s.alive; a != 0; a &= a - 1 {
		i := bits.TrailingZeros64(a)
		if k := keys[i]; int(s.mpos) < len(k) && k[s.mpos] == c {
			next |= 1 << i
		}
	}
	if next == 0 {
		return false, 0, false
	}
	s.alive = next
	s.mpos++
	if c == '"' { // keys end at their quote, so exactly one candidate is complete
		return true, bits.TrailingZeros64(next), true
	}
	return false, 0, true
}

// matchLit advances a candidate-set match by c. done reports a completed candidate that
// no other alive candidate extends.
func (g *grammar) matchLit(ls *litSet, alive *uint64, pos *uint16, c byte) (done bool, idx int, ok bool) {
	var next uint64
	for a := *alive; a != 0; a &= a - 1 {
		i := bits.TrailingZeros64(a)
		if k := ls.cands[i]; int(*pos) < len(k) && k[*pos] == c {
			next |= 1 << i
		}
	}
	if next == 0 {
		return false, 0, false
	}
	*alive = next
	*pos++
	full, longer := -1, false
	for a := next; a != 0; a &= a - 1 {
		i := bits.TrailingZeros64(a)
		if len(ls.cands[i]) == int(*pos) {
			full = i
		} else {
			longer = true
		}
	}
	return full >= 0 && !longer, full, true
}

func (g *grammar) push(s *gstate, f frame) bool {
	if s.depth >= maxDepth {
		return false
	}
	s.stack[s.depth] = f
	s.depth++
	return true
}

// startValue begins a value of spec with its first byte c.
func (g *grammar) startValue(s *gstate, spec int16, c byte) bool {
	sp := g.specs[spec]
	kind := sp.kind
	if kind == vkAny {
		switch {
		case c == '"':
			kind = vkString
		case c == '-' || (c >= '0' && c <= '9'):
			kind = vkNumber
			spec = g.anySp
		case c == 't' || c == 'f' || c == 'n':
			return g.startLit(s, g.anyLt, c)
		case c == '[':
			return g.push(s, frame{kind: fArray, spec: g.anySp})
		case c == '{':
			return g.push(s, frame{kind: fObject})
		default:
			return false
		}
	}
	switch kind {
	case vkString:
		return c == '"' && g.push(s, frame{kind: fString, sub: strLead})
	case vkInteger, vkNumber:
		f := frame{kind: fNumber, spec: spec, pos: 1}
		switch {
		case c == '-':
			f.sub = 1
		case c == '0':
			f.sub = 2
		case c >= '1' && c <= '9':
			f.sub = 3
		default:
			return false
		}
		return g.push(s, f)
	case vkBoolean, vkLiteral:
		return g.startLit(s, sp.lits, c)
	case vkArray:
		return c == '[' && g.push(s, frame{kind: fArray, spec: sp.items})
	case vkObject:
		return c == '{' && g.push(s, frame{kind: fObject})
	}
	return false
}

func (g *grammar) startLit(s *gstate, lits int16, c byte) bool {
	f := frame{kind: fLit, spec: lits, alive: allMask(len(g.lits[lits].cands))}
	done, _, ok := g.matchLit(&g.lits[lits], &f.alive, &f.pos, c)
	if !ok {
		return false
	}
	if done {
		g.valueDone(s)
		return true
	}
	return g.push(s, f)
}

// valueDone is called after a value completes (its frame popped, or a one-byte literal):
// the parent moves past it.
func (g *grammar) valueDone(s *gstate) {
	if s.depth == 0 {
		s.phase = phAfterValue
		return
	}
	p := &s.stack[s.depth-1]
	switch p.kind {
	case fArray:
		p.sub = 1
		p.pos++
	case fObject:
		if p.sub == 1 {
			p.sub = 2 // a key finished
		} else {
			p.sub = 4
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (g *grammar) feedFrame(s *gstate, c byte) feedResult {
	f := &s.stack[s.depth-1]
	switch f.kind {
	case fString:
		switch {
		case f.sub == strLead:
			if c != ' ' {
				return reject
			}
			f.sub, s.virt = 0, true
			return consumed
		case f.pend > 0 && f.sub == 0: // UTF-8 continuation
			if c < 0x80 || c > 0xBF {
				return reject
			}
			f.pend--
			return consumed
		case f.sub == 1:
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				f.sub = 0
				return consumed
			case 'u':
				f.sub, f.pend = 2, 4
				return consumed
			}
			return reject
		case f.sub == 2:
			if isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
				f.pend--
				if f.pend == 0 {
					f.sub = 0
				}
				return consumed
			}
			return reject
		}
		switch {
		case c == '"':
			s.depth--
			g.valueDone(s)
			return consumed
		case c == '\\':
			f.sub = 1
		case c < 0x20:
			return reject
		case c < 0x80:
		case c >= 0xC2 && c <= 0xDF:
			f.pend = 1
		case c >= 0xE0 && c <= 0xEF:
			f.pend = 2
		case c >= 0xF0 && c <= 0xF4:
			f.pend = 3
		default:
			return reject
		}
		return consumed
	case fNumber:
		integer := g.specs[f.spec].kind == vkInteger
		limit := uint16(maxNumLen)
		if integer {
			limit = 18 // stays inside int64 for every client
		}
		// At the length limit only the digit an incomplete number still needs is allowed, so
		// the closer can always finish it.
		incomplete := f.sub == 1 || f.sub == 4 || f.sub == 6 || f.sub == 7
		if f.pos >= limit && !(incomplete && isDigit(c)) && (isDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return reject
		}
		next := uint8(255)
		switch f.sub {
		case 1:
			if c == '0' {
				next = 2
			} else if isDigit(c) {
				next = 3
			}
		case 2, 3:
			switch {
			case f.sub == 3 && isDigit(c):
				next = 3
			case c == '.' && !integer:
				next = 4
			case (c == 'e' || c == 'E') && !integer:
				next = 6
			}
		case 4, 5:
			if isDigit(c) {
				next = 5
			} else if f.sub == 5 && (c == 'e' || c == 'E') {
				next = 6
			}
		case 6:
			if c == '+' || c == '-' {
				next = 7
			} else if isDigit(c) {
				next = 8
			}
		case 7, 8:
			if isDigit(c) {
				next = 8
			}
		}
		if next != 255 {
			f.sub = next
			f.pos++
			return consumed
		}
		if f.sub == 2 || f.sub == 3 || f.sub == 5 || f.sub == 8 {
			return doneBefore
		}
		return reject
	case fLit:
		ls := &g.lits[f.spec]
		alive, pos := f.alive, f.pos
		done, _, ok := g.matchLit(ls, &alive, &pos, c)
		if !ok {
			for a := f.alive; a != 0; a &= a - 1 {
				if len(ls.cands[bits.TrailingZeros64(a)]) == int(f.pos) {
					return doneBefore
				}
			}
			return reject
		}
		if f.pos == 1 && c == ' ' && ls.cands[bits.TrailingZeros64(alive)][0] == '"' {
			s.virt = true // a string literal's leading space
		}
		f.alive, f.pos = alive, pos
		if done {
			s.depth--
			g.valueDone(s)
		}
		return consumed
	case fArray:
		switch f.sub {
		case 0, 2:
			if f.sub == 0 && c == ']' {
				s.depth--
				g.valueDone(s)
				return consumed
			}
			if f.pos >= maxArrayLen {
				return reject
			}
			f.sub = 3 // in an item until valueDone
			if g.startValue(s, f.spec, c) {
				return consumed
			}
			return reject
		case 1:
			if c == ',' && f.pos < maxArrayLen {
				f.sub = 2
				return consumed
			}
			if c == ']' {
				s.depth--
				g.valueDone(s)
				return consumed
			}
		}
		return reject
	case fObject:
		switch f.sub {
		case 0, 5:
			if f.sub == 0 && c == '}' {
				s.depth--
				g.valueDone(s)
				return consumed
			}
			if c == '"' {
				f.sub = 1
				if g.push(s, frame{kind: fString}) {
					return consumed
				}
			}
		case 2:
			if c == ':' {
				f.sub = 3
				return consumed
			}
		case 3:
			if g.startValue(s, g.anySp, c) {
				return consumed
			}
		case 4:
			if c == ',' {
				f.sub = 5
				return consumed
			}
			if c == '}' {
				s.depth--
				g.valueDone(s)
				return consumed
			}
		}
		return reject
	}
	return reject
}

// closeChar returns the canonical next byte towards a complete answer (false when done).
func (g *grammar) closeChar(s gstate) (byte, bool) {
	for s.depth > 0 {
		f := &s.stack[s.depth-1]
		switch f.kind {
		case fString:
			switch {
			case f.sub == strLead:
				return ' ', true
			case f.sub == 1:
				return 'n', true
			case f.sub == 2:
				return '0', true
			case f.pend > 0:
				return 0x80, true
			}
			return '"', true
		case fNumber:
			switch f.sub {
			case 1, 4, 6, 7:
				return '0', true
			}
		case fLit:
			ls := &g.lits[f.spec]
			full, best := false, -1
			for a := f.alive; a != 0; a &= a - 1 {
				i := bits.TrailingZeros64(a)
				if len(ls.cands[i]) == int(f.pos) {
					full = true
				} else if best < 0 || len(ls.cands[i]) < len(ls.cands[best]) {
					best = i
				}
			}
			if !full {
				return ls.cands[best][f.pos], true
			}
		case fArray:
			if f.sub == 2 {
				return g.startChar(f.spec), true
			}
			return ']', true
		case fObject:
			switch f.sub {
			case 2:
				return ':', true
			case 3:
				return '0', true
			case 5:
				return '"', true
			}
			return '}', true
		}
		// A complete number or literal: the parent's next byte ends it.
		s.depth--
		g.valueDone(&s)
	}
	switch s.phase {
	case phStart:
		return '[', true
	case phOpen, phAfterCall:
		return ']', true
	case phCallHead:
		return litCallHead[s.pos], true
	case phName:
		return g.shortest(&g.lits[g.names], s.alive, s.mpos), true
	case phArgsHead:
		return litArgsHead[s.pos], true
	case phArgs0, phAfterValue:
		if g.missingRequired(&s) {
			if s.phase == phArgs0 {
				return '"', true
			}
			return ',', true
		}
		return '}', true
	case phComma:
		return '"', true
	case phKey:
		alive := s.alive
		if req := alive & g.tools[s.tool].required; req != 0 {
			alive = req
		}
		return g.shortest(&litSet{cands: g.tools[s.tool].keys}, alive, s.mpos), true
	case phColon:
		return ':', true
	case phInValue:
		return g.startChar(g.tools[s.tool].specs[s.key]), true
	case phCallClose:
		return '}', true
	}
	return 0, false
}

func (g *grammar) shortest(ls *litSet, alive uint64, pos uint16) byte {
	best := -1
	for a := alive; a != 0; a &= a - 1 {
		i := bits.TrailingZeros64(a)
		if best < 0 || len(ls.cands[i]) < len(ls.cands[best]) {
			best = i
		}
	}
	return ls.cands[best][pos]
}

func (g *grammar) startChar(spec int16) byte {
	sp := g.specs[spec]
	switch sp.kind {
	case vkString:
		return '"'
	case vkBoolean, vkLiteral:
		ls := &g.lits[sp.lits]
		return g.shortest(ls, allMask(len(ls.cands)), 0)
	case vkArray:
		return '['
	case vkObject:
		return '{'
	}
	return '0'
}

// closeLen is the number of bytes the closer needs to finish from s (capped at limit+1).
func (g *grammar) closeLen(s gstate, limit int) int {
	n := 0
	for n <= limit {
		c, ok := g.closeChar(s)
		if !ok {
			return n
		}
		if !g.feed(&s, c) {
			// A closer bug: report "does not fit" rather than crash the request; the
			// decoder then fails with an error. TestCloserAtLimits guards the closer.
			return limit + 1
		}
		n++
	}
	return n
}
