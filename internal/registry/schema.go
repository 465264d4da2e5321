package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/needle-router/needle/internal/toolspec"
)

// One rule for every tool schema (README, "Tool schemas"): Parse either refuses a tool
// (InvalidArgument, with the tool and field path) or accepts it as
//   - local: its flat form (toolspec.Param) shows the model the whole structure and the
//     decoder's grammar enforces everything the validator checks, or
//   - cloud-only (Tool.Unsupported says where and why): the validator checks something the
//     grammar does not enforce; Route escalates such tools.
//
// Cost is bounded before anything compiles: the bytes, JSON values and nesting of each
// tool's parameters (over all keywords), the nodes its $refs expand to, then the grammar's
// own limits (grammar.Compile). The JSON Schema compiler loads nothing: only references
// inside the tool's schema (#/...) resolve.

// schemaURL names a tool's schema for the compiler: absolute and not a file, so that no
// relative reference can turn into a path.
const schemaURL = "https://tool.needle.invalid/schema.json"

// Keywords the validator ignores or treats as annotations.
var annotations = map[string]bool{
	"description": true, "title": true, "default": true, "examples": true, "$comment": true, "deprecated": true,
	"readOnly": true, "writeOnly": true, "$defs": true, "definitions": true, "optional": true, "$anchor": true,
	"contentEncoding": true, "contentMediaType": true, "contentSchema": true, "format": true, "$schema": true, "$id": true,
}

// Keywords the validator checks that the local grammar does not enforce (cloud-only).
var unenforced = map[string]bool{
	"multipleOf": true, "pattern": true, "maxContains": true, "minContains": true, "maxProperties": true,
	"minProperties": true, "dependentRequired": true, "not": true, "if": true, "then": true, "else": true,
	"dependentSchemas": true, "prefixItems": true, "contains": true, "patternProperties": true, "propertyNames": true,
	"unevaluatedItems": true, "unevaluatedProperties": true, "$dynamicRef": true, "$recursiveRef": true,
	"$dynamicAnchor": true, "$recursiveAnchor": true,
}

