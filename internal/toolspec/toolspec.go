// Package toolspec holds Needle's flat tool form (NEEDLE-SPEC.md) and its compact JSON
// rendering, byte-identical to Python's json.dumps(tools, separators=(",", ":")) with the
// default ensure_ascii, which is what the model was trained on.
package toolspec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Tool is one function in the flat form.
type Tool struct {
	Name        string
	Description string
	Params      []Param // in the order they are rendered
}

// Param is one argument, or (without a name) the schema of a nested value: the subset of
// JSON Schema the local model is shown and its grammar enforces (README, "Tool schemas").
// Type is one of string, integer, number, boolean, array, object, null, any; Types, when
// set, is a type list (["string","null"]) and Type is empty.
type Param struct {
	Name        string
	Type        string
	Types       []string
	Description string
	Required    bool
	Enum        []any   // allowed values of any JSON type (json.Number for numbers), nil when unrestricted
	Items       *Param  // element type of an array, nil when unrestricted
	Properties  []Param // an object's declared properties, in order; nil: any object
	AnyOf       []Param // alternatives: the value matches at least one (exactly one when OneOf)
	OneOf       bool    // AnyOf came from oneOf
	Minimum     string  // integer bounds, inclusive, as JSON numbers; "" when unbounded
	Maximum     string  //
	MinLength   int     // string length bounds in code points; MaxLength nil: unbounded
	MaxLength   *int    //
	MinItems    int     // array length bounds; MaxItems nil: unbounded
	MaxItems    *int    //
	Format      string  // an annotation the validator does not check (shown to the model)
	Closed      bool    // additionalProperties: false (not shown: the grammar writes declared keys only)
}

// TypeList returns the parameter's types: Types, or Type alone.
func (p *Param) TypeList() []string {
	if len(p.Types) > 0 {
		return p.Types
	}
	return []string{p.Type}
}

// Call is one tool call as the model writes it.
type Call struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Param returns the parameter named name, or nil.
func (t *Tool) Param(name string) *Param {
	for i := range t.Params {
		if t.Params[i].Name == name {
			return &t.Params[i]
		}
	}
	return nil
}

// AppendJSON appends the compact flat JSON of tools:
//
//	[{"name":..,"description":..,"parameters":{"p":{"type":..,"description":..,"enum":[..],"items":{..},
//	  "properties":{"q":{..}},"anyOf":[{..}],"minimum":..,"maximum":..,"minLength":..,"maxLength":..,
//	  "minItems":..,"maxItems":..,"format":..,"required":true}}}]
//
// Keys appear in that canonical order and only when set; train/tools_render.py writes the
// same order, so Python's json.dumps of its output is these bytes.
func AppendJSON(b []byte, tools []Tool) []byte {
	b = append(b, '[')
	for i := range tools {
		if i > 0 {
			b = append(b, ',')
		}
		b = tools[i].AppendJSON(b)
	}
	return append(b, ']')
}

// AppendJSON appends the compact flat JSON of one tool.
func (t *Tool) AppendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = AppendString(b, t.Name)
	b = append(b, `,"description":`...)
	b = AppendString(b, t.Description)
	b = append(b, `,"parameters":{`...)
	for i := range t.Params {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, t.Params[i].Name)
		b = append(b, ':')
		b = t.Params[i].appendBody(b)
	}
	return append(b, "}}"...)
}

func (p *Param) appendBody(b []byte) []byte {
	b = append(b, `{"type":`...)
	if len(p.Types) > 0 {
		b = append(b, '[')
		for i, t := range p.Types {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, t)
		}
		b = append(b, ']')
	} else if p.Type == "" {
		b = append(b, `"any"`...)
	} else {
		b = AppendString(b, p.Type)
	}
	if p.Description != "" { // canonical form: an empty parameter description is left out
		b = append(b, `,"description":`...)
		b = AppendString(b, p.Description)
	}
	if p.Enum != nil {
		b = append(b, `,"enum":[`...)
		for i, v := range p.Enum {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendValue(b, v)
		}
		b = append(b, ']')
	}
	if p.Items != nil {
		b = append(b, `,"items":`...)
		b = p.Items.appendBody(b)
	}
	if p.Properties != nil {
		b = append(b, `,"properties":{`...)
		for i := range p.Properties {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, p.Properties[i].Name)
			b = append(b, ':')
			b = p.Properties[i].appendBody(b)
		}
		b = append(b, '}')
	}
	if p.AnyOf != nil {
		if p.OneOf {
			b = append(b, `,"oneOf":[`...)
		} else {
			b = append(b, `,"anyOf":[`...)
		}
		for i := range p.AnyOf {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.AnyOf[i].appendBody(b)
		}
		b = append(b, ']')
	}
	if p.Minimum != "" {
		b = appendNumber(append(b, `,"minimum":`...), p.Minimum)
	}
	if p.Maximum != "" {
		b = appendNumber(append(b, `,"maximum":`...), p.Maximum)
	}
	if p.MinLength > 0 {
		b = strconv.AppendInt(append(b, `,"minLength":`...), int64(p.MinLength), 10)
	}
	if p.MaxLength != nil {
		b = strconv.AppendInt(append(b, `,"maxLength":`...), int64(*p.MaxLength), 10)
	}
	if p.MinItems > 0 {
		b = strconv.AppendInt(append(b, `,"minItems":`...), int64(p.MinItems), 10)
	}
	if p.MaxItems != nil {
		b = strconv.AppendInt(append(b, `,"maxItems":`...), int64(*p.MaxItems), 10)
	}
	if p.Format != "" {
		b = AppendString(append(b, `,"format":`...), p.Format)
	}
	if p.Required {
		b = append(b, `,"required":true`...)
	}
	return append(b, '}')
}

