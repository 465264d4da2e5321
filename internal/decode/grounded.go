package decode

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Grounded decoding: free string values (no enum) are usually copied from the transcript
// (84% of BFCL simple_python's string answers appear verbatim in the question). With the
// copy-consistent format (internal/grammar) a copied value's tokens are exactly a run of the
// transcript's tokens, so copying can be helped at the token level without a pointer network:
//
//   - bonus: tokens that start a transcript word (at the value's start) or continue a run of
//     the transcript the value has matched so far get +Bonus on their logit; when the value so
//     far ends on a word boundary of such a run, tokens that close the string get it too.
//   - span: as bonus, and once a value has started with a transcript word, it may only
//     continue that run or close (span continuation). A value that does not start as a copy
//     (a time, a code, a rewritten date) is free, so values needing rewriting keep a path.
//
// Numbers get the same bonus: the tokenizer splits digits, so a number copied from the
// transcript is the same digit tokens in the answer ("base 10" -> "base":10). At a number's
// start the first byte of each transcript number gets the bonus, then the byte that extends
// a transcript number the value has matched so far, and the tokens that end the number once it
// equals one ("570" for "5" was a typical miss). Numbers are never restricted (span mode
// included): a spoken "ten" must still become 10.
//
// In every mode a free string value is at most len(transcript)+16 bytes long: longer
// ones were never right and made latency grow with the model's mistakes (issue 10).
// Confidence is computed from the model's own logits, before any bonus.

// GroundMode selects the copy rule for free string values.
type GroundMode uint8

const (
	GroundOff GroundMode = iota
	GroundBonus
	GroundSpan
)

// Grounding configures grounded decoding. The zero value is DefaultGrounding.
type Grounding struct {
	Mode        GroundMode
	Bonus       float32 // logit bonus for copy candidates (GroundBonus, GroundSpan)
	StringsOnly bool    // no bonus for number values (the rule before numbers were grounded)
	// AnyRepeat keeps a further call of an already called tool even when nothing that tells
	// it apart comes from the transcript (see groundedRepeat).
	AnyRepeat bool
	// KeepUnsaid keeps optional free string arguments the transcript does not contain
	// (unsaid.go); by default they are dropped.
	KeepUnsaid bool
	// KeepUnsaidChoices keeps optional string enum values the transcript does not contain
	// (unsaid.go); by default they are dropped too.
	KeepUnsaidChoices bool
	// KeepBare keeps the confidence of a call without arguments that leaves content words
	// of the request unexplained (bare.go); by default it is scaled by bareScale.
	KeepBare bool
	// Partial lets a copied value stop or leave the transcript inside a word (the rule
	// before whole-word copying, below); by default it may not.
	Partial bool
	set     bool
}

// DefaultGrounding is the rule chosen by the ablation in models/README.md.
var DefaultGrounding = Grounding{Mode: GroundBonus, Bonus: 2, set: true}

// ParseGrounding reads "off", "bonus", "bonus:3", "span", "span:2", then optional
// comma-separated options: "strings" leaves number values alone, "repeats" keeps ungrounded
// further calls of a tool, "unsaid" keeps optional free string arguments the transcript does
// not contain (and unsaid choices), "choices" keeps only the optional enum values not said,
// "bare" keeps the confidence of bare calls that leave words unexplained, "partial" lets a
// copy end or stray inside a word ("bonus:2,strings,repeats,unsaid,partial"). "off" takes
// "repeats", "unsaid", "choices" and "bare".
func ParseGrounding(s string) (Grounding, error) {
	g := Grounding{set: true, Bonus: DefaultGrounding.Bonus}
	spec, opts, hasOpt := strings.Cut(s, ",")
	if hasOpt {
		for _, o := range strings.Split(opts, ",") {
			switch {
			case o == "strings" && !g.StringsOnly:
				g.StringsOnly = true
			case o == "repeats" && !g.AnyRepeat:
				g.AnyRepeat = true
			case o == "unsaid" && !g.KeepUnsaid:
				g.KeepUnsaid = true
			case o == "bare" && !g.KeepBare:
				g.KeepBare = true
			case o == "choices" && !g.KeepUnsaidChoices:
				g.KeepUnsaidChoices = true
			case o == "partial" && !g.Partial:
				g.Partial = true
			default:
				return g, errGrounding(s)
			}
		}
	}
	mode, arg, hasArg := strings.Cut(spec, ":")
	switch mode {
	case "", "default":
		if hasOpt {
			return g, errGrounding(s)
		}
		return DefaultGrounding, nil
	case "off":
		if g.StringsOnly || g.Partial {
			return g, errGrounding(s)
		}
		g.Mode = GroundOff
	case "bonus":
		g.Mode = GroundBonus
	case "span":
		if g.Partial { // span keeps every copy on the transcript: nothing to relax
			return g, errGrounding(s)
		}
		g.Mode = GroundSpan
	default:
		return g, errGrounding(s)
	}
	if hasArg {
		b, err := strconv.ParseFloat(arg, 32)
		if err != nil || b < 0 || b > 100 {
			return g, errGrounding(s)
		}
		g.Bonus = float32(b)
	}
	return g, nil
}