// Keywords whose value is one subschema, a map of them, or a list of them.
var (
	subSchema  = []string{"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
	subSchemas = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
	subLists   = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
)

// prescan bounds the cost of a tool's parameters before any other work: JSON nesting, the
// number of JSON values, over every keyword, and the size of each number (the validator
// computes with exact rationals: 1e999999 is a million-digit power of ten, 38 KB of such
// bounds cost it 38 s of CPU).
func prescan(v any, lim Limits) error {
	nodes := 0
	maxJSONDepth := 2*lim.MaxDepth + 8
	var walk func(v any, d int) error
	walk = func(v any, d int) error {
		nodes++
		if nodes > lim.MaxSchemaNodes {
			return fmt.Errorf("schema has more than %d JSON values, at most %d allowed", lim.MaxSchemaNodes, lim.MaxSchemaNodes)
		}
		if d > maxJSONDepth {
			return fmt.Errorf("schema JSON nested deeper than %d", maxJSONDepth)
		}
		switch x := v.(type) {
		case json.Number:
			if !numberInBounds(string(x)) {
				return fmt.Errorf("number %.40s is outside what a schema may hold (%s)", string(x), numberBoundsText)
			}
		case map[string]any:
			for _, e := range x {
				if err := walk(e, d+1); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e, d+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v, 0)
}

// normaliser copies a JSON Schema into standard draft 2020-12: BFCL's and Python's type
// names (dict, float, tuple, any, ...) wherever a type appears, OpenAPI's nullable as a type
// list, draft-7 tuple items as prefixItems; it refuses references outside the document and
// embedded resources, and checks nesting over all subschema keywords.
type normaliser struct {
	ctx   context.Context
	lim   Limits
	verr  *ValidationError
	tool  string
	steps int
	refs  []map[string]any // normalised subschemas holding a local $ref (canonicalRefs)
}

func (n *normaliser) schema(v any, field string, depth int) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if n.steps++; n.steps%256 == 0 && n.ctx.Err() != nil {
		n.verr.Add(field, "tool %s: %v", n.tool, n.ctx.Err())
		return m
	}
	if depth > n.lim.MaxDepth {
		n.verr.Add(field, "tool %s: schema nested deeper than %d", n.tool, n.lim.MaxDepth)
		return m
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = x
	}
	delete(out, "$schema") // always draft 2020-12
	if id, ok := m["$id"]; ok {
		if depth > 0 {
			n.verr.Add(field+".$id", "tool %s: embedded schema resources ($id %v) are not supported", n.tool, id)
		}
		delete(out, "$id")
	}
	for _, k := range []string{"$ref", "$dynamicRef", "$recursiveRef"} {
		if r, ok := m[k]; ok {
			if s, ok := r.(string); !ok || !strings.HasPrefix(s, "#") {
				n.verr.Add(field+"."+k, "tool %s: only references inside the tool's schema (#/...) are allowed, not %v", n.tool, r)
			} else if k == "$ref" {
				n.refs = append(n.refs, out)
			}
		}
	}
	switch t := m["type"].(type) {
	case string:
		nt := normaliseType(t)
		if !knownTypes[nt] {
			n.verr.Add(field+".type", "tool %s: unknown type %q", n.tool, t)
		}
		if nt == "any" {
			delete(out, "type")
		} else {
			out["type"] = nt
		}
	case []any:
		var ts []any
		anyT := false
		for i, x := range t {
			s, _ := x.(string)
			nt := normaliseType(s)
			if !knownTypes[nt] {
				n.verr.Add(fmt.Sprintf("%s.type[%d]", field, i), "tool %s: unknown type %v", n.tool, x)
			}
			anyT = anyT || nt == "any"
			ts = append(ts, nt)
		}
		if anyT {
			delete(out, "type")
		} else {
			out["type"] = ts
		}
	case nil:
	default:
		n.verr.Add(field+".type", "tool %s: type must be a string or a list of strings", n.tool)
	}
	if nb, ok := m["nullable"].(bool); ok { // OpenAPI 3.0
		delete(out, "nullable")
		switch t := out["type"].(type) {
		case string:
			if nb && t != "null" {
				out["type"] = []any{t, "null"}
			}
		case []any:
			if nb {
				out["type"] = append(append([]any{}, t...), "null")
			}
		}
	}
	if d, ok := m["description"].(string); ok && utf8.RuneCountInString(d) > n.lim.MaxDescription {
		n.verr.Add(field+".description", "tool %s: description is %d characters, at most %d allowed", n.tool, utf8.RuneCountInString(d), n.lim.MaxDescription)
	}
	if it, ok := m["items"].([]any); ok { // draft 7 tuples
		out["prefixItems"] = it
		delete(out, "items")
		if ai, ok := m["additionalItems"]; ok {
			out["items"] = ai
			delete(out, "additionalItems")
		}
	}
	for _, k := range subSchema {
		if x, ok := out[k]; ok {
			out[k] = n.schema(x, field+"."+k, depth+1)
		}
	}
	for _, k := range subSchemas {
		if x, ok := out[k]; ok {
			props, ok := x.(map[string]any)
			if !ok {
				n.verr.Add(field+"."+k, "tool %s: %s must be an object", n.tool, k)
				continue
			}
			np := make(map[string]any, len(props))
			for name, p := range props {
				np[name] = n.schema(p, field+"."+k+"."+name, depth+1)
			}
			out[k] = np
		}
	}
	for _, k := range subLists {
		if x, ok := out[k]; ok {
			l, ok := x.([]any)
			if !ok {
				n.verr.Add(field+"."+k, "tool %s: %s must be a list", n.tool, k)
				continue
			}
			nl := make([]any, len(l))
			for i, p := range l {
				nl[i] = n.schema(p, fmt.Sprintf("%s.%s[%d]", field, k, i), depth+1)
			}
			out[k] = nl
		}
	}
	return out
}

// flattener builds the model's flat form of a normalised schema, resolving local $refs, and
// notes the first thing the local grammar would not enforce (cloudOnly).
type flattener struct {
	ctx     context.Context // checked as the flat form is built: one tool's work stops with the deadline
	root    any
	tool    string
	verr    *ValidationError
	budget  int
	refs    []string
	why     *Violation
	steps   int
	stopped bool
}

func (f *flattener) cloudOnly(field, format string, args ...any) {
	if f.why == nil {
		f.why = &Violation{Field: field, Description: fmt.Sprintf(format, args...)}
	}
}

func (f *flattener) param(v any, field string) toolspec.Param {
	anyP := toolspec.Param{Type: "any"}
	if f.steps++; f.stopped || f.ctx != nil && f.steps%64 == 0 && f.ctx.Err() != nil {
		f.stopped = true // ParseContext returns the context's error
		return anyP
	}
	if f.budget--; f.budget < 0 {
		if f.budget == -1 {
			f.verr.Add(field, "tool %s: schema expands ($ref included) past its node limit", f.tool)
		}
		return anyP
	}
	switch x := v.(type) {
	case bool:
		if !x {
			f.cloudOnly(field, "the false schema admits no value")
		}
		return anyP
	case map[string]any:
		return f.object(x, field)
	}
	f.verr.Add(field, "tool %s: a schema must be an object or a boolean", f.tool)
	return anyP
}

func hasValidation(m map[string]any, except ...string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if annotations[k] || strings.HasPrefix(k, "x-") || contains(except, k) {
			continue
		}
		return k
	}
	return ""
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (f *flattener) object(m map[string]any, field string) toolspec.Param {
	desc, _ := m["description"].(string)
	if ref, ok := m["$ref"].(string); ok {
		if k := hasValidation(m, "$ref"); k != "" {
			f.cloudOnly(field+"."+k, "%s next to $ref is not enforced by the local grammar", k)
		}
		target, _, ok := resolvePointer(f.root, ref)
		if !ok {
			f.verr.Add(field+".$ref", "tool %s: $ref %q does not resolve inside the tool's schema", f.tool, ref)
			return toolspec.Param{Type: "any"}
		}
		if contains(f.refs, ref) {
			f.cloudOnly(field+".$ref", "recursive $ref %s: the local grammar is not recursive", ref)
			return toolspec.Param{Type: "any"}
		}
		f.refs = append(f.refs, ref)
		p := f.param(target, field)
		f.refs = f.refs[:len(f.refs)-1]
		if desc != "" {
			p.Description = desc
		}
		return p
	}
	if all, ok := m["allOf"].([]any); ok {
		if len(all) == 1 && hasValidation(m, "allOf") == "" {
			p := f.param(all[0], field+".allOf[0]")
			if desc != "" {
				p.Description = desc
			}
			return p
		}
		f.cloudOnly(field+".allOf", "allOf is not enforced by the local grammar (only a single subschema is)")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if unenforced[k] {
			f.cloudOnly(field+"."+k, "%s is checked by the validator but not enforced by the local grammar", k)
		}
	}
	p := toolspec.Param{Description: desc}
	var types []string
	switch t := m["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok && !contains(types, s) {
				types = append(types, s)
			}
		}
	}
	if len(types) == 0 { // keywords that only apply to one type imply it
		switch {
		case m["properties"] != nil || m["required"] != nil:
			types = []string{"object"}
		case m["items"] != nil:
			types = []string{"array"}
		}
	}
	has := func(t string) bool { return len(types) == 0 || contains(types, t) }
	switch len(types) {
	case 0:
		p.Type = "any"
	case 1:
		p.Type = types[0]
	default:
		p.Types = types
	}
	if _, ok := m["enum"]; ok {
		p.Enum = f.literals(m, field, types)
		return p
	}
	if _, ok := m["const"]; ok {
		p.Enum = f.literals(m, field, types)
		return p
	}
	if alts, kw := m["anyOf"], "anyOf"; alts != nil || m["oneOf"] != nil {
		if alts == nil {
			alts, kw, p.OneOf = m["oneOf"], "oneOf", true
		}
		if m["anyOf"] != nil && m["oneOf"] != nil {
			f.cloudOnly(field, "anyOf and oneOf together are not enforced by the local grammar")
		}
		if k := hasValidation(m, kw, "type"); k != "" {
			f.cloudOnly(field+"."+k, "%s next to %s is not enforced by the local grammar", k, kw)
		}
		l, _ := alts.([]any)
		if len(l) == 0 {
			f.verr.Add(field+"."+kw, "tool %s: %s must list at least one schema", f.tool, kw)
		}
		for i, a := range l {
			p.AnyOf = append(p.AnyOf, f.param(a, fmt.Sprintf("%s.%s[%d]", field, kw, i)))
		}
		if len(types) > 0 { // type and anyOf: both hold; the local grammar takes them apart only
			f.cloudOnly(field+".type", "type next to %s is not enforced by the local grammar", kw)
		}
		p.Type, p.Types = "", nil
		return p
	}
	// Numbers: integer bounds are enforced; number bounds are not.
	bounds := m["minimum"] != nil || m["maximum"] != nil || m["exclusiveMinimum"] != nil || m["exclusiveMaximum"] != nil
	if bounds && (has("number") || len(types) == 0) {
		f.cloudOnly(field, "bounds on numbers (not integers) are not enforced by the local grammar")
	} else if bounds && has("integer") {
		f.intBounds(m, field, &p)
	}
	// Strings.
	for _, k := range []string{"minLength", "maxLength"} {
		x, ok := count(m[k])
		if !ok {
			continue
		}
		if len(types) == 0 {
			f.cloudOnly(field+"."+k, "%s on an untyped value is not enforced by the local grammar", k)
		} else if has("string") {
			if k == "minLength" {
				p.MinLength = x
			} else {
				p.MaxLength = &x
			}
		}
	}
	if p.MaxLength != nil && *p.MaxLength < p.MinLength {
		f.verr.Add(field, "tool %s: no string satisfies minLength and maxLength", f.tool)
	}
	if s, ok := m["format"].(string); ok && has("string") {
		p.Format = s // an annotation: draft 2020-12 validators do not assert it
	}
	// Arrays.
	if has("array") {
		if it, ok := m["items"]; ok {
			if b, isBool := it.(bool); isBool {
				if !b {
					zero := 0
					p.MaxItems = &zero
				}
			} else {
				ip := f.param(it, field+".items")
				p.Items = &ip
			}
		}
		if x, ok := count(m["minItems"]); ok {
			p.MinItems = x
		}
		if x, ok := count(m["maxItems"]); ok {
			if p.MaxItems == nil || x < *p.MaxItems {
				p.MaxItems = &x
			}
		}
		if p.MaxItems != nil && *p.MaxItems < p.MinItems {
			f.verr.Add(field, "tool %s: no array satisfies minItems and maxItems", f.tool)
		}
		if u, _ := m["uniqueItems"].(bool); u && (p.MaxItems == nil || *p.MaxItems > 1) {
			f.cloudOnly(field+".uniqueItems", "uniqueItems is not enforced by the local grammar")
		}
	}
	if len(types) == 0 && (m["minItems"] != nil || m["maxItems"] != nil) {
		f.cloudOnly(field, "array bounds on an untyped value are not enforced by the local grammar")
	}
	// Objects.
	if has("object") {
		props, _ := m["properties"].(map[string]any)
		req := map[string]bool{}
		var reqOrder []string
		if r, ok := m["required"].([]any); ok {
			for _, x := range r {
				if s, ok := x.(string); ok && !req[s] {
					req[s] = true
					reqOrder = append(reqOrder, s)
				}
			}
		}
		ap, hasAP := m["additionalProperties"]
		closed := hasAP && ap == false
		switch {
		case props == nil && len(req) == 0 && !hasAP:
			// any object
		case props == nil && hasAP && ap != true && ap != false:
			f.cloudOnly(field+".additionalProperties", "additionalProperties with a schema on an object without properties is not enforced by the local grammar")
		default:
			p.Properties = []toolspec.Param{}
			names := make([]string, 0, len(props))
			for k := range props {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				q := f.param(props[k], field+".properties."+k)
				q.Name, q.Required = k, req[k]
				if q.Required && q.Enum != nil && len(q.Enum) == 0 {
					// Refusing would reject real toolsets (BFCL has such tools): no local answer
					// can be valid, so the tool is cloud-only.
					f.cloudOnly(field+".properties."+k+".enum", "required property %q admits no value: its enum/const contradicts its type", k)
				}
				p.Properties = append(p.Properties, q)
			}
			for _, k := range reqOrder {
				if _, ok := props[k]; ok {
					continue
				}
				if closed {
					f.verr.Add(field+".required", "tool %s: required property %q is not in properties and additionalProperties is false", f.tool, k)
					continue
				}
				p.Properties = append(p.Properties, toolspec.Param{Name: k, Type: "any", Required: true})
			}
			p.Closed = closed
		}
	}
	return p
}

