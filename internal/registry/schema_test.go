package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/toolspec"
)

func tool(params string) string {
	return `[{"type":"function","function":{"name":"f","description":"d","parameters":` + params + `}}]`
}

// The 8 rows at registration: each tool is local (and its flat text shows the
// structure), cloud-only (with where and why), or refused with the tool and field path.
func TestSchemaRows(t *testing.T) {
	enum65 := make([]string, 65)
	for i := range enum65 {
		enum65[i] = fmt.Sprintf(`"v%d"`, i)
	}
	deep := strings.Repeat(`{"anyOf":[`, 4000) + `{"type":"string"}` + strings.Repeat(`]}`, 4000)
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	type want struct {
		class string // local, cloud, refused
		field string // refused / cloud: the field path
		text  string // local: a fragment of the flat text
	}
	cases := []struct {
		row, params string
		want        want
	}{
		{"1", `{"type":"object","properties":{"a\"b":{"type":"string"}},"required":["a\"b"]}`, want{"local", "", `"a\"b":{"type":"string","required":true}`}},
		{"2", `{"type":"object","properties":{"e":{"type":"string","enum":[` + strings.Join(enum65, ",") + `]}}}`, want{"local", "", `"v64"]`}},
		{"3", `{"type":"object","properties":{"u":{"$ref":"#/$defs/U"}},"$defs":{"U":{"type":"string","enum":["c","f"]}}}`, want{"local", "", `"u":{"type":"string","enum":["c","f"]}`}},
		{"4", `{"type":"object","properties":{"destination":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}},"required":["street","city"]}},"required":["destination"]}`,
			want{"local", "", `"destination":{"type":"object","properties":{"city":{"type":"string","required":true},"street":{"type":"string","required":true}},"required":true}`}},
		{"5a", `{"type":"object","properties":{"a":{"type":["string","null"]}}}`, want{"local", "", `"a":{"type":["string","null"]}`}},
		{"5b", `{"type":"object","properties":{"a":{"type":["integer","string"]}}}`, want{"local", "", `"a":{"type":["integer","string"]}`}},
		{"5c", `{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"null"}]}}}`, want{"local", "", `"anyOf":[{"type":"string"},{"type":"null"}]`}},
		{"5d", `{"type":"object","properties":{"a":{"type":"string","nullable":true}}}`, want{"local", "", `"a":{"type":["string","null"]}`}},
		{"6a", `{"type":"object","properties":{"x":{"$ref":"file:///etc/shadow"}}}`, want{"refused", "tools[0].function.parameters.properties.x.$ref", ""}},
		{"6b", `{"type":"object","properties":{"x":{"$ref":"` + secret + `"}}}`, want{"refused", "tools[0].function.parameters.properties.x.$ref", ""}},
		{"6c", `{"type":"object","properties":{"x":{"$ref":"https://example.com/s.json"}}}`, want{"refused", "tools[0].function.parameters.properties.x.$ref", ""}},
		{"6d", `{"$schema":"file:///etc/passwd","type":"object","properties":{"x":{"type":"string"}}}`, want{"local", "", `"x":{"type":"string"}`}},
		{"7", `{"type":"object","properties":{"x":` + deep + `}}`, want{"refused", "tools[0].function.parameters", ""}},
		{"8a", `{"type":"object","properties":{"o":{"type":"object","properties":{"k":{"type":"integer"}},"required":["k"]}},"required":["o"]}`, want{"local", "", `"k":{"type":"integer","required":true}`}},
		{"8b", `{"type":"object","properties":{"o":{"$ref":"#/definitions/O"}},"definitions":{"O":{"type":"object","properties":{"k":{"type":"boolean"}}}}}`, want{"local", "", `"o":{"type":"object","properties":{"k":{"type":"boolean"}}}`}},
		{"8c", `{"type":"object","properties":{"e":{"type":"integer","enum":["a","b"]}},"required":["e"]}`, want{"cloud", "tools[0].function.parameters.properties.e.enum", ""}},
		{"8d", `{"type":"object","properties":{"e":{"enum":["a","b"],"const":"c"}},"required":["e"]}`, want{"cloud", "tools[0].function.parameters.properties.e.enum", ""}},
		{"8d'", `{"type":"object","properties":{"e":{"type":"boolean","enum":["True","False"]},"k":{"type":"string"}}}`, want{"local", "", `"e":{"type":"boolean","enum":[]}`}}, // BFCL: optional, never written
		{"8e", `{"type":"object","properties":{"p":{"type":"string","pattern":"^a+$"}}}`, want{"cloud", "tools[0].function.parameters.properties.p.pattern", ""}},
		{"8f", `{"type":"object","properties":{"n":{"type":"number","minimum":0}}}`, want{"cloud", "tools[0].function.parameters.properties.n", ""}},
		{"8g", `{"type":"object","properties":{"r":{"$ref":"#"}}}`, want{"cloud", "tools[0].function.parameters.properties.r.properties.r.$ref", ""}},
	}
	for _, c := range cases {
		t0 := time.Now()
		tools, err := Parse([]byte(tool(c.params)), Limits{}, "tools")
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("row %s: took %v", c.row, d)
		}
		switch c.want.class {
		case "refused":
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("row %s: error %v, want a refusal at %s", c.row, err, c.want.field)
				continue
			}
			if ve.Violations[0].Field != c.want.field {
				t.Errorf("row %s: refused at %s (%s), want %s", c.row, ve.Violations[0].Field, ve.Violations[0].Description, c.want.field)
			}
			// The same answer for a file that exists and one that does not: nothing was read.
			_, err2 := Parse([]byte(strings.ReplaceAll(tool(c.params), secret, secret+".missing")), Limits{}, "tools")
			if strings.ReplaceAll(err2.Error(), secret+".missing", secret) != err.Error() || strings.Contains(err.Error(), "no such file") {
				t.Errorf("row %s: error depends on the file system: %v / %v", c.row, err, err2)
			}
		case "cloud":
			if err != nil || len(tools) != 1 || tools[0].Unsupported == nil {
				t.Errorf("row %s: %v, want cloud-only", c.row, err)
				continue
			}
			if tools[0].Unsupported.Field != c.want.field {
				t.Errorf("row %s: cloud-only at %s (%s), want %s", c.row, tools[0].Unsupported.Field, tools[0].Unsupported.Description, c.want.field)
			}
		case "local":
			if err != nil || len(tools) != 1 {
				t.Errorf("row %s: %v, want local", c.row, err)
				continue
			}
			if u := tools[0].Unsupported; u != nil {
				t.Errorf("row %s: cloud-only (%s: %s), want local", c.row, u.Field, u.Description)
			}
			if txt := string(toolspec.AppendJSON(nil, Specs(tools))); !strings.Contains(txt, c.want.text) {
				t.Errorf("row %s: flat text %s\nlacks %s", c.row, txt, c.want.text)
			}
		}
	}
}

