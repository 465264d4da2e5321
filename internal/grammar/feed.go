package grammar

import "math/bits"

type feedResult uint8

const (
	reject     feedResult = iota
	consumed              // the byte belongs to the frame
	doneBefore            // the frame's value completed before this byte: pop it and give the byte to the parent
)

// Feed advances s by one byte, reporting whether the byte is allowed (after a refused byte
// s is undefined: callers feed a copy). After it, s.virt reports whether the byte was a
// value's virtual leading space. It never allocates.
func (g *Grammar) Feed(s *State, c byte) bool {
	s.virt = false
	for s.depth > 0 {
		switch {
		case s.depth > 1 || s.stack[0].st == objValue:
			s.info = true // inside an argument value, or its first byte
		case !s.info && g.tools[s.tool].choosesKey(&s.stack[0]):
			s.info = true // which argument comes next, or none
		}
		switch g.tools[s.tool].feedFrame(s, c) {
		case reject:
			return false
		case consumed:
			return true
		}
		s.pop()
	}
	return g.feedOuter(s, c)
}

// pop ends the top frame's value and moves its parent past it.
func (s *State) pop() {
	s.depth--
	s.valueDone()
}

// valueDone is called after a value completes (its frame popped, or a one-byte literal).
func (s *State) valueDone() {
	if s.depth == 0 { // the arguments object
		s.phase = PhCallClose
		return
	}
	p := &s.stack[s.depth-1]
	switch p.kind {
	case fArray:
		p.st = arrAfterItem
		p.n++
	case fObject:
		if p.st == objOpenKey {
			p.st = objColon
		} else {
			p.st = objAfterValue
		}
	}
}

func (s *State) push(f frame) bool {
	if s.depth >= maxDepth {
		return false
	}
	s.stack[s.depth] = f
	s.depth++
	return true
}

func (g *Grammar) feedOuter(s *State, c byte) bool {
	switch s.phase {
	case PhStart:
		if c == '[' {
			s.phase = PhOpen
			return true
		}
	case PhOpen, PhAfterCall:
		s.info = true // the call / no-call decision
		if c == ']' {
			s.phase = PhDone
			return true
		}
		if len(g.tools) == 0 { // with no tools offered, [] is the only answer
			return false
		}
		if s.phase == PhOpen && c == '{' {
			s.phase, s.pos = PhCallHead, 1
			return true
		}
		if s.phase == PhAfterCall && c == ',' && s.ncalls < maxCalls {
			s.phase, s.pos = PhCallHead, 0
			return true
		}
	case PhCallHead:
		if c == litCallHead[s.pos] {
			s.pos++
			if int(s.pos) == len(litCallHead) {
				s.phase, s.lit = PhName, 0
			}
			return true
		}
	case PhName:
		s.info = true
		for _, e := range g.names[s.lit].edges {
			if e.b == c {
				s.lit = e.to
				if t := &g.names[e.to]; t.end { // names end at their closing quote
					s.tool = int16(t.leaf)
					s.phase, s.pos = PhArgsHead, 0
				}
				return true
			}
		}
	case PhArgsHead:
		if c == litArgsHead[s.pos] {
			s.pos++
			if int(s.pos) == len(litArgsHead) {
				return s.push(frame{kind: fObject, st: objStart, node: g.tools[s.tool].root})
			}
			return true
		}
	case PhCallClose:
		if c == '}' {
			s.ncalls++
			s.phase = PhAfterCall
			return true
		}
	}
	return false
}

// startValue begins a value of node n with its first byte c.
func (tg *Tool) startValue(s *State, n int32, c byte) bool {
	nd := &tg.nodes[n]
	switch nd.kind {
	case nAny, nUnion:
		cls := classOf(c)
		if cls < 0 || nd.alt[cls] < 0 {
			return false
		}
		return tg.startValue(s, nd.alt[cls], c)
	case nString:
		return c == '"' && s.push(frame{kind: fString, st: strLead, node: n})
	case nInteger, nNumber:
		f := frame{kind: fNumber, node: n, n: 1}
		switch {
		case c == '-':
			f.st, f.flag = numMinus, 1
		case c == '0':
			f.st = numZero
		case isDigit(c):
			f.st, f.val = numInt, uint64(c-'0')
		default:
			return false
		}
		if nd.bounded && !intViable(f.flag == 1, f.val, int(f.n-int32(f.flag)), maxIntLen-int(f.flag), nd.lo, nd.hi) {
			return false
		}
		return s.push(f)
	case nLit:
		for _, e := range tg.trie[nd.sub].edges {
			if e.b == c {
				s.virt = e.virt
				if t := &tg.trie[e.to]; t.end && len(t.edges) == 0 { // a one-byte literal
					s.valueDone()
					return true
				}
				return s.push(frame{kind: fLit, node: e.to})
			}
		}
		return false
	case nArray:
		return c == '[' && s.push(frame{kind: fArray, st: arrStart, node: n})
	case nObject:
		return c == '{' && s.push(frame{kind: fObject, st: objStart, node: n})
	}
	return false
}

