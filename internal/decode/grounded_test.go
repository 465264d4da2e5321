package decode

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/grammar"
)

// Copy candidates follow runs of the transcript's tokens; closing is offered at word ends.
func TestCopyStateCandidates(t *testing.T) {
	// Token bytes: 10=" set" 11=" a" 12=" timer" 13="mer" 14=" ti" 20=" x"
	vb := make([][]byte, 32)
	for id, b := range map[int]string{10: " set", 11: " a", 12: " timer", 13: "mer", 14: " ti", 20: " x"} {
		vb[id] = []byte(b)
	}
	q := []int32{10, 11, 14, 13, 11} // " set a ti mer a"
	var c copyState
	c.reset(q, vb, " set a timer a ")

	cands, canClose, _ := c.candidates(true)
	if want := []int32{10, 11, 14, 11}; !slices.Equal(cands, want) || canClose {
		t.Fatalf("at start: %v %v, want word starts %v and no close", cands, canClose, want)
	}
	c.step(14, true, 2) // " ti": a word start of the transcript
	if !c.started || !c.copying {
		t.Fatal("value starting with a transcript word is a copy")
	}
	cands, canClose, wordEnd := c.candidates(false)
	if !slices.Equal(cands, []int32{13}) || canClose || wordEnd {
		t.Fatalf("after ' ti': %v %v, want [13] and no close (mid-word)", cands, canClose)
	}
	c.step(13, false, 3)
	cands, canClose, wordEnd = c.candidates(false)
	if !slices.Equal(cands, []int32{11}) || !canClose || !wordEnd {
		t.Fatalf("after ' ti mer': %v %v, want [11] and close", cands, canClose)
	}
	c.step(20, false, 2) // leaves the transcript
	if c.copying {
		t.Fatal("a token off the transcript ends the copy")
	}
	if cands, canClose, _ = c.candidates(false); len(cands) != 0 || canClose {
		t.Fatalf("not copying: %v %v", cands, canClose)
	}
	c.endValue()
	c.step(20, true, 2) // a value that does not start as a copy is free
	if c.started || c.copying {
		t.Fatal("non-copy start must stay free")
	}
}

func TestParseGrounding(t *testing.T) {
	for in, want := range map[string]Grounding{
		"off":                  {Mode: GroundOff, Bonus: DefaultGrounding.Bonus, set: true},
		"bonus:3":              {Mode: GroundBonus, Bonus: 3, set: true},
		"span":                 {Mode: GroundSpan, Bonus: DefaultGrounding.Bonus, set: true},
		"span:0.5":             {Mode: GroundSpan, Bonus: 0.5, set: true},
		"bonus:2,strings":      {Mode: GroundBonus, Bonus: 2, StringsOnly: true, set: true},
		"span,repeats,strings": {Mode: GroundSpan, Bonus: DefaultGrounding.Bonus, StringsOnly: true, AnyRepeat: true, set: true},
		"default":              DefaultGrounding,
		"bonus,partial":        {Mode: GroundBonus, Bonus: DefaultGrounding.Bonus, Partial: true, set: true},
	} {
		got, err := ParseGrounding(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"spam", "bonus:x", "span:-1", "bonus:1000", "off,strings", "bonus,nums", ",strings", "bonus,strings,strings", "bonus,", "off,partial", "span,partial", "bonus,partial,partial"} {
		if _, err := ParseGrounding(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Whatever the weights, every mode gives schema-valid answers, free string values stay
// within the transcript's length plus slack, and no call is repeated.
func TestGroundedDecodingBounded(t *testing.T) {
	m := randomModel(t, 7)
	tools := mustTools(t, `[{"name":"note","description":"Save a note.","parameters":{"text":{"type":"string","required":true},"tags":{"type":"array","items":{"type":"string"}}}},
{"name":"timer","description":"Start a timer.","parameters":{"minutes":{"type":"integer","required":true},"label":{"type":"string"}}}]`)
	queries := []string{"note buy milk", "set a timer for ten minutes called pasta", "x", "remember that the kitchen light is broken", "timer 12 minutes, no 1,250 or -3.5 or 99999999999999999999999"}
	for _, mode := range []string{"off", "bonus:4", "bonus:4,partial", "span:2", "span:50", "bonus:50", "bonus:4,strings"} {
		gr, err := ParseGrounding(mode)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			res, err := m.Decode(context.Background(), Request{Query: q, Tools: mustPrepare(t, tools), Grounding: gr})
			if err != nil {
				t.Fatalf("%s %q: %v", mode, q, err)
			}
			seen := map[string]bool{}
			for _, c := range res.Calls {
				checkCall(t, tools, c, res.Raw)
				key := c.Name + string(c.Arguments)
				if seen[key] {
					t.Errorf("%s %q: repeated call %s", mode, q, res.Raw)
				}
				seen[key] = true
				var args map[string]any
				if err := json.Unmarshal(c.Arguments, &args); err != nil {
					t.Fatal(err)
				}
				for k, v := range args {
					if s, ok := v.(string); ok && len(s) > len(q)+freeValueSlack {
						t.Errorf("%s %q: value %s is %d bytes, over %d", mode, q, k, len(s), len(q)+freeValueSlack)
					}
				}
			}
		}
	}
}

// Number literals are read from the transcript as a user wrote them, in digits or words.
func TestNumberLiterals(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"base 10 and height 5.5", []string{"10", "5.5"}},
		{"move -3 steps, then 2,500 more", []string{"-3", "2500"}},
		{"pH-7 at 10am on 2024-05-01", []string{"7", "10", "2024", "05", "01"}},
		{"1,23 is not a thousands group; 3. is an integer", []string{"1", "23", "3"}},
		{"ten minutes", []string{"10"}}, // spoken: spokenNumbers
		{"a=1, b=-3, c=2 and the point (-2,-4.5) in [-1; 0]", []string{"1", "-3", "2", "-2", "-4.5", "-1", "0"}},
		{"x 1234567890123456789012345 y 7", []string{"7"}}, // too long to be copied
	} {
		var cs copyState
		cs.numberLiterals(c.text)
		var got []string
		lo := int32(0)
		for _, hi := range cs.numEnds {
			got = append(got, string(cs.nums[lo:hi]))
			lo = hi
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.text, got, c.want)
		}
	}
}