// AppendString appends s as a JSON string the way Python's json.dumps does with
// ensure_ascii: everything outside printable ASCII is escaped, astral characters as
// surrogate pairs, and invalid UTF-8 as U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	return append(AppendEscaped(b, s, true), '"')
}

// AppendEscaped appends s JSON-escaped, without the quotes, as Python's json.dumps does.
// With ensureASCII (ensure_ascii=True, the tools JSON the encoder reads) everything outside
// printable ASCII is escaped, astral characters as surrogate pairs and invalid UTF-8 as
// U+FFFD; without it (ensure_ascii=False, names, keys and values in the model's answers) only
// quotes, backslashes and control characters are, and other bytes pass through.
func AppendEscaped(b []byte, s string, ensureASCII bool) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, x rune) []byte {
		return append(b, '\\', 'u', hex[x>>12&15], hex[x>>8&15], hex[x>>4&15], hex[x&15])
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20 || (ensureASCII && c == 0x7f):
			b = u4(b, rune(c))
		case c < 0x80 || !ensureASCII:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				b = u4(u4(b, r1), r2)
			} else {
				b = u4(b, r)
			}
			continue
		}
		i++
	}
	return b
}

// AppendValue appends a decoded JSON value (as from a decoder with UseNumber) the way
// Python would dump it: floats in repr form (1.0, 1e-05), integers as written.
func AppendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return AppendString(b, x)
	case json.Number:
		return appendNumber(b, string(x))
	case float64:
		return appendPyFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendValue(b, e)
		}
		return append(b, ']')
	case map[string]any:
		// Go maps lose order; callers that need key order use ordered forms. Sorted keys
		// at least make this deterministic.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			b = AppendValue(b, x[k])
		}
		return append(b, '}')
	}
	raw, _ := json.Marshal(v)
	return append(b, raw...)
}

func appendNumber(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ".eE") {
		return append(b, s...) // Python ints keep every digit
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return append(b, s...)
	}
	return appendPyFloat(b, f)
}

// appendPyFloat formats f as Python's repr(float): shortest round-trip digits, fixed
// notation for exponents in [-4, 16), scientific with a two-digit exponent otherwise.
func appendPyFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return append(b, s...)
	}
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return append(b, fmt.Sprintf("%se%s%02d", mant, sign, exp)...)
}

