package grammar

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

// edgeTools covers types the generator rarely produces.
var edgeTools = `[{"name":"edge.case","description":"All the types.","parameters":{
 "n":{"type":"integer","required":true},"x":{"type":"number"},"flag":{"type":"boolean","required":true},
 "level":{"type":"integer","enum":[1,10,100]},"unit":{"type":"string","enum":["c","f","kelvin"],"required":true},
 "tags":{"type":"array","items":{"type":"number"}},"meta":{"type":"object"},"anything":{"type":"any"},
 "nested":{"type":"array","items":{"type":"array","items":{"type":"boolean"}}},"s":{"type":"string"}}},
 {"name":"no_args","description":"Nothing.","parameters":{}}]`

// TestNoCallReachable: [] is a complete answer for any toolset.
func TestNoCallReachable(t *testing.T) {
	g, err := CompileAll(mustTools(t, edgeTools))
	if err != nil {
		t.Fatal(err)
	}
	var s State
	for _, c := range []byte("[]") {
		if !g.Feed(&s, c) {
			t.Fatalf("byte %q rejected", c)
		}
	}
	if s.phase != PhDone {
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
	g, err := CompileAll(mustTools(t, edgeTools))
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
		var s State
		for i := 0; i < len(prefix); i++ {
			if !g.Feed(&s, prefix[i]) {
				t.Fatalf("%s: byte %d %q rejected", prefix, i, prefix[i])
			}
		}
		out := []byte(prefix)
		for n := 0; ; n++ {
			c, ok := g.CloseChar(s)
			if !ok {
				break
			}
			if !g.Feed(&s, c) || n > 500 {
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

// TestGrammarAcceptsAndRejects runs fixed byte strings through the grammar.
func TestGrammarAcceptsAndRejects(t *testing.T) {
	tools := mustTools(t, edgeTools)
	g, err := CompileAll(tools)
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
		var s State
		ok := true
		wire := toWire(tc.in) // string values carry their virtual leading space
		for i := 0; i < len(wire); i++ {
			if !g.Feed(&s, wire[i]) {
				ok = false
				break
			}
		}
		if ok != tc.ok || (ok && (s.phase == PhDone) != tc.done) {
			t.Errorf("%s: accepted %v (done %v), want %v (done %v)", tc.in, ok, s.phase == PhDone, tc.ok, tc.done)
		}
		if tc.ok {
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Errorf("%s accepted but is not JSON: %v", tc.in, err)
			}
		}
	}
}

// toWire inserts the virtual leading space of every string value inside a call's arguments
// (the inverse of what the decoder drops; train/answer_format.py). It works on prefixes.
func toWire(s string) string {
	var b strings.Builder
	type ctr struct {
		obj     bool
		wantKey bool
	}
	var stack []ctr
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			isKey := len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].wantKey
			b.WriteByte('"')
			if len(stack) >= 3 && !isKey {
				b.WriteByte(' ')
			}
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteString(s[j : j+2])
					j += 2
					continue
				}
				b.WriteByte(s[j])
				j++
			}
			if j < len(s) {
				b.WriteByte('"')
			}
			i = j
			if isKey {
				stack[len(stack)-1].wantKey = false
			}
			continue
		case '[', '{':
			stack = append(stack, ctr{obj: c == '{', wantKey: c == '{'})
		case ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantKey = true
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func TestToWire(t *testing.T) {
	for in, want := range map[string]string{
		`[]`: `[]`,
		`[{"name":"f","arguments":{"a":"x","b":["y",1],"c":{"k":"v"}}}]`: `[{"name":"f","arguments":{"a":" x","b":[" y",1],"c":{"k":" v"}}}]`,
		`[{"name":"f","arguments":{"a":"say \"hi\"`:                      `[{"name":"f","arguments":{"a":" say \"hi\"`,
	} {
		if got := toWire(in); got != want {
			t.Errorf("toWire(%s) = %s, want %s", in, got, want)
		}
	}
}

