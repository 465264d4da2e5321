package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/needle-router/needle/internal/toolspec"
)

// feedAll feeds the wire form of an answer prefix; it reports whether every byte passed.
func feedAll(g *Grammar, s *State, wire string) bool {
	for i := 0; i < len(wire); i++ {
		if !g.Feed(s, wire[i]) {
			return false
		}
	}
	return true
}

// closeOut follows the closer from s, returning the decoded bytes it adds (virtual spaces
// dropped), or an error when it gets stuck or runs away.
func closeOut(g *Grammar, s State) ([]byte, error) {
	var out []byte
	for n := 0; ; n++ {
		c, ok := g.CloseChar(s)
		if !ok {
			if s.phase != PhDone {
				return out, fmt.Errorf("closer stopped before the end")
			}
			return out, nil
		}
		if !g.Feed(&s, c) || n > 5000 {
			return out, fmt.Errorf("closer stuck at %q", c)
		}
		if !s.virt {
			out = append(out, c)
		}
	}
}

// The rows 1-5 at the grammar: each case is a flat toolset, answers (plain JSON,
// fed in wire form) the grammar must accept to the end, and prefixes it must refuse.
func TestGrammarSchemaRows(t *testing.T) {
	var enum65 []string
	for i := range 65 {
		enum65 = append(enum65, strconv.Quote(fmt.Sprintf("v%d", i)))
	}
	cases := []struct {
		name, tools string
		accept      []string
		refuse      []string
	}{
		{"1 key with a quote", `[{"name":"f","parameters":{"a\"b":{"type":"string","required":true}}}]`,
			[]string{`[{"name":"f","arguments":{"a\"b":"x"}}]`},
			[]string{`[{"name":"f","arguments":{"a"`, `[{"name":"f","arguments":{}`}},
		{"2 enum of 65", `[{"name":"f","parameters":{"e":{"type":"string","required":true,"enum":[` + strings.Join(enum65, ",") + `]}}}]`,
			[]string{`[{"name":"f","arguments":{"e":"v64"}}]`, `[{"name":"f","arguments":{"e":"v0"}}]`},
			[]string{`[{"name":"f","arguments":{"e":1`, `[{"name":"f","arguments":{"e":{`, `[{"name":"f","arguments":{"e":"v65"`, `[{"name":"f","arguments":{"e":":"`}},
		{"3 resolved enum", `[{"name":"f","parameters":{"u":{"type":"string","enum":["c","f"],"required":true}}}]`,
			[]string{`[{"name":"f","arguments":{"u":"c"}}]`},
			[]string{`[{"name":"f","arguments":{"u":5`, `[{"name":"f","arguments":{"u":0`}},
		{"4 nested object", `[{"name":"f","parameters":{"destination":{"type":"object","required":true,"properties":{"street":{"type":"string","required":true},"city":{"type":"string","required":true}}}}}]`,
			[]string{`[{"name":"f","arguments":{"destination":{"city":"Lisbon","street":"Rua A"}}}]`},
			[]string{`[{"name":"f","arguments":{"destination":{"ainain"`, `[{"name":"f","arguments":{"destination":{}`, `[{"name":"f","arguments":{"destination":{"street":"a"}}`}},
		{"5 type lists and unions", `[{"name":"f","parameters":{"a":{"type":["string","null"]},"b":{"type":["integer","string"]},"c":{"anyOf":[{"type":"string"},{"type":"null"}]}}}]`,
			[]string{`[{"name":"f","arguments":{"a":null,"b":"x","c":null}}]`, `[{"name":"f","arguments":{"a":"s","b":5,"c":"t"}}]`},
			[]string{`[{"name":"f","arguments":{"a":5`, `[{"name":"f","arguments":{"b":1.5`, `[{"name":"f","arguments":{"c":5`, `[{"name":"f","arguments":{"b":true`}},
	}
	for _, c := range cases {
		g, err := CompileAll(mustTools(t, c.tools))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, a := range c.accept {
			var s State
			if !feedAll(g, &s, toWire(a)) || s.phase != PhDone {
				t.Errorf("%s: %s refused or incomplete", c.name, a)
			}
		}
		for _, r := range c.refuse {
			var s State
			if feedAll(g, &s, toWire(r)) {
				t.Errorf("%s: %s accepted", c.name, r)
			}
		}
	}
}

