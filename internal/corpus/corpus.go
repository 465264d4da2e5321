// Package corpus turns human-written intent/slot corpora into training and evaluation rows
// in the generator's format (internal/synth.Row): an intent becomes a tool, its slot types
// become parameters, slot spans become argument values copied verbatim, and out-of-scope
// queries become rows that want no call.
//
// One file per source reads a directory laid out as the upstream repository (HWU64, SLURP,
// SNIPS, CLINC150, BANKING77, SGD with SGD-X; see ../shared/datasets/README.md and the
// README's Data section for licences and citations). Every source keeps a development and a
// test split that Build never mixes into training rows.
package corpus

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

// Splits. Training rows come from Train only; Dev chooses settings; Test is reported.
const (
	Train = "train"
	Dev   = "dev"
	Test  = "test"
)

// Slot is one argument of an example: a parameter of the intent's tool (by its canonical
// name) and the value said, verbatim from the query for span-annotated sources.
type Slot struct {
	Name  string
	Value any // string for spans; int64, float64 or bool for typed SGD slots
}

// Example is one human-written query. Intent is "" when no tool of the corpus serves it.
type Example struct {
	Query  string
	Intent string
	Slots  []Slot
	Split  string
}

// Intent is one tool of a corpus. Variants are renderings of the same tool (other names and
// descriptions, SGD-X's rewrites); Variants[0] is the canonical one, used for evaluation.
// Every variant has the same parameters in the same order; Params names them canonically,
// parallel to each variant's Params.
type Intent struct {
	Name     string
	Domain   string // intents of one domain are siblings (query / set / remove)
	Params   []string
	Variants []toolspec.Tool
	// Split, when set, is the only split whose rows may offer the intent: SGD has a schema
	// per split, so a service in two splits is two Intents for one tool.
	Split string
	// Serves names what the intent does; intents sharing a key serve the same requests
	// (SGD's Restaurants_1 and Restaurants_2 both reserve a table). A row never offers one
	// beside, or instead of, another: its answer could name either, or a no-call row would
	// decline a request a tool it offers serves.
	Serves []string
}

// overlaps reports whether a and b serve the same requests.
func overlaps(a, b *Intent) bool {
	if a == b {
		return true
	}
	for _, k := range a.Serves {
		if slices.Contains(b.Serves, k) {
			return true
		}
	}
	return false
}

// Corpus is a converted source.
type Corpus struct {
	Source   string
	Intents  []*Intent
	Examples []Example
}

// Intent returns the intent by canonical name, or nil.
func (c *Corpus) Intent(name string) *Intent {
	for _, it := range c.Intents {
		if it.Name == name {
			return it
		}
	}
	return nil
}

// Counts reports examples per split.
func (c *Corpus) Counts() map[string]int {
	m := map[string]int{}
	for _, e := range c.Examples {
		m[e.Split]++
	}
	return m
}

// BuildOptions shape the training rows.
type BuildOptions struct {
	MaxTools int     // most tools offered per row (target + siblings + others); default 8
	DropRate float64 // share of intent rows whose tool is withheld: siblings only, no call wanted; default 0.08
	Variants bool    // draw a random variant per tool (training); false: the canonical one
	Others   []*Intent
	Repeat   int // rows per example; default 1
}

