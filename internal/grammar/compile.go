package grammar

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// Compile compiles one tool's arguments. It fails, with an error wrapping ErrUnsupported
// that names the tool and the reason, for a schema outside what the grammar enforces (the
// registry then classifies the tool cloud-only). Every tool begins with the same shared
// nodes (any value, open-object key), so their indices are the same in every tool.
func Compile(t *toolspec.Tool) (*Tool, error) {
	tg := &Tool{name: t.Name}
	tg.anyN = tg.compileAny()
	tg.keyStr = tg.addNode(node{kind: nString, max: -1})
	obj := toolspec.Param{Type: "object", Properties: t.Params}
	if obj.Properties == nil {
		obj.Properties = []toolspec.Param{}
	}
	n, err := tg.compile(&obj, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: tool %s: %v", ErrUnsupported, t.Name, err)
	}
	tg.root = n
	return tg, nil
}

// New joins compiled tools into the grammar of one answer. It fails, with an error wrapping
// ErrUnsupported, for more than maxTools tools or a name offered twice.
func New(tools []*Tool) (*Grammar, error) {
	if len(tools) > maxTools {
		return nil, fmt.Errorf("%w: %d tools offered, the decoder takes at most %d", ErrUnsupported, len(tools), maxTools)
	}
	g := &Grammar{tools: tools}
	names := make([]wireLit, 0, len(tools))
	seen := make(map[string]bool, len(tools))
	for _, t := range tools {
		if seen[t.name] { // the second could never be named
			return nil, fmt.Errorf("%w: tool name %q offered twice", ErrUnsupported, t.name)
		}
		seen[t.name] = true
		w := wireLit{b: appendEsc(nil, t.name)}
		w.b = append(w.b, '"')
		names = append(names, w)
	}
	if _, err := buildTrie(&g.names, names); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return g, nil
}