// literals returns the enum/const values that satisfy the type, refusing a schema none does.
func (f *flattener) literals(m map[string]any, field string, types []string) []any {
	var vals []any
	if e, ok := m["enum"]; ok {
		l, ok := e.([]any)
		if !ok || len(l) == 0 {
			f.verr.Add(field+".enum", "tool %s: enum must be a non-empty list", f.tool)
			return nil
		}
		vals = l
	}
	if c, ok := m["const"]; ok {
		if vals == nil {
			vals = []any{c}
		} else {
			cb := canonical(c)
			var keep []any
			for _, v := range vals {
				if canonical(v) == cb {
					keep = append(keep, v)
				}
			}
			vals = keep
		}
	}
	var keep []any
	for _, v := range vals {
		if len(types) == 0 || contains(types, jsonType(v)) || (jsonType(v) == "integer" && contains(types, "number")) {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 { // no value: refused where required (object), never written where optional
		return []any{}
	}
	if k := hasValidation(m, "enum", "const", "type"); k != "" {
		f.cloudOnly(field+"."+k, "%s next to enum/const is not enforced by the local grammar", k)
	}
	return keep
}

func canonical(v any) string {
	return string(toolspec.AppendValue(nil, v))
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return ""
}

func number(v any) (toolspec.Decimal, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return toolspec.Decimal{}, false
	}
	return toolspec.ParseDecimal(string(n))
}

// count reads a length bound exactly (json.Number.Float64 fails on 1e999999, and a failed
// read used to drop the bound the validator still checks): beyond 1<<30 it saturates there,
// which the grammar either ignores (maxima) or refuses (minima, so cloud-only).
func count(v any) (int, bool) {
	d, ok := number(v)
	if !ok || d.Neg {
		return 0, false
	}
	x, sat := d.Round(false)
	if sat > 0 || x > 1<<30 {
		return 1 << 30, true
	}
	return int(x), true
}

// intBounds reads minimum, maximum and the exclusive bounds of an integer exactly. Only
// integers within ±toolspec.IntLimit are written by the decoder: a bound beyond on the far
// side is no constraint there; a range that lies wholly beyond is cloud-only; a range no
// integer lies in is refused.
func (f *flattener) intBounds(m map[string]any, field string, p *toolspec.Param) {
	type bound struct {
		d         toolspec.Decimal
		exclusive bool
		key       string
	}
	var lows, highs []bound
	lo, hi := int64(-toolspec.IntLimit), int64(toolspec.IntLimit)
	loBeyond, hiBeyond := false, false // the range lies wholly above / below ±IntLimit
	for _, k := range []string{"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} {
		x, ok := m[k]
		if !ok {
			continue
		}
		d, ok := number(x)
		if !ok {
			f.verr.Add(field+"."+k, "tool %s: %s is not a number", f.tool, k)
			continue
		}
		excl := strings.HasPrefix(k, "exclusive")
		if strings.HasSuffix(k, "inimum") {
			lows = append(lows, bound{d, excl, k})
			v, sat := d.Round(!excl) // least integer >= d, or greatest <= d (then +1)
			if excl && sat == 0 {
				v++
			}
			switch {
			case sat > 0:
				loBeyond = true
			case sat == 0 && v > lo:
				lo = v
			}
		} else {
			highs = append(highs, bound{d, excl, k})
			v, sat := d.Round(excl)
			if excl && sat == 0 {
				v--
			}
			switch {
			case sat < 0:
				hiBeyond = true
			case sat == 0 && v < hi:
				hi = v
			}
		}
	}
	if loBeyond || hiBeyond {
		for _, l := range lows {
			for _, h := range highs {
				if c := l.d.Cmp(h.d); c > 0 || (c == 0 && (l.exclusive || h.exclusive)) {
					f.verr.Add(field, "tool %s: no integer satisfies %s and %s", f.tool, l.key, h.key)
					return
				}
			}
		}
		if loBeyond && !hiBeyond && hi < toolspec.IntLimit || hiBeyond && !loBeyond && lo > -toolspec.IntLimit {
			f.verr.Add(field, "tool %s: no integer satisfies the bounds", f.tool)
			return
		}
		f.cloudOnly(field, "integer bounds that admit only integers beyond ±1e18 are not enforced by the local grammar")
		return
	}
	if lo > hi {
		f.verr.Add(field, "tool %s: no integer satisfies the bounds", f.tool)
		return
	}
	if lo > -toolspec.IntLimit {
		p.Minimum = strconv.FormatInt(lo, 10)
	}
	if hi < toolspec.IntLimit {
		p.Maximum = strconv.FormatInt(hi, 10)
	}
}

// resolvePointer is the one reader of local references ("#" or "#/a/b"): the flat form
// (flattener) and the validator (through canonicalRefs) both use its result. As RFC 6901
// reads a pointer in a URI fragment: percent-decode the fragment, then split it at "/" and
// unescape each token (~1 is "/", ~0 is "~"). So "#/$defs/a%2Fb" names the path $defs, a, b
// (not a key "a/b"), as the validator reads it. It returns the target and its path.
func resolvePointer(root any, ref string) (any, []string, bool) {
	if !strings.HasPrefix(ref, "#") {
		return nil, nil, false
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil || !utf8.ValidString(frag) {
		return nil, nil, false
	}
	if frag == "" {
		return root, nil, true
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, nil, false // an anchor: not resolved locally
	}
	cur := root
	var path []string
	for _, tok := range strings.Split(frag[1:], "/") {
		tok, ok := unescapeToken(tok)
		if !ok {
			return nil, nil, false
		}
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) || strconv.Itoa(i) != tok {
				return nil, nil, false
			}
			cur = c[i]
		default:
			return nil, nil, false
		}
		path = append(path, tok)
	}
	return cur, path, true
}