// A value string must start with its virtual space (which the decoder drops); keys and names
// must not have one; string enum literals carry it too.
func TestGrammarValueLeadingSpace(t *testing.T) {
	tools := mustTools(t, `[{"name":"f","description":"d","parameters":{"s":{"type":"string","required":true},"u":{"type":"string","enum":["c","f"]}}}]`)
	g, err := CompileAll(tools)
	if err != nil {
		t.Fatal(err)
	}
	for in, ok := range map[string]bool{
		`[{"name":"f","arguments":{"s":" x"}}]`:          true,
		`[{"name":"f","arguments":{"s":"x"`:              false,
		`[{"name":"f","arguments":{"s":""}}]`:            false,
		`[{"name":"f","arguments":{"s":" "}}]`:           true, // the empty string
		`[{"name":"f","arguments":{"s":"  x"}}]`:         true, // " x"
		`[{"name":"f","arguments":{"s":" a","u":" c"}}]`: true,
		`[{"name":"f","arguments":{"s":" a","u":"c"`:     false,
		`[{"name":" f"`:                  false,
		`[{"name":"f","arguments":{" s"`: false,
	} {
		var s State
		got := true
		for i := 0; i < len(in); i++ {
			if !g.Feed(&s, in[i]) {
				got = false
				break
			}
		}
		if got != ok {
			t.Errorf("%s: accepted %v, want %v", in, got, ok)
		}
	}
}

