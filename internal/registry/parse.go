// Package registry is the tool catalogue: it parses tools in OpenAI function form, bare
// JSON Schema functions, BFCL's dialect and Needle's flat form, normalises them to
// toolspec.Tool, validates definitions with messages that name the tool and field,
// validates call arguments against each tool's JSON Schema, persists named toolsets and
// caches tool embeddings for retrieval.
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/toolspec"
)

// ErrInvalid marks bad tool definitions or arguments; it is always a *ValidationError.
var ErrInvalid = errors.New("registry: invalid")

// Violation is one problem with a named field, e.g. "tools[1].parameters.properties.unit".
type Violation struct {
	Field       string
	Description string
}

// ValidationError lists every violation found.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string {
	var parts []string
	for _, v := range e.Violations {
		parts = append(parts, v.Field+": "+v.Description)
	}
	return "registry: invalid: " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Invalid is the ValidationError of one violation: field, and a description formatted from
// format and args. It and Add are the only places a ValidationError or a Violation is built
// (TestOneConstructor): a request that breaks several rules collects them with Add on a
// zero ValidationError and returns Err.
func Invalid(field, format string, args ...any) *ValidationError {
	e := &ValidationError{}
	e.Add(field, format, args...)
	return e
}

// Add records one violation: field, and a description formatted from format and args.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Violations = append(e.Violations, Violation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Err is e when it holds a violation, nil otherwise.
func (e *ValidationError) Err() error {
	if len(e.Violations) == 0 {
		return nil
	}
	return e
}

// Limits bound what a toolset may contain, each in the unit its refusal names. Zero fields
// take the defaults. With the request limits of router.Config (transcript and history
// turn bytes, turns, tools JSON bytes) and the decoder's own (grammar.Compile), these are
// the limits the README's Limits table lists.
type Limits struct {
	MaxTools       int // tools per set (default 128)
	MaxParams      int // parameters per tool (default 64, the decoder's limit)
	MaxDescription int // characters (Unicode code points) in any description (default 1024)
	MaxDepth       int // nesting of subschemas over all keywords (default 8)
	MaxSchemaBytes int // bytes of one tool's parameters JSON (default 64 KiB)
	MaxSchemaNodes int // JSON values of one tool's parameters, and nodes its $refs expand to (default 4096): bounds an enum's size too
}

// Numbers in tool schemas and in call arguments (numberInBounds): at most
// MaxNumberDigits significant digits, magnitude below 10^MaxNumberOrder and, unless zero,
// at least 10^-MaxNumberOrder. The validator computes with exact rationals, so these bound
// its cost per number; a 4096-byte transcript cannot hold a number beyond them.
const (
	MaxNumberDigits = 4096
	MaxNumberOrder  = 4096
)

var numberBoundsText = fmt.Sprintf("at most %d significant digits, magnitude below 1e%d and, unless zero, at least 1e-%d", MaxNumberDigits, MaxNumberOrder, MaxNumberOrder)

// numberInBounds reports whether a JSON number's text lies within the number bounds; it
// reads the text without arithmetic, so any exponent costs the same.
func numberInBounds(n string) bool {
	d, ok := toolspec.ParseDecimal(n)
	return ok && len(d.Digits) <= MaxNumberDigits && d.Order <= MaxNumberOrder && (d.Digits == "" || d.Order > -MaxNumberOrder)
}

func (l Limits) withDefaults() Limits {
	if l.MaxTools <= 0 {
		l.MaxTools = 128
	}
	if l.MaxParams <= 0 {
		l.MaxParams = 64
	}
	if l.MaxDescription <= 0 {
		l.MaxDescription = 1024
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 8
	}
	if l.MaxSchemaBytes <= 0 {
		l.MaxSchemaBytes = 64 << 10
	}
	if l.MaxSchemaNodes <= 0 {
		l.MaxSchemaNodes = 4096
	}
	return l
}

