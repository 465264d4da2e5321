package needle

import (
	"fmt"
	"strconv"
	"strings"
)

// Grounded decoding: free string values (no enum) are usually copied from the transcript
// (84% of BFCL simple_python's string answers appear verbatim in the question). With the
// copy-consistent format (grammar.go) a copied value's tokens are exactly a run of the
// transcript's tokens, so copying can be helped at the token level without a pointer network:
//
//   - bonus: tokens that start a transcript word (at the value's start) or continue a run of
//     the transcript the value has matched so far get +Bonus on their logit; when the value so
//     far ends on a word boundary of such a run, tokens that close the string get it too.
//   - span: as bonus, and once a value has started with a transcript word, it may only
//     continue that run or close (span continuation). A value that does not start as a copy
//     (a time, a code, a rewritten date) is free, so values needing rewriting keep a path.
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
	Mode  GroundMode
	Bonus float32 // logit bonus for copy candidates (GroundBonus, GroundSpan)
	set   bool
}

// DefaultGrounding is the rule chosen by the ablation in models/README.md.
var DefaultGrounding = Grounding{Mode: GroundBonus, Bonus: 2, set: true}

// ParseGrounding reads "off", "bonus", "bonus:3", "span", "span:2".
func ParseGrounding(s string) (Grounding, error) {
	g := Grounding{set: true, Bonus: DefaultGrounding.Bonus}
	mode, arg, hasArg := strings.Cut(s, ":")
	switch mode {
	case "", "default":
		return DefaultGrounding, nil
	case "off":
		g.Mode = GroundOff
	case "bonus":
		g.Mode = GroundBonus
	case "span":
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
	inValue  bool
	started  bool    // the value's first token was a transcript word start
	matched  []int32 // value tokens so far, while they are still a run of q
	copying  bool    // matched is a run of q
	valBytes int
	maxBytes int
	cand     []int32 // scratch: candidate token ids this step
}

func (c *copyState) reset(q []int32, vb [][]byte, queryBytes int) {
	c.q = q
	c.qWord = c.qWord[:0]
	for _, id := range q {
		b := vb[id]
		c.qWord = append(c.qWord, len(b) > 0 && b[0] == ' ')
	}
	c.inValue, c.started, c.copying = false, false, false
	c.matched = c.matched[:0]
	c.valBytes = 0
	c.maxBytes = queryBytes + freeValueSlack
}

// candidates returns the token ids that copy from the transcript at this point and whether
// closing the string continues a copy (the value so far ends on a word boundary).
func (c *copyState) candidates(atStart bool) ([]int32, bool) {
	c.cand = c.cand[:0]
	if atStart {
		for i, id := range c.q {
			if c.qWord[i] {
				c.cand = append(c.cand, id)
			}
		}
		return c.cand, false
	}
	if !c.copying {
		return c.cand, false
	}
	k := len(c.matched)
	canClose := false
	for j := 0; j+k <= len(c.q); j++ {
		if !runEqual(c.q[j:j+k], c.matched) {
			continue
		}
		if j+k == len(c.q) || c.qWord[j+k] {
			canClose = true
		}
		if j+k < len(c.q) {
			c.cand = append(c.cand, c.q[j+k])
		}
	}
	return c.cand, canClose
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

func errGrounding(s string) error {
	return fmt.Errorf("needle: grounding %q: want off, bonus[:B] or span[:B] with 0 <= B <= 100", s)
}

// valueString reports whether the grammar is inside a free string value of a call's
// arguments (no enum, const, format or length bound; not an object key: see
// freeStringValue) and whether it is at its start, before the virtual leading space.
func (g *grammar) valueString(s *gstate) (in, atStart bool) {
	if s.depth == 0 {
		return false, false
	}
	f := &s.stack[s.depth-1]
	if f.kind != fString || f.node == g.keyStr || !g.nodes[f.node].free {
		return false, false
	}
	return true, f.st == strLead
}
