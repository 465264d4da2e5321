package grammar

import "math/bits"

// CloseChar returns the canonical next byte towards a complete answer (false when done).
// Following it from any state the grammar reached terminates: strings close (after their
// minimum length), numbers get the digit they need, literals their shortest completion,
// arrays and objects their required items and keys, then their closing bracket.
func (g *Grammar) CloseChar(s State) (byte, bool) {
	for s.depth > 0 {
		if c, ok := g.tools[s.tool].closeFrame(&s.stack[s.depth-1]); ok {
			return c, true
		}
		// A complete number or literal: the parent's next byte ends it.
		s.pop()
	}
	switch s.phase {
	case PhStart:
		return '[', true
	case PhOpen, PhAfterCall:
		return ']', true
	case PhCallHead:
		return litCallHead[s.pos], true
	case PhName:
		return g.names[s.lit].closeB, true
	case PhArgsHead:
		return litArgsHead[s.pos], true
	case PhCallClose:
		return '}', true
	}
	return 0, false
}

// closeFrame is the closer's byte for the top frame f, or false when f's value is complete
// and only needs its parent's next byte.
func (tg *Tool) closeFrame(f *frame) (byte, bool) {
	switch f.kind {
	case fString:
		switch f.st {
		case strLead:
			return ' ', true
		case strEscape:
			return 'n', true
		case strHex:
			return '0', true
		case strUTF8:
			switch f.flag {
			case utfE0:
				return 0xA0, true
			case utfF0:
				return 0x90, true
			}
			return 0x80, true
		}
		if f.n < tg.nodes[f.node].min {
			return 'a', true
		}
		return '"', true
	case fNumber:
		nd := &tg.nodes[f.node]
		if !nd.bounded {
			if numComplete(f.st) {
				return 0, false
			}
			return '0', true
		}
		if numComplete(f.st) && intInRange(f, nd) {
			return 0, false
		}
		for d := byte('0'); d <= '9'; d++ { // the smallest digit that keeps a value in range
			if f.st != numZero && intViable(f.flag == 1, f.val*10+uint64(d-'0'), int(f.n+1-int32(f.flag)), maxIntLen-int(f.flag), nd.lo, nd.hi) {
				return d, true
			}
		}
		return 0, false // unreachable: feedNumber keeps the prefix viable
	case fLit:
		if t := &tg.trie[f.node]; !t.end {
			return t.closeB, true
		}
		return 0, false
	case fArray:
		nd := &tg.nodes[f.node]
		switch f.st {
		case arrStart:
			if f.n >= nd.min {
				return ']', true
			}
			return tg.startChar(nd.sub), true
		case arrAfterItem:
			if f.n < nd.min {
				return ',', true
			}
			return ']', true
		case arrNext:
			return tg.startChar(nd.sub), true
		}
	case fObject:
		o := &tg.objs[tg.nodes[f.node].sub]
		missing := o.required &^ f.seen
		switch f.st {
		case objStart:
			if missing != 0 {
				return '"', true
			}
			return '}', true
		case objKey:
			alive := f.alive
			if req := alive & o.required; req != 0 {
				alive = req
			}
			best := -1
			for a := alive; a != 0; a &= a - 1 {
				if i := bits.TrailingZeros64(a); best < 0 || len(o.keys[i]) < len(o.keys[best]) {
					best = i
				}
			}
			return o.keys[best][f.n], true
		case objColon:
			return ':', true
		case objValue:
			if o.open {
				return tg.startChar(o.val), true
			}
			return tg.startChar(o.vals[f.key]), true
		case objAfterValue:
			if missing != 0 {
				return ',', true
			}
			return '}', true
		case objNext:
			return '"', true
		}
	}
	return 0, false
}

// unionOrder is the closer's preference among a union's classes: short values first.
var unionOrder = [numClasses]int{clsNumber, clsNull, clsTrue, clsFalse, clsString, clsArray, clsObject}

// startChar is the closer's first byte of a value of node n.
func (tg *Tool) startChar(n int32) byte {
	nd := &tg.nodes[n]
	switch nd.kind {
	case nString:
		return '"'
	case nInteger:
		switch {
		case !nd.bounded || (nd.lo <= 0 && nd.hi >= 0):
			return '0'
		case nd.lo > 0:
			d := nd.lo
			for d >= 10 {
				d /= 10
			}
			return byte('0' + d)
		}
		return '-'
	case nLit:
		return tg.trie[nd.sub].closeB
	case nArray:
		return '['
	case nObject:
		return '{'
	case nAny, nUnion:
		for _, cls := range unionOrder {
			if nd.alt[cls] >= 0 {
				return tg.startChar(nd.alt[cls])
			}
		}
	}
	return '0'
}

// CloseLen is the number of bytes the closer needs to finish from s (capped at limit+1).
func (g *Grammar) CloseLen(s State, limit int) int {
	n := 0
	for n <= limit {
		c, ok := g.CloseChar(s)
		if !ok {
			return n
		}
		if !g.Feed(&s, c) {
			// A closer bug: report "does not fit" rather than crash the request; the
			// decoder then fails with an error. TestCloserAtLimits guards the closer.
			return limit + 1
		}
		n++
	}
	return n
}