// Build turns one split of c into rows: each example offers its intent's tool, a random
// share of its siblings (same domain) and look-alikes (nearIntents), then other tools of c
// (or opts.Others), up to a random count in [1, MaxTools]; arguments keep the tool's
// parameter order and hold only what was said. Intents of another split, and intents that
// serve the example's intent (Serves), are never offered. Deterministic for a seed.
func Build(c *Corpus, split string, opts BuildOptions, seed uint64) ([]synth.Row, error) {
	if opts.MaxTools == 0 {
		opts.MaxTools = 8
	}
	if opts.Repeat == 0 {
		opts.Repeat = 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x636f72707573))
	var pool []*Intent
	for _, it := range append(slices.Clone(c.Intents), opts.Others...) {
		if it.Split == "" || it.Split == split {
			pool = append(pool, it)
		}
	}
	near := nearIntents(pool, nearK)
	var rows []synth.Row
	for r := 0; r < opts.Repeat; r++ {
		for _, e := range c.Examples {
			if e.Split != split {
				continue
			}
			row, err := buildRow(c, e, pool, near, opts, rng)
			if err != nil {
				return nil, fmt.Errorf("%s %s %q: %w", c.Source, split, e.Query, err)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func buildRow(c *Corpus, e Example, pool []*Intent, near map[*Intent][]*Intent, opts BuildOptions, rng *rand.Rand) (synth.Row, error) {
	n := 1 + rng.IntN(opts.MaxTools)
	var target *Intent
	if e.Intent != "" {
		if target = c.Intent(e.Intent); target == nil {
			return synth.Row{}, fmt.Errorf("unknown intent %q", e.Intent)
		}
	}
	drop := target != nil && rng.Float64() < opts.DropRate
	chosen := []*Intent{}
	if target != nil && !drop {
		chosen = append(chosen, target)
	}
	if target != nil {
		// Siblings (same domain) and look-alikes of other domains (play_music beside
		// music_query), in a random order, take the room before random others.
		var alike []*Intent
		for _, s := range rng.Perm(len(pool)) {
			it := pool[s]
			if !overlaps(it, target) && it.Domain == target.Domain && rng.Float64() < 0.7 {
				alike = append(alike, it)
			}
		}
		for _, it := range near[target] {
			if rng.Float64() < 0.5 {
				alike = append(alike, it)
			}
		}
		rng.Shuffle(len(alike), func(i, j int) { alike[i], alike[j] = alike[j], alike[i] })
		chosen = append(chosen, alike[:min(len(alike), max(0, n-len(chosen)))]...)
	}
	for _, s := range rng.Perm(len(pool)) {
		if len(chosen) >= n {
			break
		}
		it := pool[s]
		if slices.Contains(chosen, it) || (target != nil && (overlaps(it, target) || it.Domain == target.Domain)) {
			continue
		}
		chosen = append(chosen, it)
	}
	rng.Shuffle(len(chosen), func(i, j int) { chosen[i], chosen[j] = chosen[j], chosen[i] })
	tools := make([]toolspec.Tool, 0, len(chosen))
	var answers []synth.Answer
	names := map[string]bool{}
	if target != nil && !drop { // the target's name first, so a distractor never takes it
		chosen = slices.DeleteFunc(chosen, func(it *Intent) bool { return it == target })
		chosen = slices.Insert(chosen, rng.IntN(len(chosen)+1), target)
	}
	variant := make([]int, len(chosen))
	for i, it := range chosen {
		if opts.Variants {
			variant[i] = rng.IntN(len(it.Variants))
		}
		if it == target {
			names[it.Variants[variant[i]].Name] = true
		}
	}
	for i, it := range chosen {
		v := variant[i]
		name := it.Variants[v].Name
		if it != target && names[name] { // two services with one intent name: keep one
			continue
		}
		names[name] = true
		tools = append(tools, it.Variants[v])
		if it == target {
			a, err := answer(it, v, e.Slots)
			if err != nil {
				return synth.Row{}, err
			}
			answers = append(answers, a)
		}
	}
	if answers == nil {
		answers = []synth.Answer{}
	}
	return synth.Row{Query: e.Query, Tools: toolspec.AppendJSON(nil, tools), Answers: answers}, nil
}

// nearK is how many look-alikes of other domains nearIntents keeps per intent.
const nearK = 4

// nearIntents lists for each intent of pool the intents of other domains that read most
// like it, best first, at most k: words of the canonical variant's name, description and
// parameter names, each shared word weighted by its IDF over the pool. Domains group a
// corpus's intents by scenario, and the requests a model confuses often cross them: HWU64's
// play_music (domain play) and music_query (domain music) were the commonest confusion on
// the development sets (59 of 793 wrong tools), and no training row had offered them
// together. Intents that serve the same job (overlaps) are left out.
func nearIntents(pool []*Intent, k int) map[*Intent][]*Intent {
	words := make([]map[string]bool, len(pool))
	df := map[string]int{}
	for i, it := range pool {
		words[i] = intentWords(it)
		for w := range words[i] {
			df[w]++
		}
	}
	near := make(map[*Intent][]*Intent, len(pool))
	type cand struct {
		i     int
		score float64
	}
	// Words in sorted order: a float sum in map order differs in its last bit from run to
	// run, and near-ties would then rank differently (Build must be deterministic).
	sorted := make([][]string, len(pool))
	for i := range pool {
		sorted[i] = slices.Sorted(maps.Keys(words[i]))
	}
	for i, it := range pool {
		var cs []cand
		for j, o := range pool {
			if o.Domain == it.Domain || overlaps(o, it) {
				continue
			}
			var s float64
			for _, w := range sorted[i] {
				if words[j][w] {
					s += math.Log(float64(len(pool)) / float64(df[w]))
				}
			}
			if s > 0 {
				cs = append(cs, cand{j, s})
			}
		}
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].score > cs[b].score }) // ties: pool order
		for _, c := range cs[:min(k, len(cs))] {
			near[it] = append(near[it], pool[c.i])
		}
	}
	return near
}