// numberSlot is true where a number value may start (its schema admits one) and inside one.
func TestNumberSlot(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"f","parameters":{"n":{"type":"integer"},"x":{"type":"number"},"s":{"type":"string"},"e":{"enum":[1,2]},"l":{"type":"array","items":{"type":"number"}},"a":{}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	type slot struct{ in, atStart bool }
	for in, want := range map[string]slot{
		`[{"name":"f","arguments":{"`:        {},
		`[{"name":"f","arguments":{"n":`:     {true, true},
		`[{"name":"f","arguments":{"n":1`:    {true, false},
		`[{"name":"f","arguments":{"x":-2.`:  {true, false},
		`[{"name":"f","arguments":{"s":`:     {},
		`[{"name":"f","arguments":{"e":`:     {}, // an enum is a literal
		`[{"name":"f","arguments":{"l":[`:    {true, true},
		`[{"name":"f","arguments":{"l":[1,`:  {true, true},
		`[{"name":"f","arguments":{"a":`:     {true, true}, // untyped admits a number
		`[{"name":"f","arguments":{"n":12,"`: {},
	} {
		var s State
		if !feedAll(g, &s, in) {
			t.Fatalf("%s refused", in)
		}
		if in2, at := g.NumberSlot(&s); (slot{in2, at}) != want {
			t.Errorf("%s: numberSlot %v %v, want %v", in, in2, at, want)
		}
	}
}

// Informative marks the tokens confidence counts: among them, since session 11, the choices
// among a call's arguments (another key or none, which key), but not the bytes the grammar
// forces there. Each case feeds a prefix, then one token (several bytes, as the model's
// pieces are), and asks whether that token was informative.
func TestInformativeKeyChoices(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"f","parameters":{"from":{"type":"string"},"fresh":{"type":"boolean"},"to":{"type":"string"}}},
{"name":"r","parameters":{"id":{"type":"string","required":true}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prefix, token string
		want          bool
	}{
		{`[{"name":"f","arguments":`, `{"`, true},             // '"' against '}': some arguments
		{`[{"name":"f","arguments":`, `{}`, true},             // none
		{`[{"name":"f","arguments":{"`, `f`, true},            // from/fresh against to
		{`[{"name":"f","arguments":{"f`, `r`, false},          // forced: both go on with r
		{`[{"name":"f","arguments":{"fr`, `om`, true},         // from against fresh
		{`[{"name":"f","arguments":{"fro`, `m":`, false},      // the rest of the one key left, and the colon
		{`[{"name":"f","arguments":{"from":" a"`, `,"`, true}, // another argument
		{`[{"name":"f","arguments":{"from":" a","`, `to`, true},
		{`[{"name":"r","arguments":`, `{"`, false},                                    // id is required: '"' is forced
		{`[{"name":"r","arguments":{"`, `id`, false},                                  // the only key
		{`[{"name":"f","arguments":{"from":" a","fresh":true,"to":" b"`, `}}`, false}, // nothing left to choose
	} {
		var s State
		if !feedAll(g, &s, c.prefix) {
			t.Fatalf("%s refused", c.prefix)
		}
		s.ClearInfo()
		if !feedAll(g, &s, c.token) {
			t.Fatalf("%s + %s refused", c.prefix, c.token)
		}
		if got := s.Informative(); got != c.want {
			t.Errorf("%s + %s: informative %v, want %v", c.prefix, c.token, got, c.want)
		}
	}
}

// The repeat rule's closed choices are the schema's literal nodes: enums, booleans, and consts
// (the registry hands a const over as a one-value enum).
func TestClosedArg(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"f","parameters":{"s":{"type":"string"},"n":{"type":"integer"},
		"e":{"type":"string","enum":["a","b"]},"b":{"type":"boolean"},"c":{"enum":["x"]},"o":{"type":"object"},
		"big":{"type":"string","enum":["a","b","c","d","e","f","g","h","i"]}}},
		{"name":"g","parameters":{"b":{"type":"string"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tool int
		key  string
		want bool
	}{
		{0, "s", false}, {0, "n", false}, {0, "e", true}, {0, "b", true}, {0, "c", true}, {0, "o", false},
		{0, "missing", false}, {1, "b", false},
		{0, "big", false}, // nine literals: values to spell, not a closed choice
	} {
		if got := g.ClosedArg(c.tool, c.key); got != c.want {
			t.Errorf("tool %d key %q: %v, want %v", c.tool, c.key, got, c.want)
		}
	}
}

func TestDuplicateToolNamesRejected(t *testing.T) {
	if _, err := CompileAll(mustTools(t, `[{"name":"a","description":"x"},{"name":"a","description":"y"}]`)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("duplicate names: %v, want ErrUnsupported", err)
	}
}

// With no tools offered, the only answer is [].
func TestNoToolsAcceptsNoCall(t *testing.T) {
	g, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if !g.Feed(&s, '[') || g.Feed(&s, '{') {
		t.Fatal("grammar without tools accepts a call")
	}
}

// The mass under a names trie node is the sum over the tools it may still become, and a
// name that is a prefix of another ("set", "set_timer") is told apart by its closing quote.
func TestNameMass(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"set","description":"s"},{"name":"set_timer","description":"t"},{"name":"settle","description":"u"}]`))
	if err != nil {
		t.Fatal(err)
	}
	mass := make([]float64, g.NameNodes())
	g.NameMass(mass, []float64{0.2, 0.5, 0.3})
	for _, tc := range []struct {
		prefix string
		p      float64
	}{{`[{"name":"`, 1}, {`[{"name":"set`, 1}, {`[{"name":"set_`, 0.5}, {`[{"name":"sett`, 0.3}, {`[{"name":"set"`, 0.2}} {
		var st State
		if !feedAll(g, &st, tc.prefix) {
			t.Fatalf("%s rejected", tc.prefix)
		}
		if st.Phase() != PhName {
			if st.Phase() != PhArgsHead || st.Tool() != 0 {
				t.Fatalf("%s: phase %d tool %d", tc.prefix, st.Phase(), st.Tool())
			}
			continue // named: the decoder reads the tool's own mass
		}
		if p := mass[st.NameNode()]; math.Abs(p-tc.p) > 1e-9 {
			t.Errorf("%s: mass %v, want %v", tc.prefix, p, tc.p)
		}
	}
}

// A compiled tool is shared: joining it into two grammars, in either order, gives each the
// same answers.
func TestCompiledToolsShared(t *testing.T) {
	tools := mustTools(t, edgeTools)
	a, err := Compile(&tools[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(&tools[1])
	if err != nil {
		t.Fatal(err)
	}
	answer := toWire(`[{"name":"no_args","arguments":{}},{"name":"edge.case","arguments":{"n":1,"flag":true,"unit":"c","tags":[1.5]}}]`)
	for _, order := range [][]*Tool{{a, b}, {b, a}} {
		g, err := New(order)
		if err != nil {
			t.Fatal(err)
		}
		var s State
		if !feedAll(g, &s, answer) || !s.Done() {
			t.Errorf("order %s, %s: answer refused", order[0].Name(), order[1].Name())
		}
	}
	if _, err := New([]*Tool{a, a}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a tool offered twice: %v", err)
	}
}
