package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func violations(err error) string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return ""
	}
	var parts []string
	for _, v := range ve.Violations {
		parts = append(parts, v.Field+": "+v.Description)
	}
	return strings.Join(parts, "; ")
}

// Numbers whose exact arithmetic would cost the validator seconds are refused before any
// compile (issue 22: a 38 KB tool with bounds like 1e999999 burned 38.5 s of CPU and
// ignored a 500 ms deadline), wherever they sit in the schema.
func TestHugeNumberLiteralsAreRefusedBeforeCompiling(t *testing.T) {
	var props []string
	for i := 0; len(strings.Join(props, ",")) < 38_000; i++ {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"integer","minimum":-1e999999,"maximum":1e999999}`, i))
	}
	cases := map[string]string{
		"38 KB of 1e999999 bounds": `{"type":"object","properties":{` + strings.Join(props, ",") + `}}`,
		"minLength":                `{"type":"object","properties":{"s":{"type":"string","minLength":1e999999}}}`,
		"multipleOf":               `{"type":"object","properties":{"n":{"type":"number","multipleOf":1e-999999}}}`,
		"enum member":              `{"type":"object","properties":{"n":{"enum":[1,2e999999]}}}`,
		"const in a $def":          `{"type":"object","$defs":{"d":{"const":1e999999}},"properties":{"n":{"$ref":"#/$defs/d"}}}`,
		"default (an annotation)":  `{"type":"object","properties":{"n":{"type":"integer","default":1e999999}}}`,
		"4097 digits":              `{"type":"object","properties":{"n":{"enum":[1` + strings.Repeat("0", 4096) + `]}}}`,
	}
	for name, params := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		t0 := time.Now()
		_, err := ParseContext(ctx, []byte(`[{"name":"f","parameters":`+params+`}]`), Limits{MaxSchemaBytes: 64 << 10}, "tools")
		cancel()
		if d := time.Since(t0); d > 400*time.Millisecond {
			t.Errorf("%s: took %v", name, d)
		}
		if v := violations(err); !strings.Contains(v, "is outside what a schema may hold") {
			t.Errorf("%s: %v, want a number violation", name, err)
		}
	}
	// Within the bounds: a 4096-digit integer enum member and 1e-4095 compile.
	ok := `{"type":"object","properties":{"n":{"enum":[` + strings.Repeat("9", 4096) + `]},"x":{"type":"number","minimum":1e-4095}}}`
	if _, err := Parse([]byte(`[{"name":"f","parameters":`+ok+`}]`), Limits{}, "tools"); err != nil {
		t.Fatal(err)
	}
}

// Call arguments are bounded the same way before the validator sees them (a cloud answer
// with 1e999999 for an integer is a bad answer, not 40 ms of big-rational work per number).
func TestHugeNumbersInArgumentsAreRefusedBeforeValidating(t *testing.T) {
	tools, err := Parse([]byte(`[{"name":"f","parameters":{"type":"object","properties":{"n":{"type":"integer"},"l":{"type":"array"}}}}]`), Limits{}, "tools")
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("1e999999,", 1000)
	t0 := time.Now()
	for _, args := range []string{`{"n":1e999999}`, `{"l":[` + big + `1]}`, `{"n":1e-999999}`} {
		if v := violations(tools[0].ValidateArgs([]byte(args))); !strings.Contains(v, "is outside at most 4096 significant digits") {
			t.Errorf("%.30s: %q", args, v)
		}
	}
	if d := time.Since(t0); d > 200*time.Millisecond {
		t.Errorf("took %v", d)
	}
	if err := tools[0].ValidateArgs([]byte(`{"n":` + strings.Repeat("7", 4096) + `}`)); err != nil {
		t.Errorf("a 4096-digit integer (a transcript's longest) is refused: %v", err)
	}
}

// The deadline is checked inside one tool's work, not only between tools: a tool whose
// $refs expand to the node limit stops when the context ends.
func TestDeadlineInsideOneTool(t *testing.T) {
	defs := `"d0":{"type":"string"}`
	for i := 1; i < 12; i++ {
		defs += fmt.Sprintf(`,"d%d":{"type":"object","properties":{"a":{"$ref":"#/$defs/d%d"},"b":{"$ref":"#/$defs/d%d"}}}`, i, i-1, i-1)
	}
	params := `{"type":"object","$defs":{` + defs + `},"properties":{"x":{"$ref":"#/$defs/d11"}}}`
	calls := 0
	ctx := &countingCtx{Context: context.Background(), after: 3, calls: &calls}
	_, err := ParseContext(ctx, []byte(`[{"name":"f","parameters":`+params+`}]`), Limits{}, "tools")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v, want the deadline's error from inside the tool", err)
	}
}

// countingCtx ends after its Err has been asked `after` times: a deadline that passes
// in the middle of one tool's work.
type countingCtx struct {
	context.Context
	after int
	calls *int
}

func (c *countingCtx) Err() error {
	*c.calls++
	if *c.calls > c.after {
		return context.DeadlineExceeded
	}
	return nil
}

// Limits count what their messages say: characters are Unicode code points (issue 22: a
// 400-character Chinese description was refused as "1200 characters, at most 1024").
func TestDescriptionLimitCountsCharacters(t *testing.T) {
	zh := strings.Repeat("天", 400)
	for _, tools := range []string{
		`[{"name":"f","description":"` + zh + `","parameters":{"type":"object","properties":{"a":{"type":"string","description":"` + zh + `"}}}}]`,
		`[{"name":"f","description":"` + zh + `","parameters":{"a":{"type":"string","description":"` + zh + `"}}}]`, // flat form
	} {
		if _, err := Parse([]byte(tools), Limits{}, "tools"); err != nil {
			t.Errorf("400 characters refused: %v", err)
		}
	}
	long := strings.Repeat("é", 1025)
	_, err := Parse([]byte(`[{"name":"f","description":"`+long+`","parameters":{}}]`), Limits{}, "tools")
	if v := violations(err); !strings.Contains(v, "is 1025 characters, at most 1024") {
		t.Errorf("%q", v)
	}
}

// One reader of local references, for the flat form and the validator alike (issue 22: a
// $ref with %2F made the flat form say string while the validator wanted integer, so
// every local answer failed validation).
func TestOneReferenceReader(t *testing.T) {
	for _, c := range []struct {
		name, ref, flat string
		valid, invalid  string
	}{
		{"%2F is a separator", "#/$defs/x%2Fy", `"type":"integer"`, `{"a":5}`, `{"a":"s"}`},
		{"~1 is a slash in a key", "#/$defs/x~1y", `"type":"string"`, `{"a":"s"}`, `{"a":5}`},
		{"%7E1 decodes to ~1", "#/$defs/x%7E1y", `"type":"string"`, `{"a":"s"}`, `{"a":5}`},
		{"%24 decodes to $", "#/%24defs/x/y", `"type":"integer"`, `{"a":5}`, `{"a":"s"}`},
		{"a space", "#/$defs/sp%20ace", `"type":"boolean"`, `{"a":true}`, `{"a":1}`},
	} {
		params := `{"type":"object","properties":{"a":{"$ref":"` + c.ref + `"}},"required":["a"],
			"$defs":{"x/y":{"type":"string"},"x":{"y":{"type":"integer"}},"sp ace":{"type":"boolean"}}}`
		tools, err := Parse([]byte(`[{"name":"f","parameters":`+params+`}]`), Limits{}, "tools")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		flat := string(tools[0].Spec.AppendJSON(nil))
		if !strings.Contains(flat, c.flat) {
			t.Errorf("%s: flat form %s, want %s", c.name, flat, c.flat)
		}
		if err := tools[0].ValidateArgs([]byte(c.valid)); err != nil {
			t.Errorf("%s: the validator refuses %s, which the flat form shows: %v", c.name, c.valid, err)
		}
		if err := tools[0].ValidateArgs([]byte(c.invalid)); err == nil {
			t.Errorf("%s: the validator takes %s", c.name, c.invalid)
		}
	}
	// References that do not resolve are refused, the same for both readers.
	for _, ref := range []string{"#/$defs/%zz", "#/$defs/x~2y", "#/$defs/nope", "#anchor"} {
		params := `{"type":"object","properties":{"a":{"$ref":"` + ref + `"}},"$defs":{"x":{}}}`
		if _, err := Parse([]byte(`[{"name":"f","parameters":`+params+`}]`), Limits{}, "tools"); !strings.Contains(violations(err), "$ref") {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

// FuzzParseTools: any tools JSON (every accepted form, names, descriptions, parameters) is
// accepted or refused with field violations, in bounded time, never a panic or another
// error; an accepted tool's flat form renders and its validator runs. Seeds:
// testdata/fuzz/FuzzParseTools and testdata/forms.json.
func FuzzParseTools(f *testing.F) {
	if b, err := os.ReadFile("testdata/forms.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{`[]`, `{}`, `[{"name":"f"}]`, `{"name":"天气","description":"天","parameters":{"a":{"type":"str"}}}`,
		`[{"type":"function","function":{"name":"g","parameters":{"type":"object","properties":{"x":{"$ref":"#/$defs/a%2Fb"}},"$defs":{"a":{"b":{"type":"integer"}}}}}}]`,
		`[{"name":"n","parameters":{"type":"object","properties":{"v":{"type":"integer","maximum":1e999999}}}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		t0 := time.Now()
		tools, err := Parse(b, Limits{}, "tools")
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error that is not a refusal: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		for _, tl := range tools {
			_ = tl.Spec.AppendJSON(nil)
			_ = tl.ValidateArgs([]byte(`{}`))
		}
	})
}