// intentWords is the set of lowercase words (3 letters or more) of the canonical variant's
// name, description and parameter names; snake_case and camelCase names split into words.
func intentWords(it *Intent) map[string]bool {
	m := map[string]bool{}
	if len(it.Variants) == 0 {
		return m
	}
	t := it.Variants[0]
	text := []string{t.Name, t.Description}
	for _, p := range t.Params {
		text = append(text, p.Name)
	}
	for _, s := range text {
		var b strings.Builder
		for i, r := range s {
			if i > 0 && unicode.IsUpper(r) {
				b.WriteByte(' ')
			}
			b.WriteRune(r)
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(b.String()), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if len(w) >= 3 {
				m[w] = true
			}
		}
	}
	return m
}

// answer renders the call of variant v of it with the said slots, in parameter order.
func answer(it *Intent, v int, slots []Slot) (synth.Answer, error) {
	tool := it.Variants[v]
	b := []byte{'{'}
	for i, p := range it.Params {
		k := slices.IndexFunc(slots, func(s Slot) bool { return s.Name == p })
		if k < 0 {
			continue
		}
		if len(b) > 1 {
			b = append(b, ", "...)
		}
		b = toolspec.AppendString(b, tool.Params[i].Name)
		b = append(b, ": "...)
		b = toolspec.AppendValue(b, slots[k].Value)
	}
	for _, s := range slots {
		if !slices.Contains(it.Params, s.Name) {
			return synth.Answer{}, fmt.Errorf("slot %q is not a parameter of %s", s.Name, it.Name)
		}
	}
	return synth.Answer{Name: tool.Name, Arguments: json.RawMessage(append(b, '}'))}, nil
}

// BFCLOptions says how WriteBFCL offers tools.
type BFCLOptions struct {
	// Cat names the category: items that want a call go to Cat, items that want none to
	// Cat+"_irrelevance".
	Cat string
	// OneTool offers each item a single tool, as an app that registered one would: its own
	// intent when it wants a call, and an intent drawn deterministically from the item's
	// index when it wants none (BFCL's irrelevance shape, on real out-of-scope requests).
	OneTool bool
	// MaxTools caps the tools of one item (the router's per-request limit, 128; 0: no cap).
	// A corpus with more intents offers whole domains instead: the item's own domain (one
	// drawn from its index when it wants none) and the domains after it, in a fixed order,
	// while they fit.
	MaxTools int
}

