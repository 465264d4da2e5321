package needle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

// randomModel builds a tiny model with the shipped tokenizer and seeded random weights, so
// its choices are arbitrary and the grammar alone must keep answers valid.
func randomModel(t testing.TB, seed uint64) *Model {
	t.Helper()
	tok, err := LoadTokenizer(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "random", VocabSize: tok.VocabSize(), DModel: 32, EncLayers: 1, DecLayers: 1, NHeads: 2, NKVHeads: 1,
		HeadDim: 16, RopeTheta: 10000, NormEps: 1e-6, HeadDimContrastive: 16, MaxEncLen: 1024, MaxDecLen: 160}
	r := rand.New(rand.NewPCG(seed, 1))
	ts, shapes := map[string][]float32{}, map[string][]int{}
	add := func(name string, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.5)
		}
		ts[name], shapes[name] = v, shape
	}
	d, q, kv, hd := cfg.DModel, cfg.qDim(), cfg.kvDim(), cfg.HeadDim
	attn := func(p string) {
		add(p+".q", q, d)
		add(p+".k", kv, d)
		add(p+".v", kv, d)
		add(p+".o", d, q)
		add(p+".q_norm", hd)
		add(p+".k_norm", hd)
	}
	add("embed", cfg.VocabSize, d)
	add("enc.0.norm", d)
	add("enc.0.gate", 1)
	attn("enc.0.attn")
	add("enc.norm", d)
	for _, p := range []string{"self", "cross"} {
		add("dec.0."+p+"_norm", d)
		add("dec.0."+p+"_gate", 1)
		attn("dec.0." + p)
	}
	add("dec.norm", d)
	add("head.fc1.weight", 16, d)
	add("head.fc1.bias", 16)
	add("head.fc2.weight", 16, 16)
	add("head.log_temp", 1)
	m, err := New(cfg, writeSafetensors(ts, shapes), tok)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// edgeTools covers types the generator rarely produces.
var edgeTools = `[{"name":"edge.case","description":"All the types.","parameters":{
 "n":{"type":"integer","required":true},"x":{"type":"number"},"flag":{"type":"boolean","required":true},
 "level":{"type":"integer","enum":[1,10,100]},"unit":{"type":"string","enum":["c","f","kelvin"],"required":true},
 "tags":{"type":"array","items":{"type":"number"}},"meta":{"type":"object"},"anything":{"type":"any"},
 "nested":{"type":"array","items":{"type":"array","items":{"type":"boolean"}}},"s":{"type":"string"}}},
 {"name":"no_args","description":"Nothing.","parameters":{}}]`

func TestConstrainedDecodingAlwaysValid(t *testing.T) {
	m := randomModel(t, 7)
	gen := synth.New(synth.Config{Seed: 3})
	edge, err := toolspec.ParseFlat([]byte(edgeTools))
	if err != nil {
		t.Fatal(err)
	}
	noCalls := 0
	for i := 0; i < 200; i++ {
		var tools []toolspec.Tool
		row := gen.Row(uint64(i))
		if tools, err = toolspec.ParseFlat(row.Tools); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			tools = append(tools, edge...)
		}
		// Vary the model as well as the tools, so decoding wanders into many states.
		mm := m
		if i > 0 {
			mm = randomModel(t, uint64(i))
		}
		res, err := mm.Route(context.Background(), Request{Query: row.Query, Tools: tools, MaxNewTokens: 60 + i%80})
		if err != nil {
			t.Fatalf("row %d: %v (to reproduce: synth seed 3, row %d)", i, err, i)
		}
		if len(res.Calls) == 0 {
			noCalls++
		}
		for _, c := range res.Calls {
			checkCall(t, tools, c, res.Raw)
		}
	}
	t.Logf("%d of 200 random-weight answers were []", noCalls)
	if noCalls > 150 {
		t.Errorf("%d of 200 answers were []: the test no longer exercises calls", noCalls)
	}
}

func checkCall(t *testing.T, tools []toolspec.Tool, c toolspec.Call, raw string) {
	t.Helper()
	var tool *toolspec.Tool
	for i := range tools {
		if tools[i].Name == c.Name {
			tool = &tools[i]
		}
	}
	if tool == nil {
		t.Fatalf("call to unoffered tool %q in %s", c.Name, raw)
	}
	sb, _ := json.Marshal(tool.Schema())
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sb))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("tool.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := comp.Compile("tool.json")
	if err != nil {
		t.Fatal(err)
	}
	args, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.Arguments))
	if err != nil {
		t.Fatalf("arguments do not parse: %v in %s", err, raw)
	}
	if err := sch.Validate(args); err != nil {
		t.Fatalf("call %s fails its schema: %v\n%s", c.Name, err, raw)
	}
}

// TestNoCallReachable: [] is a complete answer for any toolset.
func TestNoCallReachable(t *testing.T) {
	g, err := newGrammar(mustTools(t, edgeTools))
	if err != nil {
		t.Fatal(err)
	}
	var s gstate
	for _, c := range []byte("[]") {
		if !g.feed(&s, c) {
			t.Fatalf("byte %q rejected", c)
		}
	}
	if s.phase != phDone {
		t.Fatalf("[] did not complete the answer")
	}
}