// Strings are well-formed UTF-8 only: no overlong forms, surrogates or escaped halves of a
// surrogate pair; bounds count code points.
func TestGrammarStringsWellFormed(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"f","parameters":{"s":{"type":"string","minLength":2,"maxLength":3}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	head := `[{"name":"f","arguments":{"s":" `
	for in, ok := range map[string]bool{
		"ab\"":             true,
		"日本\"":             true,
		"a\\u00e9\"":       true,
		"a\"":              false, // too short
		"abcd":             false, // too long
		"\xc0\x80":         false, // overlong
		"\xe0\x80\x80":     false, // overlong
		"\xed\xa0\x80":     false, // a surrogate
		"\xf4\x90\x80\x80": false, // past U+10FFFF
		"a\\ud800":         false,
	} {
		var s State
		if got := feedAll(g, &s, head+in); got != ok {
			t.Errorf("%q: accepted %v, want %v", in, got, ok)
		}
	}
}

// Bounded integers: every prefix the grammar takes completes inside the bounds.
func TestGrammarIntegerBounds(t *testing.T) {
	for _, b := range [][2]int64{{1, 1}, {15, 20}, {-20, -15}, {-3, 7}, {100, 100000}, {-99999, -1000}, {0, 0}} {
		tools := fmt.Sprintf(`[{"name":"f","parameters":{"n":{"type":"integer","minimum":%d,"maximum":%d,"required":true}}}]`, b[0], b[1])
		g, err := CompileAll(mustTools(t, tools))
		if err != nil {
			t.Fatal(err)
		}
		for v := b[0] - 30; v <= b[1]+30; v++ {
			var s State
			ok := feedAll(g, &s, fmt.Sprintf(`[{"name":"f","arguments":{"n":%d}}]`, v))
			if ok != (v >= b[0] && v <= b[1]) {
				t.Errorf("bounds %v: %d accepted %v", b, v, ok)
			}
		}
		var s State
		feedAll(g, &s, `[{"name":"f","arguments":{"n":`)
		out, err := closeOut(g, s)
		if err != nil {
			t.Fatalf("bounds %v: %v", b, err)
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(string(out), "}}]"), 10, 64)
		if err != nil || n < b[0] || n > b[1] {
			t.Errorf("bounds %v: closer wrote %s", b, out)
		}
	}
}

// Literals of every JSON type, in wire form: string values inside them carry the virtual
// space, keys do not.
func TestGrammarLiteralsOfAnyType(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"f","parameters":{"m":{"enum":[1,10,"a",null,true,[1,"x"],{"k":"v"}],"required":true}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`1`, `10`, `"a"`, `null`, `true`, `[1,"x"]`, `{"k":"v"}`} {
		var s State
		in := `[{"name":"f","arguments":{"m":` + v + `}}]`
		if !feedAll(g, &s, toWire(in)) || s.phase != PhDone {
			t.Errorf("%s refused", in)
		}
	}
	for _, v := range []string{`2`, `100`, `"b"`, `false`, `[1,"y"]`, `{"k":"w"}`, `{" k"`} {
		var s State
		if feedAll(g, &s, toWire(`[{"name":"f","arguments":{"m":`+v)) && s.depth == 0 {
			t.Errorf("%s accepted", v)
		}
	}
}

// ValueString is in and past the start exactly inside the content of a free string value.
func TestFreeStringValue(t *testing.T) {
	g, err := CompileAll(mustTools(t, `[{"name":"f","parameters":{"s":{"type":"string"},"e":{"type":"string","enum":["x"]},"d":{"type":"string","format":"date"},"o":{"type":"object"},"a":{}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]bool{
		`[{"name":"`:                            false,
		`[{"name":"f","arguments":{"`:           false,
		`[{"name":"f","arguments":{"s":"`:       false, // the virtual space comes first
		`[{"name":"f","arguments":{"s":" `:      true,
		`[{"name":"f","arguments":{"s":" ab\`:   true,
		`[{"name":"f","arguments":{"s":" a"`:    false,
		`[{"name":"f","arguments":{"e":" `:      false,
		`[{"name":"f","arguments":{"d":" `:      false,
		`[{"name":"f","arguments":{"o":{"`:      false, // a key
		`[{"name":"f","arguments":{"o":{"k":" `: true,
		`[{"name":"f","arguments":{"a":[" `:     true,
	} {
		var s State
		if !feedAll(g, &s, in) {
			t.Fatalf("%s refused", in)
		}
		if in2, atStart := g.ValueString(&s); (in2 && !atStart) != want {
			t.Errorf("%s: in a free string's content %v, want %v", in, in2 && !atStart, want)
		}
	}
}

// --- property test: a schema generator within the supported subset ---

type schemaGen struct {
	r     *rand.Rand
	nodes int
}

func (sg *schemaGen) name() string {
	names := []string{"a", "b", "city", "a\"b", "back\\slash", "tab\there", "ünï", "日本", "", "x y", "k1", "k2"}
	return names[sg.r.IntN(len(names))]
}

func (sg *schemaGen) param(level int) toolspec.Param {
	sg.nodes++
	r := sg.r
	leaf := level >= 4 || sg.nodes > 40
	k := r.IntN(14)
	if leaf && k >= 9 {
		k = r.IntN(9)
	}
	switch k {
	case 0:
		p := toolspec.Param{Type: "string"}
		if r.IntN(3) == 0 {
			p.MinLength = r.IntN(3)
			m := p.MinLength + r.IntN(4)
			p.MaxLength = &m
		}
		return p
	case 1:
		p := toolspec.Param{Type: "integer"}
		if r.IntN(2) == 0 {
			lo := r.Int64N(200) - 100
			p.Minimum, p.Maximum = strconv.FormatInt(lo, 10), strconv.FormatInt(lo+r.Int64N(300), 10)
		}
		return p
	case 2:
		return toolspec.Param{Type: "number"}
	case 3:
		return toolspec.Param{Type: "boolean"}
	case 4:
		return toolspec.Param{Type: "null"}
	case 5:
		return toolspec.Param{Type: "any"}
	case 6: // enum of any size and type
		var e []any
		for i := 0; i < 1+r.IntN(80); i++ {
			switch r.IntN(5) {
			case 0:
				e = append(e, json.Number(strconv.Itoa(r.IntN(1000)-500)))
			case 1:
				e = append(e, nil)
			default:
				e = append(e, sg.name()+strconv.Itoa(i))
			}
		}
		return toolspec.Param{Type: "any", Enum: e}
	case 7:
		return toolspec.Param{Types: []string{"string", "null"}}
	case 8:
		return toolspec.Param{AnyOf: []toolspec.Param{{Type: "integer"}, {Type: "string", Enum: []any{"p", "q"}}, {Type: "boolean"}}}
	case 9, 10:
		it := sg.param(level + 1)
		p := toolspec.Param{Type: "array", Items: &it}
		if r.IntN(2) == 0 {
			p.MinItems = r.IntN(2)
			m := p.MinItems + r.IntN(3)
			p.MaxItems = &m
		}
		return p
	case 11:
		return toolspec.Param{Type: "object"}
	default:
		p := toolspec.Param{Type: "object", Properties: []toolspec.Param{}}
		seen := map[string]bool{}
		for i := 0; i < r.IntN(4); i++ {
			q := sg.param(level + 1)
			q.Name = sg.name()
			if seen[q.Name] {
				continue
			}
			seen[q.Name] = true
			q.Required = r.IntN(2) == 0
			p.Properties = append(p.Properties, q)
		}
		return p
	}
}

// instance generates a value valid for p.
func (sg *schemaGen) instance(p *toolspec.Param, depth int) any {
	r := sg.r
	if p.Enum != nil {
		return p.Enum[r.IntN(len(p.Enum))]
	}
	if p.AnyOf != nil {
		return sg.instance(&p.AnyOf[r.IntN(len(p.AnyOf))], depth)
	}
	typ := p.Type
	if len(p.Types) > 0 {
		typ = p.Types[r.IntN(len(p.Types))]
	}
	if typ == "any" || typ == "" {
		typ = []string{"string", "number", "boolean", "null", "array", "object"}[r.IntN(6)]
		if depth > 3 {
			typ = "string"
		}
		q := toolspec.Param{Type: typ}
		return sg.instance(&q, depth+1)
	}
	switch typ {
	case "string":
		n := p.MinLength + r.IntN(4)
		if p.MaxLength != nil && n > *p.MaxLength {
			n = *p.MaxLength
		}
		var b strings.Builder
		alpha := []string{"a", " ", "é", "日", "\"", "\\", "\n", "😀", "z"}
		for range n {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	case "integer":
		lo, hi := int64(-1000), int64(1000)
		if p.Minimum != "" {
			lo, _ = strconv.ParseInt(p.Minimum, 10, 64)
			hi, _ = strconv.ParseInt(p.Maximum, 10, 64)
		}
		return json.Number(strconv.FormatInt(lo+r.Int64N(hi-lo+1), 10))
	case "number":
		return json.Number([]string{"0", "-1.5", "2e10", "3.25E-2", "7"}[r.IntN(5)])
	case "boolean":
		return r.IntN(2) == 0
	case "null":
		return nil
	case "array":
		n := p.MinItems + r.IntN(3)
		if p.MaxItems != nil && n > *p.MaxItems {
			n = *p.MaxItems
		}
		out := []any{}
		for range n {
			if p.Items == nil {
				out = append(out, "x")
			} else {
				out = append(out, sg.instance(p.Items, depth+1))
			}
		}
		return out
	case "object":
		out := map[string]any{}
		if p.Properties == nil {
			if r.IntN(2) == 0 {
				out["k"] = json.Number("1")
			}
			return out
		}
		for i := range p.Properties {
			q := &p.Properties[i]
			if q.Required || r.IntN(2) == 0 {
				out[q.Name] = sg.instance(q, depth+1)
			}
		}
		return out
	}
	return nil
}

func compileSchema(t *testing.T, tool *toolspec.Tool) *jsonschema.Schema {
	sb, _ := json.Marshal(tool.Schema())
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sb))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("https://t.invalid/s.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := comp.Compile("https://t.invalid/s.json")
	if err != nil {
		t.Fatalf("%s: %v", sb, err)
	}
	return sch
}

// Property test over generated schemas: (1) every random walk the grammar allows, finished
// by the closer, decodes to calls whose arguments the validator accepts; (2) every instance
// generated from the schema (the validator accepts it) is accepted by the grammar byte by
// byte in wire form. To reproduce a failure, run with the seed it prints.
func TestGrammarPropertyGeneratedSchemas(t *testing.T) {
	iters := 300
	if testing.Short() {
		iters = 60
	}
	for seed := uint64(1); seed <= uint64(iters); seed++ {
		sg := &schemaGen{r: rand.New(rand.NewPCG(seed, 11))}
		var params []toolspec.Param
		seen := map[string]bool{}
		for i := 0; i < 1+sg.r.IntN(4); i++ {
			p := sg.param(1)
			p.Name = sg.name()
			if seen[p.Name] {
				continue
			}
			seen[p.Name] = true
			p.Required = sg.r.IntN(2) == 0
			params = append(params, p)
		}
		tool := toolspec.Tool{Name: "t" + strconv.FormatUint(seed, 10), Params: params}
		g, err := CompileAll([]toolspec.Tool{tool})
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, toolspec.AppendJSON(nil, []toolspec.Tool{tool}))
		}
		sch := compileSchema(t, &tool)
		desc := func() string { return string(toolspec.AppendJSON(nil, []toolspec.Tool{tool})) }

		// (2) generated instances are accepted.
		for range 10 {
			inst := sg.instance(&toolspec.Param{Type: "object", Properties: params}, 1)
			if err := sch.Validate(roundTrip(t, inst)); err != nil {
				t.Fatalf("seed %d: generator made an invalid instance %v: %v", seed, inst, err)
			}
			ans := `[{"name":"` + tool.Name + `","arguments":` + pyEsc(t, inst) + `}]`
			var s State
			if w := toWire(ans); !feedAll(g, &s, w) || s.phase != PhDone {
				t.Fatalf("seed %d: grammar refuses a valid instance\n%s\ntools %s", seed, w, desc())
			}
		}
		// (1) random walks finish valid.
		for walk := range 20 {
			var s State
			var out []byte
			steps := sg.r.IntN(120)
			for i := 0; i < steps; i++ {
				var allowed []byte
				for c := 0; c < 256; c++ {
					s2 := s
					if g.Feed(&s2, byte(c)) {
						allowed = append(allowed, byte(c))
					}
				}
				if len(allowed) == 0 {
					break
				}
				c := allowed[sg.r.IntN(len(allowed))]
				g.Feed(&s, c)
				if !s.virt {
					out = append(out, c)
				}
			}
			rest, err := closeOut(g, s)
			if err != nil {
				t.Fatalf("seed %d walk %d: %v after %q\ntools %s", seed, walk, err, out, desc())
			}
			out = append(out, rest...)
			if !utf8.Valid(out) {
				t.Fatalf("seed %d walk %d: not UTF-8: %q", seed, walk, out)
			}
			var calls []toolspec.Call
			if err := json.Unmarshal(out, &calls); err != nil {
				t.Fatalf("seed %d walk %d: not JSON: %v\n%s", seed, walk, err, out)
			}
			for _, c := range calls {
				args, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.Arguments))
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if err := sch.Validate(args); err != nil {
					t.Fatalf("seed %d walk %d: closed walk fails its schema: %v\n%s\ntools %s", seed, walk, err, out, desc())
				}
			}
		}
	}
}

func roundTrip(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	x, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// pyEsc writes v as compact JSON with non-ASCII kept raw (as the model writes it).
func pyEsc(t *testing.T, v any) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
