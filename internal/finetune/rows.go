package finetune

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

// RowOptions shape the fine-tuning rows. Zero values take the defaults.
type RowOptions struct {
	PerExample int     // rows per training example (the example itself, then variations); default 6
	MaxTools   int     // most tools offered per row; default 8
	Withhold   float64 // share of rows whose wanted tool is withheld (siblings only, no call); default 0.1
	Replay     float64 // general rows from the generator, as a share of all rows; default 0.3
}

func (o RowOptions) withDefaults() RowOptions {
	if o.PerExample == 0 {
		o.PerExample = 6
	}
	if o.MaxTools == 0 {
		o.MaxTools = 8
	}
	if o.Withhold == 0 {
		o.Withhold = 0.1
	}
	if o.Replay == 0 {
		o.Replay = 0.3
	}
	return o
}

// Rows builds the training rows: for each example, the example itself and variations in
// which each argument value said verbatim in the query is swapped for another value the
// examples gave the same parameter; each row offers the wanted tools, their nearest
// siblings in the toolset (shared words of name and description) and random others, in a
// random order. A share of rows withholds the wanted tool and wants no call. Then a replay
// share of general rows (synth, seed-derived) so the model keeps what it knew.
// Deterministic for a seed.
func Rows(tools []toolspec.Tool, ex []Example, o RowOptions, seed uint64) []synth.Row {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(seed, 0x726f7773))
	pool := valuePool(ex)
	words := make([]map[string]bool, len(tools))
	for i := range tools {
		words[i] = toolWords(&tools[i])
	}
	var rows []synth.Row
	for _, e := range ex {
		for k := 0; k < o.PerExample; k++ {
			q, answers := e.Query, e.Answers
			if k > 0 {
				q, answers = vary(e, pool, rng)
			}
			want := map[string]bool{}
			for _, a := range answers {
				want[a.Name] = true
			}
			withhold := len(answers) > 0 && len(tools) > len(want) && rng.Float64() < o.Withhold
			offered := offer(tools, words, want, withhold, 1+rng.IntN(o.MaxTools), rng)
			row := synth.Row{Query: q, Tools: toolspec.AppendJSON(nil, offered), Answers: []synth.Answer{}}
			if !withhold {
				for _, a := range answers {
					row.Answers = append(row.Answers, synth.Answer{Name: a.Name, Arguments: a.Arguments})
				}
			}
			rows = append(rows, row)
		}
	}
	if n := int(float64(len(rows)) * o.Replay / (1 - o.Replay)); n > 0 {
		g := synth.New(synth.Config{Seed: seed + 1000, MaxTools: o.MaxTools})
		for i := 0; i < n; i++ {
			rows = append(rows, g.Row(uint64(i)))
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

// offer picks n tools (at least the wanted ones): wanted first, then the nearest siblings,
// then random others; withhold leaves the wanted ones out.
func offer(tools []toolspec.Tool, words []map[string]bool, want map[string]bool, withhold bool, n int, rng *rand.Rand) []toolspec.Tool {
	n = max(n, len(want))
	var chosen []int
	var wantIdx []int
	for i := range tools {
		if want[tools[i].Name] {
			wantIdx = append(wantIdx, i)
		}
	}
	if !withhold {
		chosen = append(chosen, wantIdx...)
	}
	// Siblings: by words shared with a wanted tool, most first, half the remaining slots.
	type cand struct {
		i     int
		score int
	}
	var cands []cand
	for i := range tools {
		if want[tools[i].Name] {
			continue
		}
		s := 0
		for _, w := range wantIdx {
			for word := range words[w] {
				if words[i][word] {
					s++
				}
			}
		}
		cands = append(cands, cand{i, s})
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
	sib := (n - len(chosen) + 1) / 2
	for _, c := range cands {
		if sib <= 0 || c.score == 0 {
			break
		}
		chosen, sib = append(chosen, c.i), sib-1
	}
	for _, i := range rng.Perm(len(tools)) {
		if len(chosen) >= n {
			break
		}
		if want[tools[i].Name] || slices.Contains(chosen, i) {
			continue
		}
		chosen = append(chosen, i)
	}
	if len(chosen) == 0 { // withheld from a one-tool set: offer it anyway, want no call only if no tool fits
		chosen = append(chosen, wantIdx...)
	}
	rng.Shuffle(len(chosen), func(a, b int) { chosen[a], chosen[b] = chosen[b], chosen[a] })
	out := make([]toolspec.Tool, len(chosen))
	for k, i := range chosen {
		out[k] = tools[i]
	}
	return out
}

func toolWords(t *toolspec.Tool) map[string]bool {
	m := map[string]bool{}
	f := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }
	for _, w := range strings.FieldsFunc(strings.ToLower(t.Name+" "+t.Description), f) {
		if len(w) > 2 && !stop[w] {
			m[w] = true
		}
	}
	return m
}

var stop = map[string]bool{"the": true, "and": true, "for": true, "with": true, "from": true, "this": true, "that": true, "get": true, "set": true}

// valuePool: tool.param -> distinct string values the examples gave it.
func valuePool(ex []Example) map[string][]string {
	pool := map[string][]string{}
	for _, e := range ex {
		for _, a := range e.Answers {
			keys, vals, err := toolspec.OrderedObject(a.Arguments)
			if err != nil {
				continue
			}
			for i, k := range keys {
				var s string
				if json.Unmarshal(vals[i], &s) == nil && s != "" && !slices.Contains(pool[a.Name+"."+k], s) {
					pool[a.Name+"."+k] = append(pool[a.Name+"."+k], s)
				}
			}
		}
	}
	return pool
}

// vary swaps each string argument said verbatim in the query for another value of the same
// parameter, in the query and the answer alike; values not said verbatim stay.
func vary(e Example, pool map[string][]string, rng *rand.Rand) (string, []Call) {
	q := e.Query
	out := make([]Call, len(e.Answers))
	for ai, a := range e.Answers {
		out[ai] = a
		keys, vals, err := toolspec.OrderedObject(a.Arguments)
		if err != nil {
			continue
		}
		changed := false
		nv := make([]any, len(keys))
		for i, k := range keys {
			v, _ := decodeValue(vals[i])
			nv[i] = v
			s, ok := v.(string)
			alts := pool[a.Name+"."+k]
			if !ok || len(alts) < 2 || !strings.Contains(q, s) {
				continue
			}
			alt := alts[rng.IntN(len(alts))]
			if alt == s || strings.Contains(q, alt) {
				continue
			}
			q = strings.Replace(q, s, alt, 1)
			nv[i], changed = alt, true
		}
		if changed {
			b := []byte{'{'}
			for i, k := range keys {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = toolspec.AppendString(b, k)
				b = append(b, ": "...)
				b = toolspec.AppendValue(b, nv[i])
			}
			out[ai].Arguments = append(b, '}')
		}
	}
	return q, out
}
