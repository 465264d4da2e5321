package finetune

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/toolspec"
)

func homeTools(t *testing.T) []registry.Tool {
	t.Helper()
	raw, err := os.ReadFile("testdata/home_tools.json")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := registry.Parse(raw, registry.Limits{}, "tools")
	if err != nil {
		t.Fatal(err)
	}
	return tools
}

func homeExamples(t *testing.T) []Example {
	t.Helper()
	f, err := os.Open("testdata/home_examples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := ReadExamples(f, "home_examples.jsonl", homeTools(t))
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestReadExamples(t *testing.T) {
	ex := homeExamples(t)
	if len(ex) != 33 {
		t.Fatalf("%d examples", len(ex))
	}
	// Arguments come back in the tool's parameter order, whatever order the file used.
	if got := string(ex[0].Answers[0].Arguments); got != `{"temperature": 21, "room": "living room"}` {
		t.Errorf("arguments %s", got)
	}
	if ex[30].Answers == nil || len(ex[30].Answers) != 0 || ex[30].Line != 31 {
		t.Errorf("no-call example %+v", ex[30])
	}
}

func TestReadExamplesErrors(t *testing.T) {
	tools := homeTools(t)
	for _, tc := range []struct{ line, want string }{
		{`{"query": "open the garage", "answers": [{"name": "open_door", "arguments": {}}]}`, `x.jsonl:2: answers[0].name: "open_door" is not a tool of the toolset`},
		{`{"query": "lock the side door", "answers": [{"name": "lock_door", "arguments": {"door": "side"}}]}`, `x.jsonl:2: answers[0].arguments:`},
		{`{"query": "heat", "answers": [{"name": "set_thermostat", "arguments": {"room": "hall"}}]}`, `x.jsonl:2: answers[0].arguments:`},
		{`{"query": "", "answers": []}`, `x.jsonl:2: query: empty`},
		{`{"query": "hello"}`, `x.jsonl:2: answers: missing`},
		{`not json`, `x.jsonl:2: not an example object`},
		// A misspelt parameter is an error, not dropped (it would teach leaving the real one out).
		{`{"query": "heat the hall to 20", "answers": [{"name": "set_thermostat", "arguments": {"temperature": 20, "rooom": "hall"}}]}`, `x.jsonl:2: answers[0].arguments: "rooom" is not a parameter of set_thermostat (parameters: temperature, room)`},
	} {
		in := `{"query": "lock the front door", "answers": [{"name": "lock_door", "arguments": {"door": "front"}}]}` + "\n" + tc.line + "\n"
		_, err := ReadExamples(strings.NewReader(in), "x.jsonl", tools)
		if err == nil || !errors.Is(err, ErrExamples) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.line, err, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	ex := homeExamples(t)
	train, held := Split(ex, 0.2, 7)
	if len(train)+len(held) != len(ex) {
		t.Fatal("examples lost")
	}
	per := map[string]int{}
	for _, e := range held {
		k := ""
		if len(e.Answers) > 0 {
			k = e.Answers[0].Name
		}
		per[k]++
	}
	if !reflect.DeepEqual(per, map[string]int{"set_thermostat": 2, "lock_door": 2, "water_plants": 2, "": 1}) {
		t.Errorf("held out per tool %v", per)
	}
	t2, h2 := Split(ex, 0.2, 7)
	if !reflect.DeepEqual(train, t2) || !reflect.DeepEqual(held, h2) {
		t.Error("Split is not deterministic for a seed")
	}
	if _, h3 := Split(ex, 0.2, 8); reflect.DeepEqual(held, h3) {
		t.Error("another seed held out the same examples")
	}
}

func TestRows(t *testing.T) {
	tools := registry.Specs(homeTools(t))
	ex := homeExamples(t)
	rows := Rows(tools, ex, RowOptions{PerExample: 4}, 3)
	if again := Rows(tools, ex, RowOptions{PerExample: 4}, 3); !reflect.DeepEqual(rows, again) {
		t.Fatal("Rows is not deterministic for a seed")
	}
	replay, varied, withheld := 0, 0, 0
	queries := map[string]bool{}
	for _, e := range ex {
		queries[e.Query] = true
	}
	for _, r := range rows {
		offered, err := toolspec.ParseFlat(r.Tools)
		if err != nil {
			t.Fatal(err)
		}
		home := false
		for _, o := range offered {
			home = home || o.Name == "lock_door" || o.Name == "set_thermostat" || o.Name == "water_plants"
		}
		if !home {
			replay++
			continue
		}
		for _, a := range r.Answers {
			found := false
			for _, o := range offered {
				found = found || o.Name == a.Name
			}
			if !found {
				t.Fatalf("row %q wants %s, not offered", r.Query, a.Name)
			}
		}
		if !queries[r.Query] {
			varied++
			// A varied row swaps a said value in the query and the answer alike.
			for _, a := range r.Answers {
				if strings.Contains(string(a.Arguments), `"room"`) && !strings.Contains(r.Query, strings.Split(strings.Split(string(a.Arguments), `"room": "`)[1], `"`)[0]) {
					t.Errorf("varied row %q: room %s not in the query", r.Query, a.Arguments)
				}
			}
		}
		if len(r.Answers) == 0 && !strings.Contains("what's the weather like tomorrow play some jazz call my sister", r.Query) {
			withheld++
		}
	}
	// 33 examples x 4, and replay rows making up 30% of all (the generator has a
	// thermostat tool of its own, so rows are counted, not classified, here).
	if n := 33*4 + 33*4*3/7; len(rows) != n {
		t.Errorf("%d rows, want %d", len(rows), n)
	}
	if replay < 40 || varied < 20 || withheld == 0 {
		t.Errorf("replay %d, varied %d, withheld %d", replay, varied, withheld)
	}
}

// Capture rows of other toolsets are skipped; this toolset's rows become examples, checked
// like examples (a bad one is named by its line in the capture file).
func TestReadCaptures(t *testing.T) {
	tools := homeTools(t)
	home := `[{"name":"set_thermostat","description":"d","parameters":{}},{"name":"lock_door","description":"d","parameters":{}},{"name":"water_plants","description":"d","parameters":{}}]`
	other := `[{"name":"set_timer","description":"d","parameters":{}}]`
	in := `{"query": "lock the back door", "tools": ` + home + `, "answers": [{"name": "lock_door", "arguments": {"door": "back"}}]}
{"query": "timer for five minutes", "tools": ` + other + `, "answers": [{"name": "set_timer", "arguments": {"minutes": 5}}]}
{"query": "hello there", "tools": ` + home + `, "answers": []}
`
	ex, skipped, err := ReadCaptures(strings.NewReader(in), "escalations.jsonl", tools)
	if err != nil || skipped != 1 || len(ex) != 2 || ex[0].Query != "lock the back door" || ex[1].Line != 3 {
		t.Fatalf("got %+v, skipped %d, %v", ex, skipped, err)
	}
	bad := in + `{"query": "lock the side door", "tools": ` + home + `, "answers": [{"name": "lock_door", "arguments": {"door": "side"}}]}` + "\n"
	if _, _, err := ReadCaptures(strings.NewReader(bad), "escalations.jsonl", tools); err == nil || !strings.Contains(err.Error(), "escalations.jsonl:4: answers[0].arguments") {
		t.Errorf("bad row: %v", err)
	}
}

func TestFewExamples(t *testing.T) {
	tools := homeTools(t)
	ex := homeExamples(t) // 10 per tool
	if w := FewExamples(ex, tools, 10); len(w) != 0 {
		t.Errorf("10 examples each: warnings %q", w)
	}
	var fewer []Example
	dropped := false
	for _, e := range ex {
		if !dropped && len(e.Answers) == 1 && e.Answers[0].Name == "lock_door" {
			dropped = true
			continue
		}
		fewer = append(fewer, e)
	}
	if w := FewExamples(fewer, tools, 10); len(w) != 1 || !strings.HasPrefix(w[0], "lock_door has 9 examples; 10 or more") {
		t.Errorf("one lock_door example fewer: warnings %q", w)
	}
	if w := FewExamples(nil, tools, 1); len(w) != 3 || !strings.HasPrefix(w[2], "water_plants has 0 examples") {
		t.Errorf("no examples: warnings %q", w)
	}
}
