package grammar

import "errors"

// Package grammar is the constrained decoder's grammar: a byte-level pushdown machine over the compact call
// JSON the model writes,
//
//	[ {"name":"<tool>","arguments":{"<key>":<value>,...}} , ... ]
//
// that admits only offered tool names and, for each value, only what its schema allows:
// objects with their declared keys (each at most once, required keys before the object
// closes; any keys when none are declared), arrays of the item schema within their length
// bounds, strings (valid JSON escapes, well-formed UTF-8, length bounds in code points),
// integers (within their bounds) and numbers, literal sets of any size and JSON type
// (enum, const, boolean, null: a trie), unions (type lists, anyOf, oneOf: dispatched on the
// value's first byte) and any JSON for untyped values. A token is allowed when every byte of
// it is. The state is a small value type, so trying a token is a copy and a few
// transitions, with no allocation.
//
// Files: grammar.go (types, the public query), compile.go (toolspec -> nodes and tries, once
// per tool; New joins compiled tools for one request), feed.go (one byte), close.go (the
// closer).
//
// Copy-consistent values (train/answer_format.py): the model writes every string value inside
// a call's arguments as if it were preceded by one space, '"' + " lisbon" + '"', so that its
// first word carries SentencePiece's word-start marker exactly as in the transcript. The grammar
// requires that space as the first byte of such a string (and of string enum literals, at any
// depth of a literal) and marks it virtual (State.virt): the decoder drops it from the output.
// Object keys and tool names have no such space.
//
// The closer (closeChar) gives, for any state, one canonical next byte on a shortest-ish way
// to a complete answer; following it always terminates. closeLen counts those bytes, and the
// decoder only takes a token when closeLen after it still fits in the token budget, so every
// answer completes within the cap and parses.

// ErrUnsupported marks tools the local decoder cannot take (too many, or a schema outside
// what the grammar enforces); the caller caused it. It is wrapped with the tool and the
// reason.
var ErrUnsupported = errors.New("grammar: tools the local decoder cannot take")

// MaxCalls is the most calls one answer holds.
const MaxCalls = 8

const (
	maxDepth     = 10 // frames: the arguments object and the values nested in it
	maxCalls     = MaxCalls
	maxArrayLen  = 64   // items in one array
	maxNumLen    = 24   // bytes of a number
	maxIntLen    = 18   // bytes of an integer: stays inside int64 for every client
	maxKeys      = 64   // declared properties of one object: the width of a bitmask
	maxTools     = 256  // tools in one grammar
	maxNodes     = 4096 // compiled value nodes of one tool
	maxTrieNodes = 1 << 18
)

// nodeKind is what a compiled value node admits.
type nodeKind uint8

const (
	nAny     nodeKind = iota // any JSON value (a union of the kinds below)
	nString                  // a string, optionally length-bounded
	nInteger                 // an integer, optionally bounded
	nNumber                  // any JSON number
	nLit                     // one of a set of literal values (a trie of their wire bytes)
	nArray                   // an array of one item node
	nObject                  // an object: declared keys, or any keys with any values
	nUnion                   // dispatch on the first byte's class
)

// Value classes by first byte, for unions.
const (
	clsString = iota // "
	clsNumber        // - 0-9
	clsTrue          // t
	clsFalse         // f
	clsNull          // n
	clsArray         // [
	clsObject        // {
	numClasses
)

func classOf(c byte) int {
	switch {
	case c == '"':
		return clsString
	case c == '-' || (c >= '0' && c <= '9'):
		return clsNumber
	case c == 't':
		return clsTrue
	case c == 'f':
		return clsFalse
	case c == 'n':
		return clsNull
	case c == '[':
		return clsArray
	case c == '{':
		return clsObject
	}
	return -1
}

type node struct {
	kind    nodeKind
	free    bool  // string: no format, no length bounds (freeStringValue)
	bounded bool  // integer: lo..hi applies
	min     int32 // string: code points; array: items
	max     int32 // string: code points (-1: unbounded); array: items (<= maxArrayLen); lit: literals
	lo, hi  int64 // integer bounds, inclusive
	sub     int32 // lit: trie root; array: item node; object: index in grammar.objs
	alt     [numClasses]int32
}

// objNode is an object's declared keys, or (open) any keys with values of node val.
type objNode struct {
	keys     [][]byte // wire bytes of each key after its opening quote, closing quote included
	vals     []int32
	required uint64
	open     bool
	val      int32
}

