package synth

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/registry"
)

func TestRowsAreDeterministic(t *testing.T) {
	g := New(Config{Seed: 9})
	for i := uint64(0); i < 50; i++ {
		if a, b := g.Row(i), g.Row(i); !reflect.DeepEqual(a, b) {
			t.Fatalf("row %d differs between calls", i)
		}
	}
}

// Every answer calls an offered tool with arguments that validate against its schema, and
// string values are mostly copied from the query (grounded).
func TestRowsAreValidAndGrounded(t *testing.T) {
	for _, cfg := range []Config{{Seed: 5}, {Seed: 5, Split: HeldOut}, {Seed: 6, MinTools: 1, MaxTools: 3, MaxDescLen: 80, Long: -1},
		{Seed: 7, MinTools: 6, MaxTools: 10, Long: 1, Mask: 0.5}} {
		checkRows(t, cfg)
	}
}

func checkRows(t *testing.T, cfg Config) {
	split := cfg.Split
	{
		g := New(cfg)
		lo, hi := g.cfg.MinTools, g.cfg.MaxTools
		var strVals, grounded, calls, noCalls int
		for i := uint64(0); i < 2000; i++ {
			row := g.Row(i)
			tools, err := registry.Parse(row.Tools, registry.Limits{}, "tools")
			if err != nil {
				t.Fatalf("row %d tools: %v\n%s", i, err, row.Tools)
			}
			if len(tools) < lo || len(tools) > hi {
				t.Fatalf("cfg %+v row %d offers %d tools", cfg, i, len(tools))
			}
			if cfg.MaxDescLen > 0 {
				for _, tl := range tools {
					if len(tl.Spec.Description) > cfg.MaxDescLen {
						t.Fatalf("row %d: description longer than %d: %q", i, cfg.MaxDescLen, tl.Spec.Description)
					}
					for _, p := range tl.Spec.Params {
						if len(p.Description) > cfg.MaxDescLen {
							t.Fatalf("row %d: param description longer than %d: %q", i, cfg.MaxDescLen, p.Description)
						}
					}
				}
			}
			seen := map[string]bool{}
			for _, a := range row.Answers {
				if seen[string(a.Arguments)+a.Name] {
					t.Fatalf("row %d repeats an identical call %s %s", i, a.Name, a.Arguments)
				}
				seen[string(a.Arguments)+a.Name] = true
			}
			if len(row.Answers) == 0 {
				noCalls++
			}
			for _, a := range row.Answers {
				calls++
				var tool *registry.Tool
				for j := range tools {
					if tools[j].Spec.Name == a.Name {
						tool = &tools[j]
					}
				}
				if tool == nil {
					t.Fatalf("row %d calls unoffered %s", i, a.Name)
				}
				if err := tool.ValidateArgs(a.Arguments); err != nil {
					t.Fatalf("row %d: %v\nquery %q args %s", i, err, row.Query, a.Arguments)
				}
				var args map[string]any
				json.Unmarshal(a.Arguments, &args)
				for k, v := range args {
					p := tool.Spec.Param(k)
					if s, ok := v.(string); ok && p.Enum == nil {
						strVals++
						if strings.Contains(strings.ToLower(row.Query), strings.ToLower(s)) {
							grounded++
						}
					}
				}
			}
		}
		if frac := float64(grounded) / float64(strVals); frac < 0.75 {
			t.Errorf("split %d: only %.0f%% of free string values appear in the query", split, 100*frac)
		}
		if noCalls < 100 || calls < 2000 {
			t.Errorf("split %d: %d no-call rows, %d calls in 2000 rows", split, noCalls, calls)
		}
	}
}

// The training split never offers a tool of a held-out family nor uses a held-out template.
func TestHeldOutFamiliesStayOut(t *testing.T) {
	held := map[string]bool{}
	for _, f := range families {
		if heldOutFamilies[f.key] {
			for _, n := range f.names {
				held[n] = true
			}
		}
	}
	g := New(Config{Seed: 2})
	for i := uint64(0); i < 3000; i++ {
		var tools []struct{ Name string }
		json.Unmarshal(g.Row(i).Tools, &tools)
		for _, tl := range tools {
			name := tl.Name
			if k := strings.LastIndexByte(name, '.'); k >= 0 {
				name = name[k+1:]
			}
			if held[name] {
				t.Fatalf("train row %d offers held-out tool %s", i, tl.Name)
			}
		}
	}
}

func TestTemplatesNameEveryRequiredParam(t *testing.T) {
	for _, f := range families {
		for _, tpl := range f.tpls {
			for _, p := range f.params {
				if p.req && !strings.Contains(tpl, "{"+p.key+"}") {
					t.Errorf("family %s template %q lacks required {%s}", f.key, tpl, p.key)
				}
			}
			for _, part := range strings.Split(tpl, "{")[1:] {
				f.paramByKey(part[:strings.IndexByte(part, '}')]) // panics on an unknown slot
			}
		}
		for _, p := range f.params {
			for _, a := range p.alts {
				if slots[a.slot] == nil {
					t.Errorf("family %s param %s: no slot %q", f.key, p.key, a.slot)
				}
			}
		}
	}
	if len(families) < 30 {
		t.Errorf("%d families, want at least 30", len(families))
	}
}

func BenchmarkRows(b *testing.B) {
	g := New(Config{Seed: 1})
	i := uint64(0)
	for b.Loop() {
		row := g.Row(i)
		if _, err := json.Marshal(row); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
