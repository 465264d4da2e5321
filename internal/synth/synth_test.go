package synth

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/brianvoe/gofakeit/v7"

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
		{Seed: 7, MinTools: 6, MaxTools: 10, Long: 1, Mask: 0.5}, {Seed: 8, Written: 0.5}, {Seed: 8, Written: 0.5, Split: HeldOut}} {
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

// The catalogue is consistent: tool names belong to one family only (so held-out isolation
// can be checked by name), near-miss lists name real families, and there are enough families.
func TestCatalogue(t *testing.T) {
	owner := map[string]string{}
	for _, f := range families {
		for _, n := range f.names {
			if o, ok := owner[n]; ok && o != f.key {
				t.Errorf("tool name %s in families %s and %s", n, o, f.key)
			}
			owner[n] = f.key
		}
	}
	for k, ns := range near {
		if familyByKey[k] == nil {
			t.Errorf("near: no family %s", k)
		}
		for _, n := range ns {
			if familyByKey[n] == nil || n == k {
				t.Errorf("near[%s]: bad family %s", k, n)
			}
		}
	}
	for k, ns := range couldServe {
		for _, n := range append(ns, k) {
			if familyByKey[n] == nil {
				t.Errorf("couldServe: no family %s", n)
			}
		}
	}
	if len(families) < 60 {
		t.Errorf("%d families, want at least 60", len(families))
	}
	held := 0
	for _, f := range families2 {
		if heldOutFamilies[f.key] {
			held++
		}
	}
	if held < 3 {
		t.Errorf("only %d new families are held out", held)
	}
}

// Training rows never show a held-out family's description, not even as a "do not use it
// to ..." note of a long row, nor a held-out composed domain.
func TestHeldOutDescriptionsStayOut(t *testing.T) {
	var descs []string
	for _, f := range families {
		if heldOutFamilies[f.key] {
			for _, d := range f.descs {
				descs = append(descs, strings.ToLower(strings.TrimSuffix(d, ".")))
			}
		}
	}
	var objects []string
	for _, d := range compDomains[len(compDomains)-heldOutCompDomains:] {
		for _, o := range d.objects {
			objects = append(objects, strings.ReplaceAll(o, " ", "_"))
		}
	}
	g := New(Config{Seed: 4, Long: 1, NearMiss: 1})
	for i := uint64(0); i < 2000; i++ {
		tools := strings.ToLower(string(g.Row(i).Tools))
		for _, d := range descs {
			if strings.Contains(tools, d) {
				t.Fatalf("train row %d shows held-out description %q", i, d)
			}
		}
		for _, o := range objects {
			if strings.Contains(tools, `"name":"`) && strings.Contains(tools, "_"+o+`"`) {
				t.Fatalf("train row %d offers a tool of a held-out composed domain (%s)", i, o)
			}
		}
	}
}

// Knobs: the tool count stays within [MinTools, MaxTools] and covers it; masking and long
// rows happen at about the asked rates; rows stay deterministic under every knob.
func TestKnobs(t *testing.T) {
	cfg := Config{Seed: 3, MinTools: 4, MaxTools: 7, Long: 0.5, Mask: 0.3, MaxDescLen: 200}
	g := New(cfg)
	counts := map[int]int{}
	long := 0
	for i := uint64(0); i < 1000; i++ {
		row := g.Row(i)
		if !reflect.DeepEqual(row, g.Row(i)) {
			t.Fatalf("row %d not deterministic", i)
		}
		var tools []struct{ Name string }
		json.Unmarshal(row.Tools, &tools)
		counts[len(tools)]++
		if strings.Contains(string(row.Tools), "Optional; leave out") || strings.Contains(string(row.Tools), " Required.") ||
			strings.Contains(string(row.Tools), "Must be given.") || strings.Contains(string(row.Tools), "This value is required.") {
			long++
		}
	}
	for n := 4; n <= 7; n++ {
		if counts[n] == 0 {
			t.Errorf("no row with %d tools: %v", n, counts)
		}
	}
	if len(counts) != 4 {
		t.Errorf("tool counts outside 4-7: %v", counts)
	}
	if long < 300 || long > 700 {
		t.Errorf("%d long rows of 1000 at Long 0.5", long)
	}
	// Negative fractions turn features off.
	g = New(Config{Seed: 3, Long: -1, Mask: -1, NearMiss: -1})
	for i := uint64(0); i < 300; i++ {
		s := string(g.Row(i).Tools)
		if strings.Contains(s, `"fn_`) || strings.Contains(s, " Required.") {
			t.Fatalf("row %d masked or long with both off: %s", i, s)
		}
	}
}

// Spoken numbers, times and units that need rewriting come out with the right value.
func TestSpokenValues(t *testing.T) {
	if got := digitWords("4021"); got != "four oh two one" {
		t.Errorf("digitWords(4021) = %q", got)
	}
	g := New(Config{Seed: 1})
	for i := uint64(0); i < 3000; i++ {
		gg := &gen{r: rand.New(rand.NewPCG(i, 1)), cfg: &g.cfg}
		gg.f = gofakeit.NewFaker(rand.NewPCG(i, 2), false)
		gg.spoken = i%2 == 0
		v := slots["time24"](gg)
		s := v.v.(string)
		if len(s) != 5 || s[2] != ':' || s[:2] > "23" || s[3:] > "59" {
			t.Fatalf("time %q -> %q", v.surf, s)
		}
		if want, ok := spokenTimes[v.surf]; ok && want != s {
			t.Fatalf("time %q -> %q, want %q", v.surf, s, want)
		}
		if want := parsePastTo(v.surf); want != "" && want != s {
			t.Fatalf("time %q -> %q, want %q", v.surf, s, want)
		}
		m := slots["measure"](gg)
		if got := parseSpokenNumber(m.surf); got != m.v.(float64) {
			t.Fatalf("measure %q -> %v, parsed %v", m.surf, m.v, got)
		}
	}
}

var spokenTimes = map[string]string{"ten to seven pm": "18:50", "twenty past six in the morning": "06:20", "noon": "12:00",
	"midnight": "00:00", "five to two am": "01:55", "twenty five past eleven at night": "23:25"}

// parseSpokenNumber reads the forms spokenNumber says: digits, "N and a half", "N point D".
func parseSpokenNumber(s string) float64 {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	w := map[string]float64{}
	for i, o := range ones {
		w[o] = float64(i)
	}
	for i, o := range tens {
		if o != "" {
			w[o] = float64(10 * i)
		}
	}
	var whole, frac float64
	fracMode := false
	for _, x := range strings.Fields(s) {
		switch x {
		case "and", "a":
		case "half":
			frac = 0.5
		case "point":
			fracMode = true
		default:
			if fracMode {
				frac = w[x] / 10
			} else {
				whole += w[x]
			}
		}
	}
	return whole + frac
}

// parsePastTo reads "M past H ampm" and "M to H ampm" times ("" for other forms).
func parsePastTo(s string) string {
	var sep string
	switch {
	case strings.Contains(s, " past "):
		sep = " past "
	case strings.Contains(s, " to "):
		sep = " to "
	default:
		return ""
	}
	i := strings.Index(s, sep)
	ms, rest := s[:i], strings.Fields(s[i+len(sep):])
	var m int
	switch ms {
	case "quarter":
		m = 15
	case "half":
		m = 30
	default:
		m = int(parseSpokenNumber(ms))
	}
	h := int(parseSpokenNumber(rest[0]))
	pm := strings.Contains(s, "pm") || strings.Contains(s, "p.m.") || strings.Contains(s, "evening") || strings.Contains(s, "night") || strings.Contains(s, "afternoon")
	if sep == " to " {
		h, m = h-1, 60-m
	}
	h %= 12
	if pm {
		h += 12
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// Written API subjects held out of training never appear in training rows, as targets or as
// distractors, and the held-out split asks for them.
func TestWrittenHeldOutStaysOut(t *testing.T) {
	heldNames := map[string]bool{}
	for _, s := range wSubjs[len(wSubjs)-wHeldOut:] {
		for _, n := range split(s.names) {
			heldNames[n] = true
		}
	}
	count := func(cfg Config) (held, written int) {
		g := New(cfg)
		for i := uint64(0); i < 3000; i++ {
			row := g.Row(i)
			var tools []struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(row.Tools, &tools); err != nil {
				t.Fatal(err)
			}
			for _, tl := range tools {
				if heldNames[tl.Name] {
					held++
				}
			}
			for _, a := range row.Answers {
				if heldNames[a.Name] {
					written++
				}
			}
		}
		return held, written
	}
	if held, _ := count(Config{Seed: 3, Written: 0.6}); held != 0 {
		t.Errorf("training rows offer held-out written tools %d times", held)
	}
	if _, asked := count(Config{Seed: 3, Written: 0.6, Split: HeldOut}); asked < 100 {
		t.Errorf("held-out split asks for held-out written tools only %d times in 3000 rows", asked)
	}
}

// Written rows state their values in the query: every string value is copied verbatim and
// every number is written there, except rates stated as percentages (rewritten as fractions,
// as their descriptions ask).
func TestWrittenValuesAreInTheQuery(t *testing.T) {
	for _, cfg := range []Config{{Seed: 4, Written: 1, NoCall: -1, Multi: -1, Mask: -1}, {Seed: 5, Written: 0.4, Multi: 0.6}} {
		checkWrittenValues(t, cfg)
	}
}

// checkWrittenValues checks the values of every call of a written tool, whichever call of
// its row it is (a row whose first call is of a hand-built family is still typed).
func checkWrittenValues(t *testing.T, cfg Config) {
	g := New(cfg)
	checked := 0
	for i := uint64(0); i < 2000; i++ {
		row := g.Row(i)
		var tools []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(row.Tools, &tools); err != nil {
			t.Fatal(err)
		}
		written := map[string]bool{}
		for j, tl := range tools {
			written[tl.Name] = strings.HasPrefix(row.Functions[j], "written:")
		}
		for _, a := range row.Answers {
			if !written[a.Name] {
				continue
			}
			checked++
			var args map[string]any
			if err := json.Unmarshal(a.Arguments, &args); err != nil {
				t.Fatal(err)
			}
			for k, v := range args {
				var vals []any
				if l, ok := v.([]any); ok {
					vals = l
				} else {
					vals = []any{v}
				}
				for _, x := range vals {
					switch x := x.(type) {
					case string:
						if !strings.Contains(row.Query, x) {
							t.Errorf("row %d: %s=%q not in %q", i, k, x, row.Query)
						}
					case float64:
						s := strconv.FormatFloat(x, 'f', -1, 64)
						pct := strconv.FormatFloat(math.Round(x*1e4)/100, 'f', -1, 64) + "%"
						if !containsNumber(row.Query, s) && !strings.Contains(row.Query, pct) {
							t.Errorf("row %d: %s=%v not in %q", i, k, x, row.Query)
						}
					}
				}
			}
		}
	}
	if checked < 300 {
		t.Fatalf("%+v: only %d written calls checked", cfg, checked)
	}
}

// The written API tools are our own: none is named like a function of the benchmark
// (../shared/bfcl, read here only to check that; skipped where it is absent, as in CI).
func TestWrittenNamesAreNotBFCLs(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/bfcl/BFCL_v4_*.json")
	if len(files) == 0 {
		t.Skip("no ../shared/bfcl here")
	}
	bfcl := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var item struct {
				Function json.RawMessage `json:"function"`
			}
			if json.Unmarshal([]byte(line), &item) != nil {
				continue
			}
			var fns []struct{ Name string }
			if json.Unmarshal(item.Function, &fns) != nil {
				var one struct{ Name string }
				json.Unmarshal(item.Function, &one)
				fns = append(fns, one)
			}
			for _, fn := range fns {
				bfcl[fn.Name] = true
			}
		}
	}
	if len(bfcl) < 100 {
		t.Fatalf("read only %d BFCL function names", len(bfcl))
	}
	for _, s := range wSubjs {
		for _, n := range split(s.names) {
			if bfcl[n] {
				t.Errorf("written subject %q is named %q, a BFCL function", s.object, n)
			}
		}
	}
}

// containsNumber reports whether q states the number s as a whole: not as part of a longer
// number, and with its sign ("64" is not in "-64", nor in "164").
func containsNumber(q, s string) bool {
	isNum := func(c byte) bool { return c >= '0' && c <= '9' || c == '.' }
	for i := 0; ; {
		j := strings.Index(q[i:], s)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(s)
		if (j == 0 || !isNum(q[j-1]) && q[j-1] != '-') && (end == len(q) || !isNum(q[end]) || q[end] == '.' && (end+1 == len(q) || !isNum(q[end+1]))) {
			return true
		}
		i = j + 1
	}
}

func TestContainsNumber(t *testing.T) {
	for _, c := range []struct {
		q, s string
		want bool
	}{
		{"a change of -64 K", "-64", true}, {"a change of -64 K", "64", false}, {"x 164 y", "64", false},
		{"x 64.5 y", "64", false}, {"ends with 64.", "64", true}, {"64", "64", true}, {"b=-3, c=2", "-3", true},
		{"x 645", "64", false},
	} {
		if got := containsNumber(c.q, c.s); got != c.want {
			t.Errorf("containsNumber(%q, %q) = %v", c.q, c.s, got)
		}
	}
}
