package eval

import (
	"os"
	"sort"
	"strings"
	"testing"
)

const bfclDir = "../../../shared/bfcl"

// upstreamNeverPasses lists ground-truth items that fail upstream's own rules when fed back
// as predictions: the ground truth contradicts its function schema (a bool or int answer for
// a string parameter, ints in a float list, a required parameter marked optional, a parameter
// the schema lacks). No model can pass them under upstream's checker either.
var upstreamNeverPasses = map[string]string{
	"live_multiple_1038-265-0": `optional parameter "start_date" not provided and has no default`,
	"live_multiple_507-149-4":  `missing required parameter "origin_airport"`,
	"live_multiple_552-153-1":  `parameter "is_unisex": type bool, want string`,
	"live_multiple_595-158-1":  `parameter "number_of_rooms": type int, want string`,
	"live_multiple_596-158-2":  `parameter "number_of_rooms": type int, want string`,
	"live_multiple_731-167-2":  `parameter "in_unit_laundry": type bool, want string`,
	"live_multiple_733-167-4":  `parameter "in_unit_laundry": type bool, want string`,
	"live_multiple_735-167-6":  `parameter "in_unit_laundry": type bool, want string`,
	"live_multiple_862-181-3":  `unexpected parameter "journey_start_time"`,
	"live_multiple_964-207-0":  `missing required parameter "statement"`,
	"live_simple_106-63-0":     `missing required parameter "auto_loan_payment_start"`,
	"live_simple_112-68-0":     `missing required parameter "acc_routing_start"`,
	"live_simple_121-77-0":     `parameter "data_values": element type int, want float`,
	"parallel_multiple_187":    `no call matches the answer for "array_sort"`,
	"parallel_multiple_195":    `no call matches the answer for "calculate_area_under_curve"`,
	"parallel_multiple_21":     `no call matches the answer for "linear_regression_fit"`,
	"parallel_multiple_94":     `no call matches the answer for "sort_list"`,
}

