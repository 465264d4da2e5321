package registry

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/toolspec"
)

func TestParseAllForms(t *testing.T) {
	b, err := os.ReadFile("testdata/forms.json")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := Parse(b, Limits{}, "tools")
	if err != nil {
		t.Fatal(err)
	}
	got := string(toolspec.AppendJSON(nil, Specs(tools)))
	want := `[{"name":"get_weather","description":"Weather for a city.","parameters":{"location":{"type":"string","description":"City","required":true},"unit":{"type":"string","enum":["celsius","fahrenheit"]}}},` +
		`{"name":"set_timer","description":"Start a timer.","parameters":{"minutes":{"type":"integer","minimum":1,"required":true}}},` +
		`{"name":"math.hypot","description":"BFCL dialect.","parameters":{"x":{"type":"number","required":true},"pts":{"type":"array","items":{"type":"integer"}},"opts":{"type":"object","properties":{}},"val":{"type":"any"}}},` +
		`{"name":"send_message","description":"Flat form.","parameters":{"to":{"type":"string","description":"Who","required":true},"body":{"type":"string"}}}]`
	if got != want {
		t.Errorf("normalised tools\n got %s\nwant %s", got, want)
	}
	// Arguments are validated against the original schema, constraints included.
	for _, c := range []struct {
		tool, args string
		ok         bool
	}{
		{"get_weather", `{"location":"Paris","unit":"celsius"}`, true},
		{"get_weather", `{"unit":"celsius"}`, false},
		{"get_weather", `{"location":"Paris","unit":"kelvin"}`, false},
		{"get_weather", `{"location":"Paris","extra":1}`, true}, // JSON Schema allows extras unless it says otherwise
		{"set_timer", `{"minutes":0}`, false},
		{"set_timer", `{"minutes":5}`, true},
		{"math.hypot", `{"x":1.5,"pts":[1,2],"val":[1]}`, true},
		{"math.hypot", `{"x":"1"}`, false},
		{"send_message", `{"to":"Ann"}`, true},
		{"send_message", `{"to":"Ann","bogus":1}`, false}, // the flat form is closed
		{"send_message", `[]`, false},
	} {
		var tool *Tool
		for i := range tools {
			if tools[i].Spec.Name == c.tool {
				tool = &tools[i]
			}
		}
		err := tool.ValidateArgs([]byte(c.args))
		if (err == nil) != c.ok {
			t.Errorf("%s(%s): err %v, want ok=%v", c.tool, c.args, err, c.ok)
		}
	}
}

func TestParseErrorsNameToolAndField(t *testing.T) {
	cases := []struct{ in, field, text string }{
		{`[{"name":"bad name","parameters":{}}]`, "tools[0].name", "must match"},
		{`[{"name":"a"},{"name":"a"}]`, "tools[1].name", "duplicate tool name"},
		{`[{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"strin"}}}}]`, "tools[0].parameters.properties.x.type", `unknown type "strin"`},
		{`[{"name":"a","parameters":{"type":"object","properties":{},"required":["y"]}}]`, "tools[0].parameters.required", "required parameter y"},
		{`[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"p":{"type":"string","pattern":"("}}}}}]`, "tools[0].function.parameters", "does not compile"},
		{`{"name":"a","description":"` + strings.Repeat("x", 2000) + `"}`, "tools[0].description", "at most 1024"},
		{`not json`, "tools", "not a JSON array"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.in), Limits{}, "tools")
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%.60s: error %v, want a ValidationError", c.in, err)
			continue
		}
		if ve.Violations[0].Field != c.field || !strings.Contains(ve.Violations[0].Description, c.text) {
			t.Errorf("%.60s: violation %+v, want field %s containing %q", c.in, ve.Violations[0], c.field, c.text)
		}
	}
	_, err := Parse([]byte(`[{"name":"a"},{"name":"b"}]`), Limits{MaxTools: 1}, "tools")
	if err == nil || !strings.Contains(err.Error(), "at most 1") {
		t.Errorf("tool limit not enforced: %v", err)
	}
}

// Every function definition in the BFCL benchmark must be accepted under the default limits,
// the ones the server and cmd/needle's evaluations both use (evaluation needs them).
func TestParseBFCLFunctions(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/bfcl/BFCL_v4_*.json")
	if len(files) == 0 {
		t.Skip("BFCL data not present")
	}
	n := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<22), 1<<22)
		for sc.Scan() {
			line := sc.Bytes()
			i := strings.Index(string(line), `"function": `)
			if i < 0 {
				continue
			}
			var row struct {
				ID       string `json:"id"`
				Function []any  `json:"function"`
			}
			if err := json.Unmarshal(line, &row); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(row.Function)
			if _, err := Parse(raw, Limits{}, "function"); err != nil {
				t.Errorf("%s: %v", row.ID, err)
			}
			n++
		}
		fh.Close()
	}
	t.Logf("%d BFCL rows parsed", n)
}

func TestStorePersists(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("testdata/forms.json")
	if _, err := r.Put("home", b, "", time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(Config{DataDir: dir, ToolsDir: "testdata"})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	ts, err := r2.Get("home")
	if err != nil || len(ts.Tools) != 4 {
		t.Fatalf("after reopen: %v, %v", ts, err)
	}
	if _, err := r2.Get("forms"); err != nil { // from the tools directory
		t.Fatal(err)
	}
	if err := r2.Delete("home"); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Get("home"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted toolset still there: %v", err)
	}
}