func (tg *Tool) feedFrame(s *State, c byte) feedResult {
	f := &s.stack[s.depth-1]
	switch f.kind {
	case fString:
		return tg.feedString(s, f, c)
	case fNumber:
		return tg.feedNumber(s, f, c)
	case fLit:
		t := &tg.trie[f.node]
		for _, e := range t.edges {
			if e.b == c {
				s.virt = e.virt
				f.node = e.to
				if n := &tg.trie[e.to]; n.end && len(n.edges) == 0 {
					s.pop()
				}
				return consumed
			}
		}
		if t.end { // a complete literal that another one extends (1 and 10)
			return doneBefore
		}
		return reject
	case fArray:
		return tg.feedArray(s, f, c)
	case fObject:
		return tg.feedObject(s, f, c)
	}
	return reject
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

func (tg *Tool) feedString(s *State, f *frame, c byte) feedResult {
	nd := &tg.nodes[f.node]
	switch f.st {
	case strLead:
		if c != ' ' {
			return reject
		}
		f.st, s.virt = strBody, true
	case strBody:
		switch {
		case c == '"':
			if f.n < nd.min {
				return reject
			}
			s.pop()
		case c < 0x20:
			return reject
		case nd.max >= 0 && f.n >= nd.max:
			return reject
		case c == '\\':
			f.st = strEscape
		case c < 0x80:
		case c >= 0xC2 && c <= 0xDF:
			f.st, f.pend, f.flag = strUTF8, 1, utfAny
		case c >= 0xE0 && c <= 0xEF:
			f.st, f.pend, f.flag = strUTF8, 2, utfAny
			if c == 0xE0 {
				f.flag = utfE0
			} else if c == 0xED {
				f.flag = utfED
			}
		case c >= 0xF0 && c <= 0xF4:
			f.st, f.pend, f.flag = strUTF8, 3, utfAny
			if c == 0xF0 {
				f.flag = utfF0
			} else if c == 0xF4 {
				f.flag = utfF4
			}
		default:
			return reject
		}
		if c != '"' {
			f.n++ // one code point (an escape or a character) begins
		}
	case strUTF8:
		lo, hi := byte(0x80), byte(0xBF)
		switch f.flag {
		case utfE0:
			lo = 0xA0
		case utfED:
			hi = 0x9F
		case utfF0:
			lo = 0x90
		case utfF4:
			hi = 0x8F
		}
		if c < lo || c > hi {
			return reject
		}
		f.flag = utfAny
		if f.pend--; f.pend == 0 {
			f.st = strBody
		}
	case strEscape:
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			f.st = strBody
		case 'u':
			f.st, f.pend, f.flag = strHex, 4, 0
		default:
			return reject
		}
	case strHex:
		if !isHex(c) {
			return reject
		}
		if f.pend == 4 && (c == 'd' || c == 'D') {
			f.flag = 1
		}
		if f.pend == 3 && f.flag == 1 && !(c >= '0' && c <= '7') {
			return reject // \uD800-\uDFFF: half a surrogate pair, not a character
		}
		if f.pend--; f.pend == 0 {
			f.st = strBody
		}
	}
	return consumed
}

func (tg *Tool) feedNumber(s *State, f *frame, c byte) feedResult {
	nd := &tg.nodes[f.node]
	integer := nd.kind == nInteger
	next := uint8(255)
	switch f.st {
	case numMinus:
		if c == '0' {
			next = numZero
		} else if isDigit(c) {
			next = numInt
		}
	case numZero, numInt:
		switch {
		case f.st == numInt && isDigit(c):
			next = numInt
		case c == '.' && !integer:
			next = numDot
		case (c == 'e' || c == 'E') && !integer:
			next = numExp
		}
	case numDot, numFrac:
		if isDigit(c) {
			next = numFrac
		} else if f.st == numFrac && (c == 'e' || c == 'E') {
			next = numExp
		}
	case numExp:
		if c == '+' || c == '-' {
			next = numExpSign
		} else if isDigit(c) {
			next = numExpInt
		}
	case numExpSign, numExpInt:
		if isDigit(c) {
			next = numExpInt
		}
	}
	if next == 255 {
		if numComplete(f.st) && (!nd.bounded || intInRange(f, nd)) {
			return doneBefore
		}
		return reject
	}
	limit := int32(maxNumLen)
	if integer {
		limit = maxIntLen
	}
	// At the length limit only the digit an incomplete number still needs is allowed, so
	// the closer can always finish it.
	if f.n >= limit && (numComplete(f.st) || !isDigit(c)) {
		return reject
	}
	if nd.bounded {
		v := f.val*10 + uint64(c-'0')
		if !intViable(f.flag == 1, v, int(f.n+1-int32(f.flag)), maxIntLen-int(f.flag), nd.lo, nd.hi) {
			return reject
		}
		f.val = v
	}
	f.st = next
	f.n++
	return consumed
}

func intInRange(f *frame, nd *node) bool {
	v := int64(f.val)
	if f.flag == 1 {
		v = -v
	}
	return v >= nd.lo && v <= nd.hi
}