func (g Grounding) orDefault() Grounding {
	if !g.set {
		return DefaultGrounding
	}
	return g
}

// freeValueSlack is how many bytes a free string value may exceed the transcript by.
const freeValueSlack = 16

// copyState follows the free string value being decoded.
type copyState struct {
	q        []int32 // transcript tokens
	qWord    []bool  // q[i] starts a word (its piece begins with a space)
	qBound   []bool  // a word ends before q[i] (wordBoundaries)
	qText    []byte  // the pieces' bytes, concatenated
	qOff     []int32 // where q[i] starts in qText
	inValue  bool
	started  bool    // the value's first token was a transcript word start
	matched  []int32 // value tokens so far, while they are still a run of q
	copying  bool    // matched is a run of q
	valBytes int
	maxBytes int
	cand     []int32 // scratch: candidate token ids this step

	nums    []byte  // the transcript's number literals, concatenated (thousands commas dropped)
	numEnds []int32 // end offset of each literal in nums
}

// numberLiterals appends the number literals of text to c.nums: an optional minus sign
// (at the start, or after a space or one of =([{,:; as in "b=-3" or "(-2, 5)"; not in
// "pH-7" or "2024-05-01"), digits with optional thousands commas ("2,500" ->
// "2500") and an optional fraction ("5.5"), then the numbers it speaks ("seventy four" ->
// "74": spokenNumbers). At most maxNumLits literals are kept.
func (c *copyState) numberLiterals(text string) {
	c.nums, c.numEnds = c.nums[:0], c.numEnds[:0]
	isD := func(i int) bool { return i < len(text) && text[i] >= '0' && text[i] <= '9' }
	for i := 0; i < len(text) && len(c.numEnds) < maxNumLits; {
		if !isD(i) || (i > 0 && (isD(i-1) || text[i-1] == '.')) {
			i++
			continue
		}
		start := len(c.nums)
		if i > 0 && text[i-1] == '-' && (i == 1 || strings.IndexByte(" =([{,:;", text[i-2]) >= 0) {
			c.nums = append(c.nums, '-')
		}
		for isD(i) || (i < len(text) && text[i] == ',' && isD(i+1) && isD(i+2) && isD(i+3) && !isD(i+4)) {
			if text[i] != ',' {
				c.nums = append(c.nums, text[i])
			}
			i++
		}
		if i+1 < len(text) && text[i] == '.' && isD(i+1) {
			c.nums = append(c.nums, '.')
			for i++; isD(i); i++ {
				c.nums = append(c.nums, text[i])
			}
		}
		if len(c.nums)-start > maxNumLitLen {
			c.nums = c.nums[:start]
			continue
		}
		c.numEnds = append(c.numEnds, int32(len(c.nums)))
	}
	spokenNumbers(text, func(lit []byte) bool {
		if len(c.numEnds) >= maxNumLits {
			return false
		}
		if len(lit) <= maxNumLitLen {
			c.nums = append(c.nums, lit...)
			c.numEnds = append(c.numEnds, int32(len(c.nums)))
		}
		return true
	})
}

// numberCandidates returns the bytes that extend a transcript number literal of which the
// number so far (sofar) is a prefix, and whether sofar equals one (so ending it copies).
// The bytes go to dst, deduplicated.
func (c *copyState) numberCandidates(dst []byte, sofar []byte) ([]byte, bool) {
	canEnd := false
	lo := int32(0)
	for _, hi := range c.numEnds {
		lit := c.nums[lo:hi]
		lo = hi
		if len(lit) < len(sofar) || string(lit[:len(sofar)]) != string(sofar) {
			continue
		}
		if len(lit) == len(sofar) {
			canEnd = true
			continue
		}
		b := lit[len(sofar)]
		dup := false
		for _, x := range dst {
			dup = dup || x == b
		}
		if !dup {
			dst = append(dst, b)
		}
	}
	return dst, canEnd
}

const (
	maxNumLits   = 64 // transcript numbers considered
	maxNumLitLen = 24 // longer digit runs are not numbers anyone copies into a call
)

// numberSoFar is the number being decoded: the trailing run of number bytes of out.
func numberSoFar(out []byte) []byte {
	i := len(out)
	for i > 0 {
		b := out[i-1]
		if !(b >= '0' && b <= '9' || b == '-' || b == '.' || b == '+' || b == 'e' || b == 'E') {
			break
		}
		i--
	}
	return out[i:]
}