// ParseFlat parses tools in the flat form (a JSON array, or one object).
func ParseFlat(data []byte) ([]Tool, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		data = append(append([]byte{'['}, data...), ']')
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	out := make([]Tool, 0, len(raw))
	for i, r := range raw {
		t, err := parseFlatTool(r)
		if err != nil {
			return nil, fmt.Errorf("tools[%d]: %w", i, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func parseFlatTool(r json.RawMessage) (Tool, error) {
	var t Tool
	var obj struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(r, &obj); err != nil {
		return t, err
	}
	t.Name, t.Description = obj.Name, obj.Description
	keys, vals, err := OrderedObject(obj.Parameters)
	if err != nil {
		return t, fmt.Errorf("parameters: %w", err)
	}
	for i, k := range keys {
		p, err := parseFlatParam(vals[i])
		if err != nil {
			return t, fmt.Errorf("parameters.%s: %w", k, err)
		}
		p.Name = k
		t.Params = append(t.Params, p)
	}
	return t, nil
}

func parseFlatParam(r json.RawMessage) (Param, error) {
	var p struct {
		Type        json.RawMessage   `json:"type"`
		Description string            `json:"description"`
		Required    bool              `json:"required"`
		Enum        json.RawMessage   `json:"enum"`
		Items       json.RawMessage   `json:"items"`
		Properties  json.RawMessage   `json:"properties"`
		AnyOf       []json.RawMessage `json:"anyOf"`
		OneOf       []json.RawMessage `json:"oneOf"`
		Minimum     json.Number       `json:"minimum"`
		Maximum     json.Number       `json:"maximum"`
		MinLength   int               `json:"minLength"`
		MaxLength   *int              `json:"maxLength"`
		MinItems    int               `json:"minItems"`
		MaxItems    *int              `json:"maxItems"`
		Format      string            `json:"format"`
	}
	if err := json.Unmarshal(r, &p); err != nil {
		return Param{}, err
	}
	out := Param{Description: p.Description, Required: p.Required, Minimum: string(p.Minimum), Maximum: string(p.Maximum),
		MinLength: p.MinLength, MaxLength: p.MaxLength, MinItems: p.MinItems, MaxItems: p.MaxItems, Format: p.Format}
	if len(p.Type) > 0 && p.Type[0] == '[' {
		if err := json.Unmarshal(p.Type, &out.Types); err != nil {
			return out, fmt.Errorf("type: %w", err)
		}
	} else if len(p.Type) > 0 && string(p.Type) != "null" {
		if err := json.Unmarshal(p.Type, &out.Type); err != nil {
			return out, fmt.Errorf("type: %w", err)
		}
	}
	if len(p.Enum) > 0 && string(p.Enum) != "null" {
		d := json.NewDecoder(bytes.NewReader(p.Enum))
		d.UseNumber()
		if err := d.Decode(&out.Enum); err != nil {
			return out, fmt.Errorf("enum: %w", err)
		}
	}
	if len(p.Items) > 0 && string(p.Items) != "null" {
		it, err := parseFlatParam(p.Items)
		if err != nil {
			return out, fmt.Errorf("items: %w", err)
		}
		out.Items = &it
	}
	if len(p.Properties) > 0 && string(p.Properties) != "null" {
		keys, vals, err := OrderedObject(p.Properties)
		if err != nil {
			return out, fmt.Errorf("properties: %w", err)
		}
		out.Properties = []Param{}
		for i, k := range keys {
			q, err := parseFlatParam(vals[i])
			if err != nil {
				return out, fmt.Errorf("properties.%s: %w", k, err)
			}
			q.Name = k
			out.Properties = append(out.Properties, q)
		}
	}
	alts, kw := p.AnyOf, "anyOf"
	if p.OneOf != nil {
		alts, kw, out.OneOf = p.OneOf, "oneOf", true
	}
	for i, a := range alts {
		q, err := parseFlatParam(a)
		if err != nil {
			return out, fmt.Errorf("%s[%d]: %w", kw, i, err)
		}
		out.AnyOf = append(out.AnyOf, q)
	}
	return out, nil
}

// OrderedObject splits a JSON object into its keys and raw values in document order
// (encoding/json maps lose the order, and parameter order is part of the rendered tool).
func OrderedObject(data json.RawMessage) ([]string, []json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
		return nil, nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	tok, err := d.Token()
	if err != nil {
		return nil, nil, err
	}
	if tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("want an object")
	}
	var keys []string
	var vals []json.RawMessage
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, kt.(string))
		vals = append(vals, v)
	}
	return keys, vals, nil
}

// Schema returns the JSON Schema (draft 2020-12) of the tool's arguments object: the flat
// form's per-parameter "required" turned back into a "required" list. The flat form is
// closed: an object with declared properties takes no others.
func (t *Tool) Schema() map[string]any {
	return objectSchema(t.Params, true)
}

func objectSchema(params []Param, closed bool) map[string]any {
	props := map[string]any{}
	req := []any{}
	for i := range params {
		p := &params[i]
		props[p.Name] = p.schema()
		if p.Required {
			req = append(req, p.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "required": req}
	if closed {
		s["additionalProperties"] = false
	}
	return s
}

func (p *Param) schema() map[string]any {
	s := map[string]any{}
	if p.Properties != nil {
		s = objectSchema(p.Properties, true)
	}
	switch {
	case len(p.Types) > 0:
		ts := make([]any, len(p.Types))
		for i, t := range p.Types {
			ts[i] = t
		}
		s["type"] = ts
	case p.Type == "", p.Type == "any":
		delete(s, "type")
	default:
		s["type"] = p.Type
	}
	if p.Enum != nil {
		s["enum"] = p.Enum
	}
	if p.Items != nil {
		s["items"] = p.Items.schema()
	}
	if p.AnyOf != nil {
		alts := make([]any, len(p.AnyOf))
		for i := range p.AnyOf {
			alts[i] = p.AnyOf[i].schema()
		}
		if p.OneOf {
			s["oneOf"] = alts
		} else {
			s["anyOf"] = alts
		}
	}
	if p.Minimum != "" {
		s["minimum"] = json.Number(p.Minimum)
	}
	if p.Maximum != "" {
		s["maximum"] = json.Number(p.Maximum)
	}
	if p.MinLength > 0 {
		s["minLength"] = p.MinLength
	}
	if p.MaxLength != nil {
		s["maxLength"] = *p.MaxLength
	}
	if p.MinItems > 0 {
		s["minItems"] = p.MinItems
	}
	if p.MaxItems != nil {
		s["maxItems"] = *p.MaxItems
	}
	return s
}