// intViable reports whether an integer in [lo, hi] of at most maxDigits digits starts with
// the prefix: sign neg and magnitude v written in k digits (k == 0 after a bare '-').
func intViable(neg bool, v uint64, k, maxDigits int, lo, hi int64) bool {
	meets := func(a, b uint64) bool { // magnitudes a..b
		x, y := int64(a), int64(b)
		if neg {
			x, y = -int64(b), -int64(a)
		}
		return x <= hi && y >= lo
	}
	if k == 0 {
		p := uint64(1)
		for range maxDigits {
			p *= 10
		}
		return meets(0, p-1)
	}
	if meets(v, v) {
		return true
	}
	if v == 0 { // a leading zero takes no more digits
		return false
	}
	p := uint64(1)
	for j := 1; k+j <= maxDigits; j++ {
		p *= 10
		if meets(v*p, v*p+p-1) {
			return true
		}
	}
	return false
}

func (tg *Tool) feedArray(s *State, f *frame, c byte) feedResult {
	nd := &tg.nodes[f.node]
	switch f.st {
	case arrStart, arrNext:
		if f.st == arrStart && c == ']' {
			if f.n < nd.min {
				return reject
			}
			s.pop()
			return consumed
		}
		if f.n >= nd.max {
			return reject
		}
		f.st = arrItem // until valueDone
		if tg.startValue(s, nd.sub, c) {
			return consumed
		}
	case arrAfterItem:
		if c == ',' && f.n < nd.max && s.depth < maxDepth {
			f.st = arrNext
			return consumed
		}
		if c == ']' && f.n >= nd.min {
			s.pop()
			return consumed
		}
	}
	return reject
}

func allMask(n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return 1<<n - 1
}

func (tg *Tool) feedObject(s *State, f *frame, c byte) feedResult {
	o := &tg.objs[tg.nodes[f.node].sub]
	unused := allMask(len(o.keys)) &^ f.seen
	switch f.st {
	case objStart, objNext:
		if f.st == objStart && c == '}' {
			if o.required&^f.seen != 0 {
				return reject
			}
			s.pop()
			return consumed
		}
		if c != '"' {
			return reject
		}
		if o.open {
			if s.depth >= maxDepth { // no room for the key and then its value
				return reject
			}
			f.st = objOpenKey // until the key string's valueDone
			if s.push(frame{kind: fString, st: strBody, node: tg.keyStr}) {
				return consumed
			}
			return reject
		}
		if unused == 0 {
			return reject
		}
		f.st, f.alive, f.n = objKey, unused, 0
		return consumed
	case objKey:
		var next uint64
		for a := f.alive; a != 0; a &= a - 1 {
			i := bits.TrailingZeros64(a)
			if k := o.keys[i]; int(f.n) < len(k) && k[f.n] == c {
				next |= 1 << i
			}
		}
		if next == 0 {
			return reject
		}
		f.alive = next
		f.n++
		// Keys end at their unescaped closing quote, so no key is a prefix of another:
		// a fully matched key is the only one alive.
		for a := next; a != 0; a &= a - 1 {
			if i := bits.TrailingZeros64(a); len(o.keys[i]) == int(f.n) {
				f.key = int8(i)
				f.seen |= 1 << i
				f.st = objColon
			}
		}
		return consumed
	case objColon:
		if c == ':' {
			f.st = objValue // until valueDone
			return consumed
		}
	case objValue:
		v := o.val
		if !o.open {
			v = o.vals[f.key]
		}
		if tg.startValue(s, v, c) {
			return consumed
		}
	case objAfterValue:
		if c == '}' && o.required&^f.seen == 0 {
			s.pop()
			return consumed
		}
		if c == ',' && ((o.open && s.depth < maxDepth) || (!o.open && unused != 0)) {
			f.st = objNext
			return consumed
		}
	}
	return reject
}

// choosesKey reports whether the arguments object f (the call's own, at depth 1) is at a
// byte with more than one allowed answer that picks the call's arguments: at '{' or after a
// value, '"' (another key) against '}' (no more); inside a declared key, a byte on which
// the keys still alive differ. The bytes the grammar forces there (the quote after ',', a
// key's remaining bytes once only it matches, the colon) are not choices. Confidence counts
// these bytes' tokens (Informative): a call that leaves an argument out or puts a value
// under the wrong key decides it here, and without them "implerstraße to ostbahnhof" ->
// find_connection({"to": "ostbahnhof"}) kept 0.9997 (session 11).
func (tg *Tool) choosesKey(f *frame) bool {
	if f.kind != fObject {
		return false
	}
	o := &tg.objs[tg.nodes[f.node].sub]
	unused := allMask(len(o.keys)) &^ f.seen
	closable := o.required&^f.seen == 0
	switch f.st {
	case objStart, objAfterValue:
		return closable && (o.open || unused != 0)
	case objKey:
		var first byte
		n := 0
		for a := f.alive; a != 0; a &= a - 1 {
			k := o.keys[bits.TrailingZeros64(a)]
			if int(f.n) >= len(k) {
				continue
			}
			if n == 0 {
				first, n = k[f.n], 1
			} else if k[f.n] != first {
				return true
			}
		}
	}
	return false
}