func TestGroundTruthPasses(t *testing.T) {
	if _, err := os.Stat(bfclDir); err != nil {
		t.Skip("BFCL data not present")
	}
	data, err := LoadBFCL(bfclDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	total, failed := 0, []string{}
	for cat, entries := range data {
		for _, e := range entries {
			var calls []Call
			switch {
			case strings.Contains(cat, "irrelevance"):
			case strings.Contains(cat, "relevance"):
				calls = []Call{{Name: e.Funcs[0].Name, Args: map[string]any{}}}
			default:
				calls = GroundTruthCalls(e.Funcs, e.Answers)
			}
			total++
			if r := Check(cat, e.Funcs, calls, e.Answers); !r.OK {
				if _, known := upstreamNeverPasses[e.ID]; !known {
					failed = append(failed, e.ID+": "+r.Reason)
				}
			}
		}
	}
	sort.Strings(failed)
	for _, f := range failed {
		t.Errorf("ground truth fails: %s", f)
	}
	t.Logf("%d items, %d known upstream exceptions", total, len(upstreamNeverPasses))
}

func decodeT(t *testing.T, s string) any {
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// One mutation per rule: each must turn a passing prediction into a failing one.
func TestCheckerRules(t *testing.T) {
	funcs := ParseFuncs(decodeT(t, `[{"name":"f","parameters":{"type":"dict","properties":{
		"city":{"type":"string"},"n":{"type":"integer"},"x":{"type":"float"},"xs":{"type":"array","items":{"type":"float"}},
		"tags":{"type":"array","items":{"type":"string"}},"opt":{"type":"string"},"d":{"type":"dict"},"flag":{"type":"boolean"}},
		"required":["city","n"]}},{"name":"g","parameters":{"type":"dict","properties":{"a":{"type":"integer"}},"required":["a"]}}]`))
	answers := ParseAnswers(decodeT(t, `[{"f":{"city":["San Francisco, CA"],"n":[3],"x":[2.0],"xs":[[1.5,2.0]],"tags":[["a","b"]],
		"opt":["x",""],"d":[{"k":["v"],"j":[1,""]}],"flag":[true]}}]`))
	good := `{"city":"san francisco ca","n":3,"x":2,"xs":[1.5,2.0],"tags":["A","b"],"d":{"k":"v"},"flag":true}`
	check := func(name, args string) Result {
		m, _ := decodeT(t, args).(map[string]any)
		return Check("simple_python", funcs, []Call{{Name: name, Args: m}}, answers)
	}
	if r := check("f", good); !r.OK {
		t.Fatalf("good prediction fails: %s", r.Reason)
	}
	mut := func(name, args, rule string) {
		t.Helper()
		if r := check(name, args); r.OK {
			t.Errorf("rule %q: mutation %s passed", rule, args)
		}
	}
	mut("g", good, "function name must match")
	mut("f", strings.Replace(good, `"n":3,`, ``, 1), "required parameter present")
	mut("f", strings.Replace(good, `"flag":true`, `"flag":true,"zzz":1`, 1), "no parameter absent from schema or answer")
	mut("f", strings.Replace(good, `,"flag":true`, ``, 1), "optional omitted only if \"\" is acceptable")
	mut("f", strings.Replace(good, `"n":3`, `"n":3.0`, 1), "strict types: float for integer")
	mut("f", strings.Replace(good, `"n":3`, `"n":"3"`, 1), "strict types: string for integer")
	mut("f", strings.Replace(good, `"xs":[1.5,2.0]`, `"xs":[1.5,2]`, 1), "int for float only at top level")
	mut("f", strings.Replace(good, `"flag":true`, `"flag":1`, 1), "strict types: int for boolean")
	mut("f", strings.Replace(good, `san francisco ca`, `san jose ca`, 1), "string value compared")
	mut("f", strings.Replace(good, `["A","b"]`, `["b","A"]`, 1), "lists are order-sensitive")
	mut("f", strings.Replace(good, `{"k":"v"}`, `{"k":"w"}`, 1), "dict values key by key")
	mut("f", strings.Replace(good, `{"k":"v"}`, `{"k":"v","z":1}`, 1), "dict keys must be in the answer")
	// Upstream's string normalisation: spaces , . / - _ * ^ dropped, case folded, ' -> ".
	if r := check("f", strings.Replace(good, `san francisco ca`, `San_Francisco-CA.`, 1)); !r.OK {
		t.Errorf("normalised string rejected: %s", r.Reason)
	}
	// Parallel: exact count, first-fit matching in any order.
	pfuncs := funcs
	pans := ParseAnswers(decodeT(t, `[{"g":{"a":[1]}},{"g":{"a":[2]}}]`))
	calls := func(s string) []Call { c, _ := ParseCalls(decodeT(t, s)); return c }
	if r := Check("parallel", pfuncs, calls(`[{"name":"g","arguments":{"a":2}},{"name":"g","arguments":{"a":1}}]`), pans); !r.OK {
		t.Errorf("parallel in another order rejected: %s", r.Reason)
	}
	if r := Check("parallel", pfuncs, calls(`[{"name":"g","arguments":{"a":2}}]`), pans); r.OK {
		t.Error("parallel with a missing call passed")
	}
	if r := Check("parallel", pfuncs, calls(`[{"name":"g","arguments":{"a":1}},{"name":"g","arguments":{"a":1}}]`), pans); r.OK {
		t.Error("parallel matching the same answer twice passed")
	}
	if r := Check("irrelevance", pfuncs, calls(`[{"name":"g","arguments":{"a":1}}]`), nil); r.OK {
		t.Error("irrelevance with a call passed")
	}
	if r := Check("live_relevance", pfuncs, nil, nil); r.OK {
		t.Error("relevance without a call passed")
	}
	if r := Check("simple_python", funcs, nil, answers); r.OK {
		t.Error("simple with no call passed")
	}
}

// JSON numbers keep integer vs float apart.
func TestDecodeKeepsIntFloat(t *testing.T) {
	v := decodeT(t, `[1, 1.0, 1e2]`).([]any)
	if pyType(v[0]) != "int" || pyType(v[1]) != "float" || pyType(v[2]) != "float" {
		t.Fatalf("types %s %s %s", pyType(v[0]), pyType(v[1]), pyType(v[2]))
	}
}
