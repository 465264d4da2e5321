package decode

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/grammar"
)

const priorTools = `[{"name":"set_timer","description":"t","parameters":{"minutes":{"type":"integer","required":true}}},
	{"name":"set_alarm","description":"a","parameters":{"time":{"type":"string","required":true}}},
	{"name":"play","description":"p","parameters":{}}]`

// The prior mass under a name prefix is the sum over the tools it may still become.
func TestToolPriorMasses(t *testing.T) {
	g, err := grammar.CompileAll(mustTools(t, priorTools))
	if err != nil {
		t.Fatal(err)
	}
	s := &scratch{}
	lp := []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.2))}
	if err := s.setToolPrior(g, lp); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		p, u   float64
	}{
		{`[{"name":"`, 1, 1},
		{`[{"name":"set_`, 0.8, 2.0 / 3},
		{`[{"name":"set_t`, 0.5, 1.0 / 3},
		{`[{"name":"pl`, 0.2, 1.0 / 3},
	} {
		var st grammar.State
		for _, c := range []byte(tc.prefix) {
			if !g.Feed(&st, c) {
				t.Fatalf("%s rejected", tc.prefix)
			}
		}
		p, u := s.nameMassAt(&st, false)
		if math.Abs(p-tc.p) > 1e-6 || math.Abs(u-tc.u) > 1e-6 {
			t.Errorf("%s: mass %v uniform %v, want %v %v", tc.prefix, p, u, tc.p, tc.u)
		}
	}
	for _, bad := range [][]float32{{0, 0}, {0, float32(math.NaN()), 0}, {0, float32(math.Inf(1)), 0},
		{float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))}} {
		if err := s.setToolPrior(g, bad); err == nil {
			t.Errorf("prior %v accepted", bad)
		}
	}
}

// A decisive prior decides which tool the first call names; a uniform one changes nothing.
func TestToolPriorSteersTheName(t *testing.T) {
	m := randomModel(t, 11)
	tools := mustTools(t, priorTools)
	calls := 0
	for i := 0; i < 12; i++ {
		q := fmt.Sprintf("please do thing number %d now", i)
		plain, err := m.Decode(context.Background(), Request{Query: q, Tools: mustPrepare(t, tools)})
		if err != nil {
			t.Fatal(err)
		}
		uni, err := m.Decode(context.Background(), Request{Query: q, Tools: mustPrepare(t, tools), ToolPrior: []float32{3, 3, 3}})
		if err != nil {
			t.Fatal(err)
		}
		if uni.Raw != plain.Raw {
			t.Errorf("%q: a uniform prior changed the answer: %s vs %s", q, uni.Raw, plain.Raw)
		}
		for want := range tools {
			lp := make([]float32, len(tools))
			lp[want] = 80
			res, err := m.Decode(context.Background(), Request{Query: q, Tools: mustPrepare(t, tools), ToolPrior: lp})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Calls) > 0 {
				calls++
				if c := res.Calls[0]; c.Name != tools[want].Name {
					t.Errorf("%q: prior on %s, first call %s: %s", q, tools[want].Name, c.Name, res.Raw)
				}
			}
		}
	}
	if calls == 0 {
		t.Fatal("the random model never called a tool: the test checks nothing")
	}
	if _, err := m.Decode(context.Background(), Request{Query: "x", Tools: mustPrepare(t, tools), ToolPrior: []float32{1}}); err == nil || !strings.Contains(err.Error(), "prior") {
		t.Errorf("a prior of the wrong length: %v", err)
	}
}

// A name that is a prefix of another ("set", "set_timer") is told apart by its closing
// quote: the masses under the shared prefix and after it are each tool's own.
func TestToolPriorPrefixNames(t *testing.T) {
	g, err := grammar.CompileAll(mustTools(t, `[{"name":"set","description":"s"},{"name":"set_timer","description":"t"},{"name":"settle","description":"u"}]`))
	if err != nil {
		t.Fatal(err)
	}
	s := &scratch{}
	if err := s.setToolPrior(g, []float32{float32(math.Log(0.2)), float32(math.Log(0.5)), float32(math.Log(0.3))}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		p      float64
	}{{`[{"name":"set`, 1}, {`[{"name":"set_`, 0.5}, {`[{"name":"sett`, 0.3}} {
		var st grammar.State
		for _, c := range []byte(tc.prefix) {
			if !g.Feed(&st, c) {
				t.Fatalf("%s rejected", tc.prefix)
			}
		}
		if p, _ := s.nameMassAt(&st, false); math.Abs(p-tc.p) > 1e-6 {
			t.Errorf("%s: mass %v, want %v", tc.prefix, p, tc.p)
		}
	}
	var st grammar.State
	for _, c := range []byte(`[{"name":"set"`) {
		g.Feed(&st, c)
	}
	if p, u := s.nameMassAt(&st, true); math.Abs(p-0.2) > 1e-6 || math.Abs(u-1.0/3) > 1e-6 {
		t.Errorf(`after "set": mass %v uniform %v, want 0.2 1/3`, p, u)
	}
}

// A strong call prior decides whether the answer calls a tool at all; a non-finite one is an
// error.
func TestCallPrior(t *testing.T) {
	m := randomModel(t, 11)
	tools := mustTools(t, priorTools)
	for i := 0; i < 8; i++ {
		q := fmt.Sprintf("query number %d", i)
		none, err := m.Decode(context.Background(), Request{Query: q, Tools: mustPrepare(t, tools), CallPrior: -60})
		if err != nil {
			t.Fatal(err)
		}
		if len(none.Calls) != 0 {
			t.Errorf("%q: call prior -60 still called: %s", q, none.Raw)
		}
		some, err := m.Decode(context.Background(), Request{Query: q, Tools: mustPrepare(t, tools), CallPrior: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(some.Calls) == 0 {
			t.Errorf("%q: call prior +60 made no call: %s", q, some.Raw)
		}
	}
	if _, err := m.Decode(context.Background(), Request{Query: "x", Tools: mustPrepare(t, tools), CallPrior: float32(math.Inf(1))}); err == nil {
		t.Error("an infinite call prior was accepted")
	}
}