// Tool is a normalised, validated tool with its compiled argument schema.
type Tool struct {
	Spec toolspec.Tool
	// Schema is the normalised JSON Schema of the arguments (sent to the cloud model).
	Schema map[string]any
	// Unsupported, when set, says where and why the local decoder cannot take the tool
	// (cloud-only, README "Tool schemas"): Route escalates instead of decoding it locally.
	Unsupported *Violation
	// Grammar is the tool's compiled decoding grammar (nil when Unsupported), and Text its
	// compact flat JSON as the model reads it in the prompt (toolspec.Tool.AppendJSON): both
	// made once, here, and shared by every request that offers the tool.
	Grammar *grammar.Tool
	Text    []byte
	schema  *jsonschema.Schema
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$`)

// Parse reads tools (a JSON array or a single object) in any accepted form and validates
// them against lim. Field paths in errors are prefixed with prefix (e.g. "tools").
func Parse(data []byte, lim Limits, prefix string) ([]Tool, error) {
	return ParseContext(context.Background(), data, lim, prefix)
}

// ParseContext is Parse that stops when ctx ends (ctx's error is returned).
func ParseContext(ctx context.Context, data []byte, lim Limits, prefix string) ([]Tool, error) {
	lim = lim.withDefaults()
	verr := &ValidationError{}
	if !utf8.Valid(data) {
		verr.Add(prefix, "tools must be valid UTF-8")
		return nil, verr
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		data = append(append([]byte{'['}, data...), ']')
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		verr.Add(prefix, "not a JSON array of tools: %v", err)
		return nil, verr
	}
	if len(raws) > lim.MaxTools {
		verr.Add(prefix, "%d tools, at most %d allowed", len(raws), lim.MaxTools)
		return nil, verr
	}
	var out []Tool
	seen := map[string]int{}
	for i, r := range raws {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		field := fmt.Sprintf("%s[%d]", prefix, i)
		t, ok := parseOne(ctx, r, lim, field, verr)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if j, dup := seen[t.Spec.Name]; dup {
			verr.Add(field+".name", "duplicate tool name %q (also %s[%d])", t.Spec.Name, prefix, j)
			continue
		}
		seen[t.Spec.Name] = i
		out = append(out, t)
	}
	return out, verr.Err()
}

func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func parseOne(ctx context.Context, raw json.RawMessage, lim Limits, field string, verr *ValidationError) (Tool, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		verr.Add(field, "not a JSON object: %v", err)
		return Tool{}, false
	}
	if fn, ok := obj["function"]; ok { // OpenAI: {"type":"function","function":{...}}
		var typ string
		_ = json.Unmarshal(obj["type"], &typ)
		if typ != "" && typ != "function" {
			verr.Add(field+".type", "tool type %q is not supported (only \"function\")", typ)
			return Tool{}, false
		}
		field += ".function"
		obj = nil
		if err := json.Unmarshal(fn, &obj); err != nil {
			verr.Add(field, "not a JSON object: %v", err)
			return Tool{}, false
		}
	}
	var t Tool
	n0 := len(verr.Violations)
	_ = json.Unmarshal(obj["name"], &t.Spec.Name)
	_ = json.Unmarshal(obj["description"], &t.Spec.Description)
	if !nameRE.MatchString(t.Spec.Name) {
		verr.Add(field+".name", "tool name %q must match %s", t.Spec.Name, nameRE)
	}
	if n := utf8.RuneCountInString(t.Spec.Description); n > lim.MaxDescription {
		verr.Add(field+".description", "description of %s is %d characters, at most %d allowed", t.Spec.Name, n, lim.MaxDescription)
	}
	params := obj["parameters"]
	for _, k := range []string{"inputSchema", "input_schema"} { // MCP, Anthropic: the same JSON Schema
		if params == nil {
			params = obj[k]
		}
	}
	if len(params) > lim.MaxSchemaBytes {
		verr.Add(field+".parameters", "tool %s: parameters are %d bytes, at most %d allowed", t.Spec.Name, len(params), lim.MaxSchemaBytes)
		return t, false
	}
	pv, err := decodeAny(params)
	if len(params) > 0 && err != nil {
		verr.Add(field+".parameters", "not JSON: %v", err)
		return t, false
	}
	if err := prescan(pv, lim); err != nil {
		verr.Add(field+".parameters", "tool %s: %v", t.Spec.Name, err)
		return t, false
	}
	pm, _ := pv.(map[string]any)
	if pv != nil && pm == nil {
		verr.Add(field+".parameters", "must be an object")
		return t, false
	}
	var schema map[string]any
	if isJSONSchema(pm) {
		nz := &normaliser{ctx: ctx, lim: lim, verr: verr, tool: t.Spec.Name}
		schema = nz.schema(pm, field+".parameters", 0).(map[string]any)
		if schema["type"] == nil {
			schema["type"] = "object"
		}
		if req, ok := schema["required"].([]any); ok { // a mistake worth naming at the top level
			props, _ := schema["properties"].(map[string]any)
			for _, r := range req {
				if s, ok := r.(string); !ok || props[s] == nil {
					verr.Add(field+".parameters.required", "tool %s: required parameter %v is not in properties", t.Spec.Name, r)
				}
			}
		}
		if len(verr.Violations) > n0 || ctx.Err() != nil {
			return t, false
		}
		canonicalRefs(schema, nz.refs)
		fl := &flattener{ctx: ctx, root: schema, tool: t.Spec.Name, verr: verr, budget: lim.MaxSchemaNodes}
		top := fl.param(schema, field+".parameters")
		if top.Type != "object" || top.AnyOf != nil || top.Enum != nil {
			fl.cloudOnly(field+".parameters", "arguments that are not one object with properties are not enforced by the local grammar")
		}
		t.Spec.Params = orderParams(top.Properties, propertyOrder(params))
		t.Unsupported = fl.why
	} else { // flat form
		// The flat form is read from the tool itself (not an OpenAI wrapper around it), with
		// its parameters under whichever key they came.
		one, _ := json.Marshal(map[string]json.RawMessage{"name": obj["name"], "description": obj["description"], "parameters": params})
		flat, err := toolspec.ParseFlat(append(append([]byte{'['}, one...), ']'))
		if err != nil {
			verr.Add(field+".parameters", "neither JSON Schema nor Needle's flat form: %v", err)
			return t, false
		}
		t.Spec.Params = flat[0].Params
		for i := range t.Spec.Params {
			checkFlatParam(&t.Spec.Params[i], field+".parameters."+t.Spec.Params[i].Name, 1, lim, verr, t.Spec.Name)
		}
		schema = t.Spec.Schema()
	}
	if len(t.Spec.Params) > lim.MaxParams {
		verr.Add(field+".parameters", "tool %s has %d parameters, at most %d allowed", t.Spec.Name, len(t.Spec.Params), lim.MaxParams)
	}
	if len(verr.Violations) > n0 || ctx.Err() != nil {
		return t, false
	}
	sch, err := compile(schema)
	if err != nil {
		verr.Add(field+".parameters", "tool %s: schema does not compile: %v", t.Spec.Name, err)
		return t, false
	}
	t.schema = sch
	t.Schema = schema
	t.Text = t.Spec.AppendJSON(nil)
	if ctx.Err() != nil {
		return t, false
	}
	if t.Unsupported == nil {
		g, err := grammar.Compile(&t.Spec)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), grammar.ErrUnsupported.Error()+": ")
			t.Unsupported = &Violation{Field: field + ".parameters", Description: msg}
		}
		t.Grammar = g
	}
	return t, true
}

func isJSONSchema(pm map[string]any) bool {
	if pm == nil {
		return true // no parameters
	}
	if _, ok := pm["properties"]; ok {
		return true
	}
	switch pm["type"] {
	case "object", "dict":
		return true
	}
	// Every parameter of the flat form is an object; a top level with any other value
	// ("$ref": "...", "type": "string", "required": [...], "anyOf": [...]) is JSON Schema.
	for _, v := range pm {
		if _, ok := v.(map[string]any); !ok {
			return true
		}
	}
	return false
}

// normaliseType maps BFCL's and Python's type names to JSON Schema's.
func normaliseType(t string) string {
	switch t {
	case "dict":
		return "object"
	case "float":
		return "number"
	case "int":
		return "integer"
	case "bool":
		return "boolean"
	case "str":
		return "string"
	case "tuple", "list":
		return "array"
	}
	return t
}

var knownTypes = map[string]bool{"string": true, "integer": true, "number": true, "boolean": true, "array": true, "object": true, "null": true, "any": true}

func checkFlatParam(p *toolspec.Param, field string, depth int, lim Limits, verr *ValidationError, tool string) {
	if depth > lim.MaxDepth {
		verr.Add(field, "tool %s: schema nested deeper than %d", tool, lim.MaxDepth)
		return
	}
	p.Type = normaliseType(p.Type)
	if p.Type == "" && len(p.Types) == 0 && p.AnyOf == nil {
		p.Type = "any"
	}
	for i, t := range p.Types {
		p.Types[i] = normaliseType(t)
		if !knownTypes[p.Types[i]] || p.Types[i] == "any" {
			verr.Add(fmt.Sprintf("%s.type[%d]", field, i), "tool %s: unknown type %q", tool, t)
		}
	}
	if p.Type != "" && !knownTypes[p.Type] {
		verr.Add(field+".type", "tool %s: unknown type %q", tool, p.Type)
	}
	if n := utf8.RuneCountInString(p.Description); n > lim.MaxDescription {
		verr.Add(field+".description", "tool %s: description is %d characters, at most %d allowed", tool, n, lim.MaxDescription)
	}
	if p.Items != nil {
		checkFlatParam(p.Items, field+".items", depth+1, lim, verr, tool)
	}
	for i := range p.Properties {
		checkFlatParam(&p.Properties[i], field+".properties."+p.Properties[i].Name, depth+1, lim, verr, tool)
	}
	for i := range p.AnyOf {
		checkFlatParam(&p.AnyOf[i], fmt.Sprintf("%s.anyOf[%d]", field, i), depth+1, lim, verr, tool)
	}
}

// orderParams puts params in the document's property order where the source kept one.
func orderParams(params []toolspec.Param, order []string) []toolspec.Param {
	if len(order) != len(params) {
		return params
	}
	idx := map[string]int{}
	for i, p := range params {
		idx[p.Name] = i
	}
	out := make([]toolspec.Param, 0, len(params))
	for _, n := range order {
		i, ok := idx[n]
		if !ok {
			return params
		}
		out = append(out, params[i])
	}
	return out
}

// propertyOrder returns the keys of params.properties in document order.
func propertyOrder(params json.RawMessage) []string {
	var obj struct {
		Properties json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(params, &obj) != nil {
		return nil
	}
	keys, _, err := toolspec.OrderedObject(obj.Properties)
	if err != nil {
		return nil
	}
	return keys
}

// ValidateArgs checks call arguments (a JSON object) against the tool's schema.
func (t *Tool) ValidateArgs(args []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		return Invalid(t.Spec.Name+".arguments", "not JSON: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return Invalid(t.Spec.Name+".arguments", "must be a JSON object")
	}
	if n, ok := outOfBounds(v); ok { // before the validator, whose cost grows with them
		return Invalid(t.Spec.Name+".arguments", "number %.40s is outside %s", n, numberBoundsText)
	}
	if err := t.schema.Validate(v); err != nil {
		return Invalid(t.Spec.Name+".arguments", "%v", err)
	}
	return nil
}

// outOfBounds returns the first number of v outside the number bounds.
func outOfBounds(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), !numberInBounds(string(x))
	case map[string]any:
		for _, e := range x {
			if n, ok := outOfBounds(e); ok {
				return n, true
			}
		}
	case []any:
		for _, e := range x {
			if n, ok := outOfBounds(e); ok {
				return n, true
			}
		}
	}
	return "", false
}

// Specs returns the tools' model-facing forms.
func Specs(tools []Tool) []toolspec.Tool {
	out := make([]toolspec.Tool, len(tools))
	for i := range tools {
		out[i] = tools[i].Spec
	}
	return out
}