func (c *copyState) reset(q []int32, vb [][]byte, query string) {
	queryBytes := len(query)
	c.numberLiterals(query)
	c.q = q
	c.qWord = c.qWord[:0]
	c.qText = c.qText[:0]
	c.qOff = c.qOff[:0]
	for _, id := range q {
		b := vb[id]
		c.qWord = append(c.qWord, len(b) > 0 && b[0] == ' ')
		c.qOff = append(c.qOff, int32(len(c.qText)))
		c.qText = append(c.qText, b...)
	}
	c.qBound = wordBoundaries(c.qBound[:0], c.qText, c.qOff)
	c.inValue, c.started, c.copying = false, false, false
	c.matched = c.matched[:0]
	c.valBytes = 0
	c.maxBytes = queryBytes + freeValueSlack
}

// candidates returns the token ids that copy from the transcript at this point, whether
// closing the string continues a copy (the run so far ends before a transcript piece that
// starts a word, or at its end: the copy bonus for closing and span mode's close), and
// whether the run ends where a word does (wordBoundaries: whole-word copying).
func (c *copyState) candidates(atStart bool) (cands []int32, canClose, wordEnd bool) {
	c.cand = c.cand[:0]
	if atStart {
		for i, id := range c.q {
			if c.qWord[i] {
				c.cand = append(c.cand, id)
			}
		}
		return c.cand, false, false
	}
	if !c.copying {
		return c.cand, false, false
	}
	k := len(c.matched)
	for j := 0; j+k <= len(c.q); j++ {
		if !runEqual(c.q[j:j+k], c.matched) {
			continue
		}
		if j+k == len(c.q) {
			canClose, wordEnd = true, true
			continue
		}
		canClose = canClose || c.qWord[j+k]
		wordEnd = wordEnd || c.qBound[j+k]
		c.cand = append(c.cand, c.q[j+k])
	}
	return c.cand, canClose, wordEnd
}

// Whole-word copying. A value that began by copying a transcript word may only end, or
// turn away from the transcript, where a word ends: mid-word it continues the run it copies.
// A rare word is many small pieces ("hohenlindenerstraße" is 9), and a small model loses
// its place among them: fine-tuned on Munich transit, it answered "hohenlind", "neufah
// glasses" and "hacker of hacker of hackerSearch" for station names it had begun to copy
// right (reports/finetune/braun.md). At a word end the value is free again, so a copy can
// still be cut short, extended or rewritten word by word ("5 pm" -> "5:00 PM").

// copyRestriction is what a grounding rule allows at one step of a free string value.
type copyRestriction uint8

const (
	copyFree    copyRestriction = iota // any token the grammar allows (with the copy bonus)
	copyOnly                           // only tokens that continue the copied run
	copyOrClose                        // those, or closing the string
)

// copyRule decides the step's restriction: span mode keeps a value that began as a copy on
// the transcript (closing where the next transcript piece starts a word); otherwise, unless
// gr.Partial, a copy inside a word must go on with it (whole-word copying). copying: the
// value began with a transcript word and is still a run of it; canClose: the run ends
// before a word start; wordEnd: it ends where a word does (wordBoundaries); haveCands: some
// token continues the run.
func copyRule(gr Grounding, atStart, copying, canClose, wordEnd, haveCands bool) copyRestriction {
	switch {
	case gr.Mode == GroundOff || atStart || !copying:
		return copyFree
	case gr.Mode == GroundSpan && canClose:
		return copyOrClose
	case gr.Mode == GroundSpan:
		return copyOnly
	case !gr.Partial && !wordEnd && haveCands:
		return copyOnly
	}
	return copyFree
}

// wordBoundaries appends to dst, for each transcript piece (starting at off[i] in text, the
// pieces' bytes concatenated), whether a word ends before it: at the text's start, between
// two characters of which one is neither letter, digit nor mark (a space, "?", "’", "–"),
// between a letter and a digit ("5" | "pm"), and between two digits, which are pieces of
// their own, so a copied number stays free to take separators ("555-1234"). A piece that
// starts inside a character (byte fallback: "stra" "\xc3" "\x9f" "e") never starts a word.
func wordBoundaries(dst []bool, text []byte, off []int32) []bool {
	for _, o := range off {
		if o == 0 || int(o) >= len(text) {
			dst = append(dst, true)
			continue
		}
		if !utf8.RuneStart(text[o]) {
			dst = append(dst, false)
			continue
		}
		a, _ := utf8.DecodeLastRune(text[:o])
		b, _ := utf8.DecodeRune(text[o:])
		wa, wb := wordRune(a), wordRune(b)
		da, db := unicode.IsDigit(a), unicode.IsDigit(b)
		dst = append(dst, !wa || !wb || da != db || (da && db))
	}
	return dst
}