// CompileAll compiles tools and joins them (Compile, then New): for callers that hold no
// compiled tools, such as tests and tools sent once.
func CompileAll(tools []toolspec.Tool) (*Grammar, error) {
	ts := make([]*Tool, len(tools))
	for i := range tools {
		t, err := Compile(&tools[i])
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return New(ts)
}

func (tg *Tool) addNode(n node) int32 {
	tg.nodes = append(tg.nodes, n)
	return int32(len(tg.nodes) - 1)
}

// compileAny builds the node of an untyped value: free strings, numbers, true/false/null,
// arrays of any and objects of any.
func (tg *Tool) compileAny() int32 {
	anyN := tg.addNode(node{kind: nAny})
	str := tg.addNode(node{kind: nString, free: true, max: -1})
	num := tg.addNode(node{kind: nNumber})
	lits, _ := buildTrie(&tg.trie, []wireLit{{b: []byte("true")}, {b: []byte("false")}, {b: []byte("null")}})
	lit := tg.addNode(node{kind: nLit, sub: lits})
	arr := tg.addNode(node{kind: nArray, sub: anyN, max: maxArrayLen})
	tg.objs = append(tg.objs, objNode{open: true, val: anyN})
	obj := tg.addNode(node{kind: nObject, sub: int32(len(tg.objs) - 1)})
	tg.nodes[anyN].alt = [numClasses]int32{clsString: str, clsNumber: num, clsTrue: lit, clsFalse: lit, clsNull: lit, clsArray: arr, clsObject: obj}
	return anyN
}

// compile returns the node of p's value at frame depth level+1 (the arguments object is
// level 0).
func (tg *Tool) compile(p *toolspec.Param, level int) (int32, error) {
	if level+1 > maxDepth {
		return 0, fmt.Errorf("nested deeper than the decoder's %d levels", maxDepth-1)
	}
	if len(tg.nodes) > maxNodes {
		return 0, fmt.Errorf("schemas larger than the decoder's %d nodes", maxNodes)
	}
	if p.Enum != nil {
		if len(p.Enum) == 0 {
			return 0, errNoValue
		}
		return tg.litNode(p.Enum)
	}
	if p.AnyOf != nil {
		if len(p.Types) > 0 || (p.Type != "" && p.Type != "any") {
			return 0, fmt.Errorf("a type next to anyOf/oneOf")
		}
		alts := make([]*toolspec.Param, len(p.AnyOf))
		for i := range p.AnyOf {
			alts[i] = &p.AnyOf[i]
		}
		return tg.union(alts, p.OneOf, level)
	}
	if len(p.Types) > 0 {
		alts := make([]*toolspec.Param, len(p.Types))
		for i, t := range p.Types {
			q := *p
			q.Types, q.Type = nil, t
			alts[i] = &q
		}
		return tg.union(alts, false, level)
	}
	switch p.Type {
	case "", "any":
		return tg.anyN, nil
	case "string":
		n := node{kind: nString, min: int32(p.MinLength), max: -1, free: p.Format == "" && p.MinLength == 0 && p.MaxLength == nil}
		if p.MaxLength != nil {
			if *p.MaxLength < p.MinLength {
				return 0, fmt.Errorf("maxLength below minLength")
			}
			n.max = int32(min(*p.MaxLength, math.MaxInt32))
		}
		if p.MinLength > 1<<12 {
			return 0, fmt.Errorf("minLength %d is more than the decoder writes", p.MinLength)
		}
		return tg.addNode(n), nil
	case "integer":
		n := node{kind: nInteger}
		if p.Minimum != "" || p.Maximum != "" {
			lo, hi, err := intBounds(p.Minimum, p.Maximum)
			if err != nil {
				return 0, err
			}
			n.bounded, n.lo, n.hi = true, lo, hi
		}
		return tg.addNode(n), nil
	case "number":
		if p.Minimum != "" || p.Maximum != "" {
			return 0, fmt.Errorf("number bounds are not enforced by the decoder")
		}
		return tg.addNode(node{kind: nNumber}), nil
	case "boolean":
		return tg.litNode([]any{true, false})
	case "null":
		return tg.litNode([]any{nil})
	case "array":
		items := tg.anyN
		noItems := false
		if p.Items != nil {
			var err error
			if items, err = tg.compile(p.Items, level+1); errors.Is(err, errNoValue) {
				items, noItems = tg.anyN, true // only the empty array
			} else if err != nil {
				return 0, err
			}
		}
		n := node{kind: nArray, sub: items, min: int32(p.MinItems), max: maxArrayLen}
		if noItems {
			n.max = 0
		}
		if p.MaxItems != nil {
			n.max = int32(min(*p.MaxItems, maxArrayLen))
		}
		if n.min > n.max {
			return 0, fmt.Errorf("minItems %d is more than the decoder writes (%d)", p.MinItems, n.max)
		}
		return tg.addNode(n), nil
	case "object":
		if p.Properties == nil { // any object: keys start only where a value still fits (feedObject)
			tg.objs = append(tg.objs, objNode{open: true, val: tg.anyN})
			return tg.addNode(node{kind: nObject, sub: int32(len(tg.objs) - 1)}), nil
		}
		if len(p.Properties) > maxKeys {
			return 0, fmt.Errorf("%d properties, the decoder takes at most %d per object", len(p.Properties), maxKeys)
		}
		var o objNode
		seen := map[string]bool{}
		for i := range p.Properties {
			q := &p.Properties[i]
			if seen[q.Name] {
				return 0, fmt.Errorf("property %q declared twice", q.Name)
			}
			seen[q.Name] = true
			v, err := tg.compile(q, level+1)
			if errors.Is(err, errNoValue) && !q.Required {
				continue // a property no value satisfies is never written
			}
			if err != nil {
				return 0, fmt.Errorf("%s: %w", q.Name, err)
			}
			k := appendEsc(nil, q.Name)
			if q.Required {
				o.required |= 1 << len(o.keys)
			}
			o.keys = append(o.keys, append(k, '"'))
			o.vals = append(o.vals, v)
		}
		tg.objs = append(tg.objs, o)
		return tg.addNode(node{kind: nObject, sub: int32(len(tg.objs) - 1)}), nil
	}
	return 0, fmt.Errorf("unknown type %q", p.Type)
}

// errNoValue: a schema no value satisfies (an empty enum). Such an optional property is never
// written and such array items leave only the empty array; elsewhere it is unsupported.
var errNoValue = errors.New("no value satisfies the schema")

// intBounds turns inclusive JSON-number bounds into int64 bounds for integers, exactly
// (toolspec.Decimal: a float64 reading drops 1e999999, turns 1e-999999 into 0 and rounds
// 2^53+1, so the grammar would admit integers the validator refuses).
func intBounds(minS, maxS string) (int64, int64, error) {
	const limit = 1e17 // well inside maxIntLen digits
	lo, hi := int64(-limit), int64(limit)
	if minS != "" {
		d, ok := toolspec.ParseDecimal(minS)
		if !ok {
			return 0, 0, fmt.Errorf("minimum %q is not a number", minS)
		}
		switch v, sat := d.Round(true); {
		case sat > 0:
			return 0, 0, fmt.Errorf("minimum %s is more than the decoder writes", minS)
		case sat == 0:
			lo = max(lo, v)
		}
	}
	if maxS != "" {
		d, ok := toolspec.ParseDecimal(maxS)
		if !ok {
			return 0, 0, fmt.Errorf("maximum %q is not a number", maxS)
		}
		switch v, sat := d.Round(false); {
		case sat < 0:
			return 0, 0, fmt.Errorf("maximum %s is less than the decoder writes", maxS)
		case sat == 0:
			hi = min(hi, v)
		}
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("no integer the decoder writes lies between minimum and maximum")
	}
	return lo, hi, nil
}

// union compiles alternatives into one node dispatched on the first byte: literal
// alternatives (enum, const, boolean, null) merge into one trie, and two structural
// alternatives of one class merge when one contains the other (anyOf only). Anything else
// is unsupported, so that the grammar never admits a value the validator refuses.
func (tg *Tool) union(alts []*toolspec.Param, oneOf bool, level int) (int32, error) {
	var lits []any
	var nodes []int32
	for _, a := range alts {
		switch {
		case a.Enum != nil:
			lits = append(lits, a.Enum...)
		case a.AnyOf == nil && len(a.Types) == 0 && a.Type == "boolean":
			lits = append(lits, true, false)
		case a.AnyOf == nil && len(a.Types) == 0 && a.Type == "null":
			lits = append(lits, nil)
		default:
			n, err := tg.compile(a, level)
			if errors.Is(err, errNoValue) {
				continue // an alternative without values adds none
			}
			if err != nil {
				return 0, err
			}
			if tg.nodes[n].kind == nAny && !oneOf {
				return tg.anyN, nil
			}
			nodes = append(nodes, n)
		}
	}
	var u node
	u.kind = nUnion
	for i := range u.alt {
		u.alt[i] = -1
	}
	for _, n := range nodes {
		for cls, m := range tg.classes(n) {
			if m < 0 {
				continue
			}
			if prev := u.alt[cls]; prev >= 0 && prev != m {
				merged, ok := tg.mergeStructural(prev, m)
				if !ok || oneOf {
					return 0, fmt.Errorf("alternatives overlap (both admit values starting %q)", classStart[cls])
				}
				u.alt[cls] = merged
				continue
			}
			u.alt[cls] = m
		}
	}
	var keep []any
	seen := map[string]bool{}
	for _, v := range lits {
		w := appendWire(wireLit{}, v)
		if seen[string(w.b)] {
			if oneOf {
				return 0, fmt.Errorf("value %s appears in two alternatives of oneOf", w.b)
			}
			continue
		}
		seen[string(w.b)] = true
		cls := classOf(w.b[0])
		if m := u.alt[cls]; m >= 0 {
			if oneOf || !tg.admitsLiteral(m, v) {
				return 0, fmt.Errorf("literal %s overlaps another alternative", w.b)
			}
			continue // the structural alternative admits it already
		}
		keep = append(keep, v)
	}
	if len(keep) > 0 {
		ln, err := tg.litNode(keep)
		if err != nil {
			return 0, err
		}
		for _, v := range keep {
			u.alt[classOf(appendWire(wireLit{}, v).b[0])] = ln
		}
	}
	// One node behind every used class: that node itself.
	var only int32 = -1
	for _, m := range u.alt {
		switch {
		case m < 0:
		case only < 0:
			only = m
		case only != m:
			return tg.addNode(u), nil
		}
	}
	if only < 0 {
		return 0, errNoValue
	}
	return only, nil
}

var classStart = [numClasses]string{`"`, "0", "t", "f", "n", "[", "{"}

// classes maps each value class a node admits to the node handling it.
func (tg *Tool) classes(n int32) [numClasses]int32 {
	var out [numClasses]int32
	for i := range out {
		out[i] = -1
	}
	nd := &tg.nodes[n]
	switch nd.kind {
	case nAny, nUnion:
		return nd.alt
	case nString:
		out[clsString] = n
	case nInteger, nNumber:
		out[clsNumber] = n
	case nArray:
		out[clsArray] = n
	case nObject:
		out[clsObject] = n
	case nLit:
		for _, e := range tg.trie[nd.sub].edges {
			out[classOf(e.b)] = n
		}
	}
	return out
}

// mergeStructural returns a node admitting exactly the union of a and b when one contains
// the other: unbounded strings, numbers over integers, identical nodes.
func (tg *Tool) mergeStructural(a, b int32) (int32, bool) {
	na, nb := tg.nodes[a], tg.nodes[b]
	switch {
	case na.kind == nString && nb.kind == nString:
		if na.min == 0 && na.max < 0 && (na.free || !nb.free) {
			return a, true
		}
		if nb.min == 0 && nb.max < 0 {
			return b, true
		}
		if na == nb {
			return a, true
		}
	case na.kind == nNumber && (nb.kind == nInteger || nb.kind == nNumber):
		return a, true
	case nb.kind == nNumber && na.kind == nInteger:
		return b, true
	case na.kind == nInteger && nb.kind == nInteger:
		if !na.bounded {
			return a, true
		}
		if !nb.bounded {
			return b, true
		}
	}
	return 0, false
}

// admitsLiteral reports whether structural node n admits the literal v for sure.
func (tg *Tool) admitsLiteral(n int32, v any) bool {
	nd := &tg.nodes[n]
	switch x := v.(type) {
	case string:
		return nd.kind == nString && nd.min == 0 && nd.max < 0
	case json.Number:
		if nd.kind == nNumber {
			return true
		}
		if nd.kind == nInteger && !strings.ContainsAny(string(x), ".eE") {
			i, err := strconv.ParseInt(string(x), 10, 64)
			return err == nil && (!nd.bounded || (i >= nd.lo && i <= nd.hi))
		}
	}
	return false
}

// litNode compiles a literal set (enum, const, boolean, null) into a trie of wire bytes.
func (tg *Tool) litNode(vals []any) (int32, error) {
	ws := make([]wireLit, len(vals))
	for i, v := range vals {
		ws[i] = appendWire(wireLit{}, v)
	}
	root, err := buildTrie(&tg.trie, ws)
	if err != nil {
		return 0, err
	}
	return tg.addNode(node{kind: nLit, sub: root, max: int32(len(vals))}), nil
}

// wireLit is a literal as the model writes it, with the positions of virtual spaces.
type wireLit struct {
	b    []byte
	virt []int
}

// appendWire renders v as the model writes it (train/answer_format.py value_runs): compact
// JSON, strings escaped as Python's json.dumps(ensure_ascii=False), numbers as Python's
// repr, and one virtual space at the start of every string value (not of object keys).
func appendWire(w wireLit, v any) wireLit {
	switch x := v.(type) {
	case string:
		w.b = append(w.b, '"')
		w.virt = append(w.virt, len(w.b))
		w.b = append(w.b, ' ')
		w.b = appendEsc(w.b, x)
		w.b = append(w.b, '"')
	case []any:
		w.b = append(w.b, '[')
		for i, e := range x {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w = appendWire(w, e)
		}
		w.b = append(w.b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w.b = append(w.b, '{')
		for i, k := range keys {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, '"')
			w.b = appendEsc(w.b, k)
			w.b = append(w.b, '"', ':')
			w = appendWire(w, x[k])
		}
		w.b = append(w.b, '}')
	default:
		w.b = toolspec.AppendValue(w.b, v)
	}
	return w
}

// appendEsc appends s JSON-escaped as Python's json.dumps(s, ensure_ascii=False) does,
// without the quotes: the form of names, keys and values in the model's answers.
func appendEsc(b []byte, s string) []byte { return toolspec.AppendEscaped(b, s, false) }

// buildTrie adds a trie of the literals and returns its root. Leaves carry the literal's
// index; each node knows the first byte of its shortest way to an end (the closer's).
func buildTrie(trie *[]tnode, lits []wireLit) (int32, error) {
	root := int32(len(*trie))
	*trie = append(*trie, tnode{leaf: -1})
	for i, w := range lits {
		cur, vi := root, 0
		for j, c := range w.b {
			virt := vi < len(w.virt) && w.virt[vi] == j
			if virt {
				vi++
			}
			next := int32(-1)
			for _, e := range (*trie)[cur].edges {
				if e.b == c {
					next = e.to
					break
				}
			}
			if next < 0 {
				if len(*trie) >= maxTrieNodes {
					return 0, fmt.Errorf("literals longer than the decoder's %d bytes", maxTrieNodes)
				}
				next = int32(len(*trie))
				*trie = append(*trie, tnode{leaf: -1})
				(*trie)[cur].edges = append((*trie)[cur].edges, tedge{b: c, virt: virt, to: next})
			}
			cur = next
		}
		if !(*trie)[cur].end {
			(*trie)[cur].end, (*trie)[cur].leaf = true, int32(i)
		}
	}
	// Children are appended after their parents, so one backward pass sees them first.
	for i := len(*trie) - 1; i >= int(root); i-- {
		t := &(*trie)[i]
		if t.end {
			t.closeN = 0
			continue
		}
		t.closeN = math.MaxInt32
		for _, e := range t.edges {
			if n := (*trie)[e.to].closeN + 1; n < t.closeN {
				t.closeN, t.closeB = n, e.b
			}
		}
	}
	return root, nil
}