// unescapeToken reads ~0 and ~1 in a pointer token; any other ~ is malformed.
func unescapeToken(tok string) (string, bool) {
	if !strings.Contains(tok, "~") {
		return tok, true
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '~' {
			b.WriteByte(tok[i])
			continue
		}
		if i+1 >= len(tok) || (tok[i+1] != '0' && tok[i+1] != '1') {
			return "", false
		}
		b.WriteByte("~/"[tok[i+1]-'0'])
		i++
	}
	return b.String(), true
}

// canonicalRef writes a path as a reference every reader decodes to the same path: tokens
// with ~ and / escaped, and every byte other than letters, digits, "-._~$" percent-encoded.
func canonicalRef(path []string) string {
	var b strings.Builder
	b.WriteByte('#')
	for _, tok := range path {
		b.WriteByte('/')
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~$", c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
	}
	return b.String()
}

// canonicalRefs rewrites each local $ref of a normalised schema (refs: the maps holding
// one) to canonicalRef of what resolvePointer reads it as, so the validator resolves
// exactly the subschema the flat form shows. A reference that does not resolve is left for
// the flattener to refuse.
func canonicalRefs(root map[string]any, refs []map[string]any) {
	for _, m := range refs {
		if ref, ok := m["$ref"].(string); ok {
			if _, path, ok := resolvePointer(root, ref); ok {
				m["$ref"] = canonicalRef(path)
			}
		}
	}
}

// refuseLoader is the compiler's only loader: the schema compiler reads no file and no URL.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("only references inside the tool's schema (#/...) are allowed")
}

func compile(schema map[string]any) (*jsonschema.Schema, error) {
	// Round-trip through jsonschema's own decoder so numbers are json.Number as it expects.
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refuseLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}