func mustTools(t *testing.T, s string) []toolspec.Tool {
	tools, err := toolspec.ParseFlat([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return tools
}

// At the number and array length limits the closer can still finish the answer.
func TestCloserAtLimits(t *testing.T) {
	g, err := newGrammar(mustTools(t, edgeTools))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("1", maxNumLen-1)
	items := strings.TrimSuffix(strings.Repeat("1,", maxArrayLen), ",")
	for _, prefix := range []string{
		`[{"name":"edge.case","arguments":{"x":` + long + `.`,
		`[{"name":"edge.case","arguments":{"x":` + long + `e`,
		`[{"name":"edge.case","arguments":{"x":-` + long,
		`[{"name":"edge.case","arguments":{"n":` + strings.Repeat("9", 18),
		`[{"name":"edge.case","arguments":{"tags":[` + items,
		`[{"name":"edge.case","arguments":{"meta":{"a":[[[[[[`,
	} {
		var s gstate
		for i := 0; i < len(prefix); i++ {
			if !g.feed(&s, prefix[i]) {
				t.Fatalf("%s: byte %d %q rejected", prefix, i, prefix[i])
			}
		}
		out := []byte(prefix)
		for n := 0; ; n++ {
			c, ok := g.closeChar(s)
			if !ok {
				break
			}
			if !g.feed(&s, c) || n > 500 {
				t.Fatalf("%s: closer stuck at %q after %s", prefix, c, out)
			}
			out = append(out, c)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("closed answer is not JSON: %s", out)
		}
	}
}

// With no tools offered, the only answer is [] (and nothing panics on the way).
func TestNoToolsGivesNoCall(t *testing.T) {
	m := randomModel(t, 5)
	for i := 0; i < 20; i++ {
		res, err := m.Route(context.Background(), Request{Query: fmt.Sprintf("query %d", i), Tools: nil, MaxNewTokens: 8 + i})
		if err != nil || res.Raw != "[]" {
			t.Fatalf("no tools: %v %+v", err, res)
		}
	}
	g, _ := newGrammar(nil)
	var s gstate
	if !g.feed(&s, '[') || g.feed(&s, '{') {
		t.Fatal("grammar without tools accepts a call")
	}
}

// TestGrammarAcceptsAndRejects runs fixed byte strings through the grammar.
func TestGrammarAcceptsAndRejects(t *testing.T) {
	tools := mustTools(t, edgeTools)
	g, err := newGrammar(tools)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   string
		ok   bool
		done bool
	}{
		{`[]`, true, true},
		{`[{"name":"no_args","arguments":{}}]`, true, true},
		{`[{"name":"edge.case","arguments":{"n":-12,"flag":true,"unit":"kelvin"}}]`, true, true},
		{`[{"name":"edge.case","arguments":{"unit":"c","flag":false,"n":0,"x":-1.5e+3,"level":100,"tags":[1,2.5],"meta":{"a":[null,{"b":"\u00e9"}]},"anything":"ok","nested":[[true],[]],"s":"日本"}}]`, true, true},
		{`[{"name":"no_args","arguments":{}},{"name":"no_args","arguments":{}}]`, true, true},
		{`[{"name":"edge.case","arguments":{"n":1.5`, false, false},                // integer with a fraction
		{`[{"name":"edge.case","arguments":{"n":1,"n":2`, false, false},            // duplicate key
		{`[{"name":"edge.case","arguments":{"n":1}}`, false, false},                // required flag and unit missing
		{`[{"name":"other","arguments":{}}]`, false, false},                        // unoffered tool
		{`[{"name":"edge.case","arguments":{"unit":"k"}`, false, false},            // not an enum value
		{`[{"name":"edge.case","arguments":{"level":5`, false, false},              // not an enum value
		{`[{"name":"edge.case","arguments":{"level":10,"flag":tru}`, false, false}, // bad literal
		{`[{"name":"edge.case","arguments":{"bogus":1}}]`, false, false},           // unknown key
		{`[{"name":"edge.case","arguments":{"s":"a` + "\n", false, false},          // raw control character
		{`[{"name":"edge.case","arguments":{"tags":["x"]}}]`, false, false},        // wrong item type
		{` []`, false, false}, // whitespace
	}
	for _, tc := range cases {
		var s gstate
		ok := true
		wire := toWire(tc.in) // string values carry their virtual leading space
		for i := 0; i < len(wire); i++ {
			if !g.feed(&s, wire[i]) {
				ok = false
				break
			}
		}
		if ok != tc.ok || (ok && (s.phase == phDone) != tc.done) {
			t.Errorf("%s: accepted %v (done %v), want %v (done %v)", tc.in, ok, s.phase == phDone, tc.ok, tc.done)
		}
		if tc.ok {
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Errorf("%s accepted but is not JSON: %v", tc.in, err)
			}
		}
	}
}

// Concurrent requests on one model give the answers sequential ones do (run with -race).
func TestConcurrentRoutes(t *testing.T) {
	m := randomModel(t, 21)
	gen := synth.New(synth.Config{Seed: 8})
	type job struct {
		req  Request
		want string
	}
	var jobs []job
	for i := 0; i < 12; i++ {
		row := gen.Row(uint64(i))
		tools, err := toolspec.ParseFlat(row.Tools)
		if err != nil {
			t.Fatal(err)
		}
		req := Request{Query: row.Query, Tools: tools, MaxNewTokens: 48}
		res, err := m.Route(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{req, res.Raw})
	}
	errs := make(chan error, 4*len(jobs))
	for w := 0; w < 4; w++ {
		go func() {
			for _, j := range jobs {
				res, err := m.Route(context.Background(), j.req)
				if err == nil && res.Raw != j.want {
					err = fmt.Errorf("concurrent answer %s, sequential %s", res.Raw, j.want)
				}
				errs <- err
			}
		}()
	}
	for i := 0; i < 4*len(jobs); i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// Route stops between decode steps when its context is cancelled.
func TestRouteHonoursCancellation(t *testing.T) {
	m := randomModel(t, 22)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tools := mustTools(t, edgeTools)
	if _, err := m.Route(ctx, Request{Query: "x", Tools: tools}); err != context.Canceled {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