// Candidates extend a transcript number the value matches so far; ending is offered when
// it equals one.
func TestNumberCandidates(t *testing.T) {
	var cs copyState
	cs.numberLiterals("triangle with base 10, height 5 and 15 more, or -1")
	for _, c := range []struct {
		sofar  string
		want   string
		canEnd bool
	}{
		{"", "15-", false},
		{"1", "05", false},
		{"10", "", true},
		{"5", "", true},
		{"57", "", false},
		{"-", "1", false},
		{"2", "", false},
	} {
		got, end := cs.numberCandidates(nil, []byte(c.sofar))
		if string(got) != c.want || end != c.canEnd {
			t.Errorf("after %q: %q end %v, want %q end %v", c.sofar, got, end, c.want, c.canEnd)
		}
	}
	if got := string(numberSoFar([]byte(`{"a":1,"b":-2.5`))); got != "-2.5" {
		t.Errorf("numberSoFar: %q", got)
	}
}

// Whatever the transcript, reading its numbers never panics and stays bounded.
func FuzzNumberLiterals(f *testing.F) {
	for _, s := range []string{"", "1", "-", "1,", "1,000", "2,50", "-3.", ".5", "9,999,999.25 x", "a-1 -2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var cs copyState
		cs.numberLiterals(s)
		if len(cs.numEnds) > maxNumLits {
			t.Fatalf("%d literals", len(cs.numEnds))
		}
		cs.numberCandidates(nil, []byte(s))
	})
}