// wordRune reports whether r belongs to a word: a letter, digit or mark. A byte that does
// not decode (a character split across pieces) counts as part of a word.
func wordRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// step records the chosen token: start is true when it began the value (it carries the
// virtual space), n is the number of content bytes it added.
func (c *copyState) step(tok int32, start bool, n int) {
	if start {
		c.inValue = true
		c.matched = append(c.matched[:0], tok)
		c.copying = false
		for i, id := range c.q {
			if id == tok && c.qWord[i] {
				c.copying = true
				break
			}
		}
		c.started = c.copying
		c.valBytes = n
		return
	}
	c.valBytes += n
	if c.copying {
		c.matched = append(c.matched, tok)
		c.copying = c.isRun(c.matched)
	}
}

func (c *copyState) endValue() {
	c.inValue, c.started, c.copying = false, false, false
	c.matched = c.matched[:0]
	c.valBytes = 0
}

func (c *copyState) isRun(v []int32) bool {
	for j := 0; j+len(v) <= len(c.q); j++ {
		if runEqual(c.q[j:j+len(v)], v) {
			return true
		}
	}
	return false
}

func runEqual(a, b []int32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// groundedRepeat reports whether call, the compact JSON of a finished call, may follow the
// earlier calls (each the compact JSON of one call). A further call of a tool already
// called must earn its place against each earlier call of that tool: every argument that
// differs must come from the transcript (a string found in it, case-insensitively, or one
// of its number literals, in digits or words) or be a closed choice of the schema
// (closed(key): a boolean, const or short enum, which the transcript words rather than
// spells: "lock the garage, then unlock it"), and something must be new: a transcript
// value that call did not already use, or another closed choice for its key. "weather in
// Paris and London" keeps its second call ("London" is in the transcript and new); a
// second triangle_area with base 0 for "base 10 and height 5" is the model repeating itself
// with made-up values (20% of BFCL simple_python's items were lost to such calls) and ends
// the answer. closed may be nil (no closed choices). It runs once per finished call, not
// per token.
func (c *copyState) groundedRepeat(query string, call []byte, earlier [][]byte, closed func(key string) bool) bool {
	type callJSON struct {
		Name      string                     `json:"name"`
		Arguments map[string]json.RawMessage `json:"arguments"`
	}
	var cur callJSON
	if json.Unmarshal(call, &cur) != nil {
		return true
	}
	for _, e := range earlier {
		var prev callJSON
		if json.Unmarshal(e, &prev) != nil || prev.Name != cur.Name {
			continue
		}
		used := map[string]bool{}
		for _, v := range prev.Arguments {
			used[string(v)] = true
		}
		fresh := false
		for k, v := range cur.Arguments {
			if pv, ok := prev.Arguments[k]; ok && string(pv) == string(v) {
				continue
			}
			switch {
			case c.grounded(query, v):
				fresh = fresh || !used[string(v)]
			case closed != nil && closed(k):
				fresh = true // another choice for this key ("lock" false after true)
			default:
				return false
			}
		}
		if !fresh {
			return false
		}
	}
	return true
}

// grounded reports whether a JSON value comes from the transcript: a non-empty string
// contained in it (case-insensitively), a number among its number literals, or an array
// with such an item.
func (c *copyState) grounded(query string, v json.RawMessage) bool {
	switch {
	case len(v) == 0:
		return false
	case v[0] == '"':
		var s string
		return json.Unmarshal(v, &s) == nil && strings.TrimSpace(s) != "" &&
			strings.Contains(strings.ToLower(query), strings.ToLower(strings.TrimSpace(s)))
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		lo := int32(0)
		for _, hi := range c.numEnds {
			if numEqual(c.nums[lo:hi], v) {
				return true
			}
			lo = hi
		}
	case v[0] == '[':
		var items []json.RawMessage
		if json.Unmarshal(v, &items) == nil {
			for _, it := range items {
				if c.grounded(query, it) {
					return true
				}
			}
		}
	}
	return false
}

// numEqual compares two number literals by value ("5" and "5.0" are one number).
func numEqual(a, b []byte) bool {
	x, err1 := strconv.ParseFloat(string(a), 64)
	y, err2 := strconv.ParseFloat(string(b), 64)
	return err1 == nil && err2 == nil && x == y
}

func errGrounding(s string) error {
	return fmt.Errorf("decode: grounding %q: want off, bonus[:B] or span[:B] with 0 <= B <= 100, then optional ,strings, ,repeats, ,unsaid, ,choices, ,bare and (bonus only) ,partial", s)
}