// A request's deadline stops registry work.
func TestParseHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ParseContext(ctx, []byte(tool(`{"type":"object"}`)), Limits{}, "tools")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// Arbitrary parameter JSON: no panic, only refusals (never another error), bounded time,
// and a local tool's schema compiles for the grammar.
func FuzzParseSchema(f *testing.F) {
	for _, s := range []string{`{}`, `{"type":"object","properties":{"a":{"type":["string","null"]}}}`,
		`{"properties":{"u":{"$ref":"#/$defs/U"}},"$defs":{"U":{"enum":[1,"a",null]}}}`, `{"anyOf":[{"anyOf":[{}]}]}`,
		`{"properties":{"x":{"$ref":"file:///etc/passwd"}}}`, `{"type":"dict","properties":{"t":{"type":"tuple","items":{"type":"float"}}}}`,
		`{"properties":{"o":{"type":"object","properties":{"a\"b":{"type":"integer","minimum":3,"exclusiveMaximum":9}},"required":["a\"b","z"]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		t0 := time.Now()
		tools, err := Parse([]byte(`[{"name":"f","parameters":`+string(params)+`}]`), Limits{}, "tools")
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error that is not a refusal: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		for _, tl := range tools {
			_ = toolspec.AppendJSON(nil, []toolspec.Tool{tl.Spec})
			_ = tl.ValidateArgs([]byte(`{}`))
		}
	})
}
