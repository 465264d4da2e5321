package needle

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
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
	c.reset(q, vb, 15)

	cands, canClose := c.candidates(true)
	if want := []int32{10, 11, 14, 11}; !slices.Equal(cands, want) || canClose {
		t.Fatalf("at start: %v %v, want word starts %v and no close", cands, canClose, want)
	}
	c.step(14, true, 2) // " ti": a word start of the transcript
	if !c.started || !c.copying {
		t.Fatal("value starting with a transcript word is a copy")
	}
	cands, canClose = c.candidates(false)
	if !slices.Equal(cands, []int32{13}) || canClose {
		t.Fatalf("after ' ti': %v %v, want [13] and no close (mid-word)", cands, canClose)
	}
	c.step(13, false, 3)
	cands, canClose = c.candidates(false)
	if !slices.Equal(cands, []int32{11}) || !canClose {
		t.Fatalf("after ' ti mer': %v %v, want [11] and close", cands, canClose)
	}
	c.step(20, false, 2) // leaves the transcript
	if c.copying {
		t.Fatal("a token off the transcript ends the copy")
	}
	if cands, canClose = c.candidates(false); len(cands) != 0 || canClose {
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
		"off":      {Mode: GroundOff, Bonus: DefaultGrounding.Bonus, set: true},
		"bonus:3":  {Mode: GroundBonus, Bonus: 3, set: true},
		"span":     {Mode: GroundSpan, Bonus: DefaultGrounding.Bonus, set: true},
		"span:0.5": {Mode: GroundSpan, Bonus: 0.5, set: true},
		"default":  DefaultGrounding,
	} {
		got, err := ParseGrounding(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"spam", "bonus:x", "span:-1", "bonus:1000"} {
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
	queries := []string{"note buy milk", "set a timer for ten minutes called pasta", "x", "remember that the kitchen light is broken"}
	for _, mode := range []string{"off", "bonus:4", "span:2", "span:50"} {
		gr, err := ParseGrounding(mode)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			res, err := m.Route(context.Background(), Request{Query: q, Tools: tools, Grounding: gr})
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
