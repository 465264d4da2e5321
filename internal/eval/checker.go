// Package eval measures Needle: BFCL's AST checker in Go (following upstream's
// ast_checker.py rules), the held-out synthetic evaluation, retrieval recall and the
// confidence calibration table.
package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Decode parses JSON keeping integers and floats apart (json.Number), as Python does.
func Decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Call is one predicted call: {"name": ..., "arguments": {...}}.
type Call struct {
	Name string         `json:"name"`
	Args map[string]any `json:"arguments"`
}

// Func is a function description in BFCL's dialect.
type Func struct {
	Name       string
	Properties map[string]map[string]any
	Required   []string
}

// ParseFuncs reads BFCL "function" entries.
func ParseFuncs(v any) []Func {
	arr, _ := v.([]any)
	var out []Func
	for _, x := range arr {
		m, _ := x.(map[string]any)
		f := Func{Properties: map[string]map[string]any{}}
		f.Name, _ = m["name"].(string)
		params, _ := m["parameters"].(map[string]any)
		props, _ := params["properties"].(map[string]any)
		for k, p := range props {
			pm, _ := p.(map[string]any)
			f.Properties[k] = pm
		}
		if req, ok := params["required"].([]any); ok {
			for _, r := range req {
				if s, ok := r.(string); ok {
					f.Required = append(f.Required, s)
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// Answer is one ground-truth call: function name -> parameter -> acceptable values.
type Answer struct {
	Name   string
	Params map[string][]any
}

// ParseAnswers reads a BFCL "ground_truth" list.
func ParseAnswers(v any) []Answer {
	arr, _ := v.([]any)
	var out []Answer
	for _, x := range arr {
		m, _ := x.(map[string]any)
		for name, params := range m {
			a := Answer{Name: name, Params: map[string][]any{}}
			pm, _ := params.(map[string]any)
			for k, vals := range pm {
				l, _ := vals.([]any)
				a.Params[k] = l
			}
			out = append(out, a)
		}
	}
	return out
}

var stdRE = regexp.MustCompile(`[ ,./\-_*^]`)

// standardize is upstream's standardize_string: drop spaces and , . / - _ * ^, lower-case,
// and turn ' into ".
func standardize(s string) string {
	return strings.ReplaceAll(strings.ToLower(stdRE.ReplaceAllString(s, "")), "'", `"`)
}

// pyType is the Python type name a JSON value decodes to.
func pyType(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "float"
		}
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

var typeMap = map[string]string{"string": "str", "integer": "int", "float": "float", "number": "float", "boolean": "bool",
	"array": "list", "tuple": "list", "dict": "dict", "object": "dict"}

// typeOK checks value against a BFCL type; an int passes for a float only at the top level.
func typeOK(value any, bfclType string, nested bool) bool {
	if bfclType == "any" || bfclType == "" {
		return true
	}
	want, ok := typeMap[bfclType]
	if !ok {
		return true
	}
	got := pyType(value)
	if got == want {
		return true
	}
	return want == "float" && got == "int" && !nested
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// pyEqual is Python's == on decoded JSON values (1 == 1.0; True == 1).
func pyEqual(a, b any) bool {
	if fa, ok := num(a); ok {
		if fb, ok := num(b); ok {
			return fa == fb || (math.IsNaN(fa) && math.IsNaN(fb))
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !pyEqual(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

func standardizeDeep(v any) any {
	switch x := v.(type) {
	case string:
		return standardize(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = standardizeDeep(e)
		}
		return out
	}
	return v
}

// Result of a check.
type Result struct {
	OK     bool
	Reason string
}

func fail(format string, a ...any) Result { return Result{Reason: fmt.Sprintf(format, a...)} }

// CheckSimple is upstream's simple_function_checker for one call.
func CheckSimple(f Func, call Call, ans Answer) Result {
	if call.Name != ans.Name || call.Name != f.Name {
		return fail("wrong function name %q, want %q", call.Name, ans.Name)
	}
	for _, r := range f.Required {
		if _, ok := call.Args[r]; !ok {
			return fail("missing required parameter %q", r)
		}
	}
	// In key order, so the reason names the same parameter on every run.
	for _, k := range slices.Sorted(maps.Keys(call.Args)) {
		v := call.Args[k]
		details, inSchema := f.Properties[k]
		accept, inAnswer := ans.Params[k]
		if !inSchema || !inAnswer {
			return fail("unexpected parameter %q", k)
		}
		typ, _ := details["type"].(string)
		if !typeOK(v, typ, false) {
			return fail("parameter %q: type %s, want %s", k, pyType(v), typ)
		}
		if typ == "array" || typ == "tuple" {
			if items, ok := details["items"].(map[string]any); ok {
				it, _ := items["type"].(string)
				for _, e := range v.([]any) {
					if !typeOK(e, it, true) {
						return fail("parameter %q: element type %s, want %s", k, pyType(e), it)
					}
				}
			}
		}
		if r := checkValue(k, v, accept); !r.OK {
			return r
		}
	}
	for k, accept := range ans.Params {
		if _, ok := call.Args[k]; ok {
			continue
		}
		if !containsEmpty(accept) {
			return fail("optional parameter %q not provided and has no default", k)
		}
	}
	return Result{OK: true}
}

func containsEmpty(vals []any) bool {
	for _, v := range vals {
		if s, ok := v.(string); ok && s == "" {
			return true
		}
	}
	return false
}

func checkValue(k string, v any, accept []any) Result {
	switch x := v.(type) {
	case string:
		sv := standardize(x)
		for _, a := range accept {
			if as, ok := a.(string); ok && standardize(as) == sv {
				return Result{OK: true}
			}
		}
		return fail("parameter %q: value %q not among %v", k, x, accept)
	case []any:
		if len(x) > 0 {
			if _, isDict := x[0].(map[string]any); isDict {
				return listDictCheck(k, x, accept)
			}
		}
		sv := standardizeDeep(x)
		for _, a := range accept {
			if pyEqual(sv, standardizeDeep(a)) {
				return Result{OK: true}
			}
		}
		return fail("parameter %q: list %v not among %v", k, x, accept)
	case map[string]any:
		return dictCheck(k, x, accept)
	}
	for _, a := range accept {
		if pyEqual(v, a) {
			return Result{OK: true}
		}
	}
	return fail("parameter %q: value %v not among %v", k, v, accept)
}

// dictCheck is upstream's dict_checker: every given key must be acceptable, and every
// answer key without "" among its values must be given.
func dictCheck(k string, m map[string]any, accept []any) Result {
	for _, a := range accept {
		am, ok := a.(map[string]any)
		if !ok {
			continue
		}
		good := true
		for key, val := range m {
			opts, ok := am[key].([]any)
			if !ok {
				good = false
				break
			}
			sv := standardizeDeep(val)
			found := false
			for _, o := range opts {
				if pyEqual(sv, standardizeDeep(o)) {
					found = true
					break
				}
			}
			if !found {
				good = false
				break
			}
		}
		for key, opts := range am {
			if _, given := m[key]; !given {
				if l, _ := opts.([]any); !containsEmpty(l) {
					good = false
				}
			}
		}
		if good {
			return Result{OK: true}
		}
	}
	return fail("parameter %q: dict %v not among %v", k, m, accept)
}

// listDictCheck is upstream's list_dict_checker: same length, each dict acceptable in order.
func listDictCheck(k string, l []any, accept []any) Result {
	for _, a := range accept {
		al, ok := a.([]any)
		if !ok || len(al) != len(l) {
			continue
		}
		good := true
		for i := range l {
			m, _ := l[i].(map[string]any)
			if m == nil || !dictCheck(k, m, []any{al[i]}).OK {
				good = false
				break
			}
		}
		if good {
			return Result{OK: true}
		}
	}
	return fail("parameter %q: list of dicts %v not among %v", k, l, accept)
}

func findFunc(funcs []Func, name string) (Func, bool) {
	for _, f := range funcs {
		if f.Name == name {
			return f, true
		}
	}
	return Func{}, false
}

// Check scores one prediction for a category.
func Check(category string, funcs []Func, calls []Call, answers []Answer) Result {
	switch {
	case strings.Contains(category, "irrelevance"):
		if len(calls) == 0 {
			return Result{OK: true}
		}
		return fail("made %d call(s) where none was wanted", len(calls))
	case strings.Contains(category, "relevance"):
		if len(calls) > 0 {
			return Result{OK: true}
		}
		return fail("made no call where one was wanted")
	case strings.Contains(category, "parallel"):
		if len(calls) != len(answers) {
			return fail("made %d calls, want %d", len(calls), len(answers))
		}
		used := make([]bool, len(calls))
		for _, a := range answers {
			f, ok := findFunc(funcs, a.Name)
			if !ok {
				return fail("answer function %q not in the function list", a.Name)
			}
			matched := false
			for i, c := range calls {
				if !used[i] && CheckSimple(f, c, a).OK {
					used[i], matched = true, true
					break
				}
			}
			if !matched {
				return fail("no call matches the answer for %q", a.Name)
			}
		}
		return Result{OK: true}
	}
	// simple and multiple: exactly one call
	if len(calls) != 1 || len(answers) != 1 {
		return fail("made %d calls, want 1", len(calls))
	}
	f, ok := findFunc(funcs, answers[0].Name)
	if !ok {
		return fail("answer function %q not in the function list", answers[0].Name)
	}
	return CheckSimple(f, calls[0], answers[0])
}

// ParseCalls reads predicted calls from [{"name":..., "arguments":{...}}].
func ParseCalls(v any) ([]Call, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("calls must be a list")
	}
	var out []Call
	for _, x := range arr {
		m, _ := x.(map[string]any)
		name, _ := m["name"].(string)
		args, _ := m["arguments"].(map[string]any)
		if args == nil {
			args = map[string]any{}
		}
		out = append(out, Call{Name: name, Args: args})
	}
	return out, nil
}