// A further call of a tool stays only when something from the transcript tells it apart.
func TestGroundedRepeat(t *testing.T) {
	call := func(name, args string) []byte { return []byte(`{"name":"` + name + `","arguments":` + args + `}`) }
	for _, c := range []struct {
		query   string
		earlier [][]byte
		next    []byte
		keep    bool
	}{
		{"weather in Paris and London", [][]byte{call("weather", `{"city":"Paris"}`)}, call("weather", `{"city":"London"}`), true},
		{"weather in Paris and London", [][]byte{call("weather", `{"city":"Paris"}`)}, call("weather", `{"city":"Berlin"}`), false},
		{"triangle with base 10 and height 5", [][]byte{call("area", `{"base":10,"height":5}`)}, call("area", `{"base":0,"height":57}`), false},
		{"timers for 5 and 10 minutes", [][]byte{call("timer", `{"minutes":5}`)}, call("timer", `{"minutes":10.0}`), true},
		{"note milk then call mom", [][]byte{call("note", `{"text":"milk"}`)}, call("call", `{"who":"made up"}`), true}, // another tool
		{"tag a and b", [][]byte{call("tag", `{"t":["a"]}`)}, call("tag", `{"t":["B"]}`), true},
		{"triangle with base 10 and height 5 units", [][]byte{call("area", `{"base":5,"height":10,"unit":"x"}`)}, call("area", `{"base":0,"height":5,"unit":"units"}`), false},
		{"hypotenuse of sides 4 and 5", [][]byte{call("hyp", `{"x":4,"y":5}`)}, call("hyp", `{"x":5,"y":4}`), false}, // nothing new
		{"book 2 rooms in Rome and 3 in Oslo", [][]byte{call("book", `{"n":2,"city":"Rome"}`)}, call("book", `{"n":3,"city":"Oslo"}`), true},
		{"x", [][]byte{call("f", `{"a":1}`), call("g", `{}`)}, call("f", `{"a":1,"b":"  "}`), false}, // blank strings are not grounded
		// Closed choices (here the keys "lock" and "cmd") are the schema's, not the transcript's.
		{"lock the garage, then unlock it", [][]byte{call("lock", `{"lock":true,"door":"garage"}`)}, call("lock", `{"lock":false,"door":"garage"}`), true},
		{"previous track then skip", [][]byte{call("media", `{"cmd":"previous"}`)}, call("media", `{"cmd":"next"}`), true},
		{"previous track then skip", [][]byte{call("media", `{"cmd":"previous"}`)}, call("media", `{"cmd":"next","note":"made up"}`), false},
		{"lock the garage", [][]byte{call("lock", `{"lock":true}`)}, call("lock", `{"lock":true,"door":"shed"}`), false}, // "door" is free
		{"two timers", [][]byte{call("media", `{"cmd":"previous"}`)}, call("media", `{"cmd":"previous"}`), false},        // nothing new
		// Another choice for a closed key is new even when another key already holds that value.
		{"lock the garage, then unlock it", [][]byte{call("lock", `{"lock":true,"cmd":false,"door":"garage"}`)}, call("lock", `{"lock":false,"cmd":false,"door":"garage"}`), true},
	} {
		var cs copyState
		cs.numberLiterals(c.query)
		closed := func(k string) bool { return k == "lock" || k == "cmd" }
		if got := cs.groundedRepeat(c.query, c.next, c.earlier, closed); got != c.keep {
			t.Errorf("%q then %s: keep %v, want %v", c.query, c.next, got, c.keep)
		}
	}
}

// The call tracker finds each call object's bytes, and the comma before a further call,
// whatever the phases around them (a span that began at the comma hid every repeated call
// after the first from the duplicate rule).
func TestCallTrackerSpans(t *testing.T) {
	g, err := grammar.CompileAll(mustTools(t, `[{"name":"f","parameters":{"a":{"type":"integer"}}},{"name":"g","parameters":{}}]`))
	if err != nil {
		t.Fatal(err)
	}
	calls := []string{`{"name":"f","arguments":{"a":1}}`, `{"name":"g","arguments":{}}`, `{"name":"f","arguments":{"a":1}}`}
	wire := "[" + strings.Join(calls, ",") + "]"
	var st grammar.State
	var ct callTracker
	var out []byte
	var seps []int
	for i := 0; i < len(wire); i++ {
		prev := st.Phase()
		if !g.Feed(&st, wire[i]) {
			t.Fatalf("refused at %d", i)
		}
		out = append(out, wire[i])
		if ct.fed(prev, st.Phase(), wire[i], len(out)) {
			ct.add(len(out))
			seps = append(seps, ct.sep)
		}
	}
	if ct.n != len(calls) {
		t.Fatalf("%d calls tracked, want %d", ct.n, len(calls))
	}
	for i, c := range calls {
		if got := string(out[ct.calls[i][0]:ct.calls[i][1]]); got != c {
			t.Errorf("call %d: %s, want %s", i, got, c)
		}
	}
	if string(out[:seps[2]]) != "["+calls[0]+","+calls[1] {
		t.Errorf("cut before the third call leaves %s", out[:seps[2]])
	}
}