// WriteBFCL writes one split as a BFCL-layout category for `needle eval bfcl`: every
// intent of c offered together (canonical variants), as a voice assistant that registered
// its whole toolset would, with the router's retrieval choosing the candidates. Returns the
// item counts.
func WriteBFCL(c *Corpus, split string, write func(name string, lines [][]byte) error, o BFCLOptions) (calls, none int, err error) {
	cat := o.Cat
	funcs := make([]any, 0, len(c.Intents))
	var domains []string // in first-seen order
	for _, it := range c.Intents {
		funcs = append(funcs, bfclFunc(it.Variants[0]))
		if !slices.Contains(domains, it.Domain) {
			domains = append(domains, it.Domain)
		}
	}
	if len(funcs) == 0 {
		return 0, 0, fmt.Errorf("%s: no intents", c.Source)
	}
	var qs, ans, irr [][]byte
	for i, e := range c.Examples {
		if e.Split != split {
			continue
		}
		id := fmt.Sprintf("%s_%d", cat, i)
		own := (i * 7919) % len(funcs) // a fixed stride: the same draw for an item on every run
		if e.Intent != "" {
			own = slices.IndexFunc(c.Intents, func(it *Intent) bool { return it.Name == e.Intent })
			if own < 0 {
				return 0, 0, fmt.Errorf("intent %q is not in %s", e.Intent, c.Source)
			}
		}
		offered := funcs
		switch {
		case o.OneTool:
			offered = funcs[own : own+1]
		case o.MaxTools > 0 && len(funcs) > o.MaxTools:
			offered = nil
			d0 := slices.Index(domains, c.Intents[own].Domain)
			for k := range domains {
				d := domains[(d0+k)%len(domains)]
				var add []any
				for j, it := range c.Intents {
					if it.Domain == d {
						add = append(add, funcs[j])
					}
				}
				if len(offered)+len(add) > o.MaxTools {
					break
				}
				offered = append(offered, add...)
			}
			if len(offered) == 0 {
				return 0, 0, fmt.Errorf("%s: domain %q alone has more than %d intents", c.Source, c.Intents[own].Domain, o.MaxTools)
			}
		}
		q := map[string]any{"id": id, "question": [][]map[string]string{{{"role": "user", "content": e.Query}}}, "function": offered}
		if e.Intent == "" {
			q["id"] = fmt.Sprintf("%s_irrelevance_%d", cat, i)
			b, _ := json.Marshal(q)
			irr = append(irr, b)
			continue
		}
		it := c.Intent(e.Intent)
		args := map[string]any{}
		for _, s := range e.Slots {
			k := slices.Index(it.Params, s.Name)
			if k < 0 {
				return 0, 0, fmt.Errorf("slot %q is not a parameter of %s", s.Name, it.Name)
			}
			args[it.Variants[0].Params[k].Name] = []any{s.Value}
		}
		b, _ := json.Marshal(q)
		qs = append(qs, b)
		a, _ := json.Marshal(map[string]any{"id": id, "ground_truth": []any{map[string]any{it.Variants[0].Name: args}}})
		ans = append(ans, a)
	}
	if err := write("BFCL_v4_"+cat+".json", qs); err != nil {
		return 0, 0, err
	}
	if err := write("possible_answer/BFCL_v4_"+cat+".json", ans); err != nil {
		return 0, 0, err
	}
	if len(irr) > 0 {
		if err := write("BFCL_v4_"+cat+"_irrelevance.json", irr); err != nil {
			return 0, 0, err
		}
	}
	return len(qs), len(irr), nil
}

// bfclFunc renders a tool as a BFCL function (JSON Schema parameters, "dict" objects), its
// properties in the tool's parameter order: an encoding/json map would sort them by name,
// and the model reads the order it is given (README "Parameter order").
func bfclFunc(t toolspec.Tool) map[string]any {
	props := make(orderedObject, 0, len(t.Params))
	req := []string{}
	for _, p := range t.Params {
		s := map[string]any{"type": p.Type, "description": p.Description}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		props = append(props, keyValue{p.Name, s})
		if p.Required {
			req = append(req, p.Name)
		}
	}
	return map[string]any{"name": t.Name, "description": t.Description,
		"parameters": map[string]any{"type": "dict", "properties": props, "required": req}}
}

type keyValue struct {
	Key   string
	Value any
}

// orderedObject is a JSON object that keeps its keys in the order given.
type orderedObject []keyValue

func (o orderedObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// spanSlots parses inline annotations "[type : value]" (HWU64, SLURP) into the plain text
// and its slots.
func spanSlots(annotated string) (text string, slots []Slot, err error) {
	var b strings.Builder
	for s := annotated; s != ""; {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			return "", nil, fmt.Errorf("unclosed [ in %q", annotated)
		}
		typ, val, ok := strings.Cut(s[i+1:i+j], " : ")
		if !ok {
			return "", nil, fmt.Errorf("slot without ' : ' in %q", annotated)
		}
		typ, val = strings.TrimSpace(typ), strings.TrimSpace(val)
		b.WriteString(val)
		slots = append(slots, Slot{Name: typ, Value: val})
		s = s[i+j+1:]
	}
	return strings.Join(strings.Fields(b.String()), " "), slots, nil
}

// repeated reports whether a slot type occurs twice: one string parameter cannot hold both
// values, so such examples are left out (counted by the caller).
func repeated(slots []Slot) bool {
	seen := map[string]bool{}
	for _, s := range slots {
		if seen[s.Name] {
			return true
		}
		seen[s.Name] = true
	}
	return false
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
