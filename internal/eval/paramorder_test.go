package eval

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

func TestReorderParams(t *testing.T) {
	fns := json.RawMessage(`[{"name":"a","description":"d","parameters":{"type":"dict","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer","description":"x"},"mid":{"type":"string"}},"required":["zeta"]}},{"name":"b","parameters":{"type":"dict","properties":{}}},{"name":"c"}]`)
	propsOf := func(t *testing.T, fns json.RawMessage) [][]string {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(fns, &list); err != nil {
			t.Fatal(err)
		}
		var out [][]string
		for _, f := range list {
			var p map[string]json.RawMessage
			json.Unmarshal(f["parameters"], &p)
			keys, _, err := toolspec.OrderedObject(p["properties"])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, keys)
		}
		return out
	}
	for _, c := range []struct {
		order string
		want  []string
	}{
		{"given", []string{"zeta", "alpha", "mid"}},
		{"sorted", []string{"alpha", "mid", "zeta"}},
		{"reversed", []string{"mid", "alpha", "zeta"}},
	} {
		got, err := ReorderParams(fns, c.order, 1)
		if err != nil {
			t.Fatal(c.order, err)
		}
		p := propsOf(t, got)
		if !slices.Equal(p[0], c.want) || len(p[1]) != 0 || p[2] != nil {
			t.Errorf("%s: properties %v, want %v first", c.order, p, c.want)
		}
		// Only the order changes: the same functions, decoded.
		var a, b any
		json.Unmarshal(fns, &a)
		json.Unmarshal(got, &b)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s changed more than the order:\n%s\n%s", c.order, ja, jb)
		}
	}
	seen := map[string]bool{}
	for seed := range uint64(40) {
		got, err := ReorderParams(fns, "shuffled", seed)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := ReorderParams(fns, "shuffled", seed)
		if string(got) != string(again) {
			t.Fatal("shuffled is not deterministic for a seed")
		}
		p := propsOf(t, got)[0]
		seen[string(mustJSON(p))] = true
	}
	if len(seen) != 6 {
		t.Errorf("shuffled gave %d of the 6 orders over 40 seeds", len(seen))
	}
	for _, bad := range []struct {
		fns   string
		order string
	}{{`[]`, "random"}, {`{"name":"a"}`, "sorted"}, {`[1]`, "sorted"}, {`[{"parameters":{"properties":[1]}}]`, "sorted"}} {
		if _, err := ReorderParams(json.RawMessage(bad.fns), bad.order, 0); err == nil {
			t.Errorf("ReorderParams(%s, %s): no error", bad.fns, bad.order)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// ReorderEntries reorders every entry's functions; shuffled draws from the entry's id, so
// two runs agree and two ids mostly differ.
func TestReorderEntries(t *testing.T) {
	fns := json.RawMessage(`[{"name":"a","parameters":{"type":"dict","properties":{"p1":{},"p2":{},"p3":{},"p4":{},"p5":{}}}}]`)
	mk := func() map[string][]Entry {
		var es []Entry
		for i := range 20 {
			es = append(es, Entry{ID: "x_" + string(rune('a'+i)), Functions: fns})
		}
		return map[string][]Entry{"x": es}
	}
	a, b := mk(), mk()
	if err := ReorderEntries(a, "shuffled"); err != nil {
		t.Fatal(err)
	}
	ReorderEntries(b, "shuffled")
	distinct := map[string]bool{}
	for i, e := range a["x"] {
		if string(e.Functions) != string(b["x"][i].Functions) {
			t.Fatalf("%s: shuffled differs between runs", e.ID)
		}
		distinct[string(e.Functions)] = true
	}
	if len(distinct) < 10 {
		t.Errorf("20 ids gave %d orders", len(distinct))
	}
	s := mk()
	if err := ReorderEntries(s, "reversed"); err != nil {
		t.Fatal(err)
	}
	if want := `[{"name":"a","parameters":{"type":"dict","properties":{"p5":{},"p4":{},"p3":{},"p2":{},"p1":{}}}}]`; string(s["x"][0].Functions) != want {
		t.Errorf("reversed: %s", s["x"][0].Functions)
	}
	if err := ReorderEntries(mk(), "random"); err == nil {
		t.Error("an unknown order: no error")
	}
}
