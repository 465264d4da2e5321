package decode

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

// randomModel builds a tiny model with the shipped tokenizer and seeded random weights, so
// its choices are arbitrary and the grammar alone must keep answers valid.
func randomModel(t testing.TB, seed uint64) *Decoder {
	t.Helper()
	tok, err := needle.LoadTokenizer(filepath.Join("..", "..", "models", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := needle.Config{Name: "random", VocabSize: tok.VocabSize(), DModel: 32, EncLayers: 1, DecLayers: 1, NHeads: 2, NKVHeads: 1,
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
	d, q, kv, hd := cfg.DModel, cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim, cfg.HeadDim
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
	m, err := needle.New(cfg, writeSafetensors(ts, shapes), tok, needle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

// writeSafetensors builds a safetensors file from float32 tensors.
func writeSafetensors(tensors map[string][]float32, shapes map[string][]int) []byte {
	names := make([]string, 0, len(tensors))
	for k := range tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	hdr := map[string]any{}
	off := 0
	var data []byte
	for _, k := range names {
		v := tensors[k]
		hdr[k] = map[string]any{"dtype": "F32", "shape": shapes[k], "data_offsets": []int{off, off + 4*len(v)}}
		for _, f := range v {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
		}
		off += 4 * len(v)
	}
	h, _ := json.Marshal(hdr)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

// mustPrepare compiles and renders tools for a Request.
func mustPrepare(t testing.TB, tools []toolspec.Tool) []Tool {
	t.Helper()
	p, err := Prepare(tools)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustTools(t testing.TB, s string) []toolspec.Tool {
	tools, err := toolspec.ParseFlat([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return tools
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
		res, err := mm.Decode(context.Background(), Request{Query: row.Query, Tools: mustPrepare(t, tools), MaxNewTokens: 60 + i%80})
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

// With no tools offered, the only answer is [] (and nothing panics on the way).
func TestNoToolsGivesNoCall(t *testing.T) {
	m := randomModel(t, 5)
	for i := 0; i < 20; i++ {
		res, err := m.Decode(context.Background(), Request{Query: fmt.Sprintf("query %d", i), Tools: nil, MaxNewTokens: 8 + i})
		if err != nil || res.Raw != "[]" {
			t.Fatalf("no tools: %v %+v", err, res)
		}
	}
}

// Concurrent requests on one model give the answers sequential ones do (run with -race).
func TestConcurrentDecodes(t *testing.T) {
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
		req := Request{Query: row.Query, Tools: mustPrepare(t, tools), MaxNewTokens: 48}
		res, err := m.Decode(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{req, res.Raw})
	}
	errs := make(chan error, 4*len(jobs))
	for w := 0; w < 4; w++ {
		go func() {
			for _, j := range jobs {
				res, err := m.Decode(context.Background(), j.req)
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

// stepCancel is a context cancelled once Err has been asked n times: Decode asks once before
// encoding and once per decode step, so it cancels in the middle of the answer.
type stepCancel struct {
	context.Context
	n, asked int
}

func (c *stepCancel) Err() error {
	if c.asked++; c.asked > c.n {
		return context.Canceled
	}
	return nil
}

// Decode stops between decode steps when its context is cancelled: before the model runs,
// and mid-answer, where it returns the context's error rather than a partial answer.
func TestDecodeHonoursCancellation(t *testing.T) {
	m := randomModel(t, 22)
	tools := mustPrepare(t, mustTools(t, edgeTools))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Decode(ctx, Request{Query: "x", Tools: tools}); err != context.Canceled {
		t.Fatalf("cancelled before: err %v, want context.Canceled", err)
	}
	// The uncancelled answer's length, to cancel strictly inside it.
	full, err := m.Decode(context.Background(), Request{Query: "x", Tools: tools, CallPrior: 60})
	if err != nil || full.OutputTokens < 6 {
		t.Fatalf("%v %+v: want an answer of several tokens", err, full)
	}
	for _, n := range []int{2, full.OutputTokens / 2, full.OutputTokens - 3} {
		c := &stepCancel{Context: context.Background(), n: n}
		res, err := m.Decode(c, Request{Query: "x", Tools: tools, CallPrior: 60})
		if err != context.Canceled || res != nil {
			t.Errorf("cancelled after %d checks of %d tokens: %v %+v, want context.Canceled and no answer", n, full.OutputTokens, err, res)
		}
		if c.asked != n+1 {
			t.Errorf("cancelled after %d checks: asked %d times, want it to stop at the first cancelled check", n, c.asked)
		}
	}
}

// A prompt longer than the encoder takes is reported, typed, and never decoded cut.
func TestPromptTooLong(t *testing.T) {
	m := randomModel(t, 3)
	var many []toolspec.Tool
	for i := 0; i < 40; i++ {
		many = append(many, mustTools(t, fmt.Sprintf(`[{"name":"tool_%d","description":"A tool with a long description that takes many tokens of the prompt, number %d.","parameters":{"value":{"type":"string","description":"what to do"}}}]`, i, i))...)
	}
	_, err := m.Decode(context.Background(), Request{Query: "do it", Tools: mustPrepare(t, many)})
	var tl *needle.PromptTooLongError
	if !errors.As(err, &tl) || !errors.Is(err, needle.ErrPromptTooLong) || tl.Max != 1024 || tl.Tokens <= 1024 {
		t.Fatalf("err %v, want a PromptTooLongError over 1024 tokens", err)
	}
	if _, err := m.Decode(context.Background(), Request{Query: "do it", Tools: mustPrepare(t, many[:2])}); err != nil {
		t.Fatalf("two tools: %v", err)
	}
	_, err = m.Decode(context.Background(), Request{Query: "do it", Tools: mustPrepare(t, many[:2]), MaxNewTokens: 3})
	var ce *CapError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCap) || ce.Cap != 3 {
		t.Fatalf("cap 3: %v, want a CapError", err)
	}
}