// tnode is a trie node of literal wire bytes; end marks a complete literal (leaf: its index).
type tnode struct {
	edges  []tedge
	end    bool
	leaf   int32
	closeB byte  // the first byte on a shortest way to an end
	closeN int32 // bytes on that way
}

type tedge struct {
	b    byte
	virt bool // a string value's virtual leading space
	to   int32
}

// Tool is one tool's compiled grammar: the value nodes of its arguments object and the tries
// of its literals. Compile builds it once, when the tool is registered or parsed; it is
// read-only after, so requests share it.
type Tool struct {
	name   string
	nodes  []node
	objs   []objNode
	trie   []tnode
	root   int32 // the arguments object node
	anyN   int32 // any JSON value
	keyStr int32 // a key of an open object: a string without leading space or bounds
}

// Name is the tool's name.
func (t *Tool) Name() string { return t.name }

// Grammar is the grammar of one request's answer over its offered tools (New): the compiled
// tools, shared, and a trie of their names. Frames inside a call's arguments refer to nodes
// of that call's tool (State.tool).
type Grammar struct {
	tools []*Tool
	names []tnode // trie of tool names (wire bytes + closing quote; leaf = tool), root 0
}

// Phase is where a State is around the call objects.
type Phase uint8

// Outer phases, around the call objects.
const (
	PhStart     Phase = iota // before [
	PhOpen                   // after [: a call or ]
	PhCallHead               // in {"name":"
	PhName                   // in a tool name
	PhArgsHead               // in ,"arguments":{ (then the arguments object frame)
	PhCallClose              // after the arguments: }
	PhAfterCall              // , or ]
	PhDone
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

// String sub-states.
const (
	strLead   = iota // before a value's virtual leading space
	strBody          // content, or the closing quote
	strEscape        // after a backslash
	strHex           // in \uXXXX (frame.pend digits left)
	strUTF8          // in a multi-byte character (frame.pend continuation bytes left)
)

// Number sub-states; numZero, numInt, numFrac and numExpInt are complete numbers.
const (
	numMinus   = iota // after -
	numZero           // 0 (no more integer digits)
	numInt            // integer digits
	numDot            // after .
	numFrac           // fraction digits
	numExp            // after e or E
	numExpSign        // after the exponent's sign
	numExpInt         // exponent digits
)

func numComplete(st uint8) bool {
	return st == numZero || st == numInt || st == numFrac || st == numExpInt
}

// Array sub-states.
const (
	arrStart     = iota // after [: an item or ]
	arrItem             // in an item
	arrAfterItem        // , or ]
	arrNext             // after ,: an item
)

// Object sub-states.
const (
	objStart      = iota // after {: a key or }
	objKey               // in a declared key (frame.alive, frame.n)
	objOpenKey           // in a free key (a key string frame above)
	objColon             // :
	objValue             // the value's first byte (then a value frame above)
	objAfterValue        // , or }
	objNext              // after ,: a key
)

// UTF-8 ranges of a first continuation byte (frame.flag in strUTF8).
const (
	utfAny = iota // 80..BF
	utfE0         // A0..BF (no overlong forms)
	utfED         // 80..9F (no surrogates)
	utfF0         // 90..BF (no overlong forms)
	utfF4         // 80..8F (not past U+10FFFF)
)

type frame struct {
	kind  uint8
	st    uint8 // the kind's sub-state
	pend  uint8 // string: hex digits or continuation bytes left
	flag  uint8 // string: utf* range or a \uD escape seen; number: negative
	key   int8  // object: the key being written
	node  int32 // the value node (lit: the current trie node)
	n     int32 // string: code points; number: bytes; array: items; object: key match position
	val   uint64
	alive uint64 // object: declared keys still matching
	seen  uint64 // object: declared keys written
}

// State is where an answer is in the grammar: a small value type, so trying a token is a
// copy and a few transitions. The zero value is the start of an answer.
type State struct {
	phase  Phase
	pos    uint8 // position in a literal phase
	ncalls uint8
	depth  uint8
	info   bool  // this token touched a tool name, a value or a call/no-call decision
	virt   bool  // the last byte fed was a value's leading space: not part of the JSON
	tool   int16 // the call's tool
	lit    int32 // names trie node while matching a tool name
	stack  [maxDepth]frame
}

// Phase is where s is around the call objects.
func (s *State) Phase() Phase { return s.phase }

// Done reports whether the answer is complete.
func (s *State) Done() bool { return s.phase == PhDone }

// Calls is the number of finished calls.
func (s *State) Calls() int { return int(s.ncalls) }

// Tool is the index of the tool the current call names (valid once named).
func (s *State) Tool() int { return int(s.tool) }

// NameNode is the names trie node while in a tool name (PhName), for the tool prior
// (Grammar.NameMass).
func (s *State) NameNode() int { return int(s.lit) }

// Virtual reports whether the last byte fed was a string value's virtual leading space,
// which is not part of the answer's JSON.
func (s *State) Virtual() bool { return s.virt }

// Informative reports whether the bytes fed since ClearInfo touched a tool name, a value, a
// choice among a call's arguments (which key next, or none) or the call/no-call decision:
// the tokens confidence counts.
func (s *State) Informative() bool { return s.info }

// ClearInfo starts a new token for Informative.
func (s *State) ClearInfo() { s.info = false }

// maxClosedChoices: an enum of more literals than this (cities, tickers) is a list of
// values the transcript should spell, not a closed choice for groundedRepeat.
const maxClosedChoices = 8

// ClosedArg reports whether the declared argument key of tool takes one of a small closed
// set of values (a literal node of at most maxClosedChoices: a boolean, a const, a short
// enum), for the decoder's repeat rule. Keys whose wire bytes need escaping are not matched,
// which only keeps the stricter rule for them.
func (g *Grammar) ClosedArg(tool int, key string) bool {
	t := g.tools[tool]
	nd := &t.nodes[t.root]
	if nd.kind != nObject {
		return false
	}
	o := &t.objs[nd.sub]
	if o.open {
		return false
	}
	for i, k := range o.keys {
		if string(k[:len(k)-1]) == key {
			nd := &t.nodes[o.vals[i]]
			return nd.kind == nLit && nd.max <= maxClosedChoices
		}
	}
	return false
}

// ValueString reports whether the next bytes fed to s are part of a free string value of a
// call's arguments (in): a value (not an object key, not a tool name) of a string schema
// with no enum, const, format or length bound (also any string of an untyped value); and
// whether it is at its start, before the virtual leading space (atStart). in stays true
// inside an escape or a multi-byte character and turns false once the closing quote is fed.
// It is a few loads, for the decoder's copy rule.
func (g *Grammar) ValueString(s *State) (in, atStart bool) {
	if s.depth == 0 {
		return false, false
	}
	f := &s.stack[s.depth-1]
	t := g.tools[s.tool]
	if f.kind != fString || f.node == t.keyStr || !t.nodes[f.node].free {
		return false, false
	}
	return true, f.st == strLead
}

// NumberSlot reports whether the next bytes fed to s are part of a number value inside a
// call's arguments (in), and whether that number has not started yet (atStart: the slot
// takes a value and its schema admits a number, so its first byte is still to come).
// Enums of numbers are literals, already constrained, and not reported.
func (g *Grammar) NumberSlot(s *State) (in, atStart bool) {
	if s.depth == 0 {
		return false, false
	}
	t := g.tools[s.tool]
	f := &s.stack[s.depth-1]
	var slot int32 = -1
	switch f.kind {
	case fNumber:
		return true, false
	case fObject:
		if f.st == objValue {
			o := &t.objs[t.nodes[f.node].sub]
			slot = o.val
			if !o.open {
				slot = o.vals[f.key]
			}
		}
	case fArray:
		if f.st == arrStart || f.st == arrNext {
			slot = t.nodes[f.node].sub
		}
	}
	if slot < 0 {
		return false, false
	}
	nd := &t.nodes[slot]
	if nd.kind == nAny || nd.kind == nUnion {
		if a := nd.alt[clsNumber]; a >= 0 {
			nd = &t.nodes[a]
		}
	}
	if nd.kind == nInteger || nd.kind == nNumber {
		return true, true
	}
	return false, false
}

// NumTools is the number of tools the grammar offers.
func (g *Grammar) NumTools() int { return len(g.tools) }

// NameNodes is the number of nodes of the names trie.
func (g *Grammar) NameNodes() int { return len(g.names) }

// NameMass writes to dst (NameNodes long) the mass under each names trie node: the sum of
// toolMass (one entry per tool) over the tools whose names pass through it.
func (g *Grammar) NameMass(dst, toolMass []float64) {
	// Children come after their parents (buildTrie appends), so one backward pass sums each
	// subtree.
	for i := len(g.names) - 1; i >= 0; i-- {
		t := &g.names[i]
		var m float64
		if t.end {
			m = toolMass[t.leaf]
		}
		for _, e := range t.edges {
			m += dst[e.to]
		}
		dst[i] = m
	}
}