// Word ends between transcript pieces, by character: spaces and punctuation (ASCII or not),
// letter/digit changes and digit/digit; never inside a character split into byte pieces.
func TestWordBoundaries(t *testing.T) {
	for _, c := range []struct {
		pieces []string
		want   []bool
	}{
		{[]string{" set", " a", " ti", "mer"}, []bool{true, true, true, false}},
		{[]string{" to", " h", "bf", "?"}, []bool{true, true, false, true}},
		{[]string{" at", " ", "3", "pm"}, []bool{true, true, true, true}},           // digits and letters
		{[]string{" ", "5", "5", "5"}, []bool{true, true, true, true}},              // digit pieces
		{[]string{" stra", "\xc3", "\x9f", "e"}, []bool{true, false, false, false}}, // "straße"
		{[]string{" an", "na", "’s"}, []bool{true, false, true}},                    // a curly apostrophe ends a word
		{[]string{" münchen", "–", "pasing"}, []bool{true, true, true}},             // an en dash
		{[]string{" u", "6"}, []bool{true, true}},
		{[]string{" o", "'", "brien"}, []bool{true, true, true}},
	} {
		var text []byte
		var off []int32
		for _, p := range c.pieces {
			off = append(off, int32(len(text)))
			text = append(text, p...)
		}
		if got := wordBoundaries(nil, text, off); !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.pieces, got, c.want)
		}
	}
}

// The copy rule per mode: span keeps a copy on the transcript; bonus (whole words) only
// keeps it there inside a word; partial and off never restrict.
func TestCopyRule(t *testing.T) {
	bonus, span, off := DefaultGrounding, Grounding{Mode: GroundSpan, Bonus: 2, set: true}, Grounding{Mode: GroundOff, set: true}
	partial := bonus
	partial.Partial = true
	for _, c := range []struct {
		name                                          string
		gr                                            Grounding
		atStart, copying, canClose, wordEnd, haveCand bool
		want                                          copyRestriction
	}{
		{"bonus mid-word", bonus, false, true, false, false, true, copyOnly},
		{"bonus at a word end", bonus, false, true, true, true, true, copyFree},
		{"bonus before punctuation", bonus, false, true, false, true, true, copyFree},
		{"bonus at the transcript's end", bonus, false, true, true, true, false, copyFree},
		{"bonus, no continuation", bonus, false, true, false, false, false, copyFree},
		{"bonus, value not a copy", bonus, false, false, false, false, true, copyFree},
		{"bonus, value start", bonus, true, false, false, false, true, copyFree},
		{"partial mid-word", partial, false, true, false, false, true, copyFree},
		{"span mid-word", span, false, true, false, false, true, copyOnly},
		{"span before punctuation", span, false, true, false, true, true, copyOnly},
		{"span at a word start", span, false, true, true, true, true, copyOrClose},
		{"span, value not a copy", span, false, false, false, false, true, copyFree},
		{"off", off, false, true, false, false, true, copyFree},
	} {
		if got := copyRule(c.gr, c.atStart, c.copying, c.canClose, c.wordEnd, c.haveCand); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Before punctuation a copy is at a word end (free to close or go on) but closing earns no
// copy bonus: that stays where the next piece starts a word, as before whole-word copying.
func TestCopyWordEndBeforePunctuation(t *testing.T) {
	vb := make([][]byte, 8)
	for id, b := range map[int]string{1: " to", 2: " h", 3: "bf", 4: "?"} {
		vb[id] = []byte(b)
	}
	var c copyState
	c.reset([]int32{1, 2, 3, 4}, vb, " to hbf?")
	c.step(2, true, 1)
	if _, canClose, wordEnd := c.candidates(false); canClose || wordEnd {
		t.Fatal("' h' is inside 'hbf'")
	}
	c.step(3, false, 2)
	if cands, canClose, wordEnd := c.candidates(false); canClose || !wordEnd || !slices.Equal(cands, []int32{4}) {
		t.Fatalf("after ' hbf': %v close %v word end %v, want [4], no close bonus, a word end", cands, canClose, wordEnd)
	}
}
