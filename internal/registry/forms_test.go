package registry

import (
	"strings"
	"testing"
)

// A tool's parameters reach the registry whatever wrapper they come in: OpenAI's
// {"type":"function","function":{...}}, MCP's inputSchema, Anthropic's input_schema, plain
// parameters; and a schema whose top level is not "an object with properties" ($ref to
// definitions, a non-object type, a bare required list) is read as JSON Schema, never as the
// flat form with its keywords taken for parameter names. Before, each of these silently became
// a tool without parameters, and the local model answered {} for a tool that requires fields.
func TestParametersNeverSilentlyDropped(t *testing.T) {
	obj := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	flat := `{"city":{"type":"string","required":true}}`
	zod := `{"$ref":"#/definitions/Args","definitions":{"Args":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}},"$schema":"http://json-schema.org/draft-07/schema#"}`
	for _, c := range []struct{ name, tools string }{
		{"mcp inputSchema", `{"name":"t","description":"d","inputSchema":` + obj + `}`},
		{"anthropic input_schema", `{"name":"t","description":"d","input_schema":` + obj + `}`},
		{"openai flat form", `{"type":"function","function":{"name":"t","description":"d","parameters":` + flat + `}}`},
		{"plain flat form", `{"name":"t","description":"d","parameters":` + flat + `}`},
		{"openai top-level $ref", `{"type":"function","function":{"name":"t","parameters":` + zod + `}}`},
		{"plain top-level $ref", `{"name":"t","parameters":` + zod + `}`},
	} {
		tools, err := Parse([]byte(c.tools), Limits{}, "tools")
		if err != nil {
			if strings.Contains(c.name, "$ref") { // refusing is honest too; silently dropping is not
				continue
			}
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		tool := tools[0]
		if tool.Unsupported == nil && tool.ValidateArgs([]byte(`{}`)) == nil {
			t.Errorf("%s: local tool accepts {} though city is required; params %+v", c.name, tool.Spec.Params)
		}
	}
	// Schemas whose arguments are not an object are never local with no parameters.
	for _, p := range []string{`{"type":"string"}`, `{"type":"array","items":{"type":"string"}}`, `{"required":["a"]}`, `{"anyOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}]}`} {
		for _, wrap := range []string{`{"type":"function","function":{"name":"t","parameters":%s}}`, `{"name":"t","parameters":%s}`} {
			src := strings.Replace(wrap, "%s", p, 1)
			tools, err := Parse([]byte(src), Limits{}, "tools")
			if err != nil {
				if strings.Contains(err.Error(), "unmarshal") {
					t.Errorf("%s: refused with a Go decoding error, not a schema message: %v", src, err)
				}
				continue
			}
			if tools[0].Unsupported == nil && tools[0].ValidateArgs([]byte(`{}`)) == nil {
				t.Errorf("%s: local, and {} passes, though the schema refuses {}", src)
			}
		}
	}
}
