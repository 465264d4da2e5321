package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/lexical"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

type item struct {
	conf, dense, hyb float64
	agreeD, agreeH   int // -1 n/a, 0 no, 1 yes
	exact            bool
}

func main() {
	m, err := needle.Load(os.Args[1], needle.Options{})
	if err != nil {
		panic(err)
	}
	seed, _ := strconv.ParseUint(os.Args[2], 10, 64)
	n, _ := strconv.Atoi(os.Args[3])
	gen := synth.New(synth.Config{Seed: seed, Split: synth.HeldOut, MaxTools: 10})
	ctx := context.Background()
	var items []item
	var hOK, dOK, decOK, tot int
	for i := 0; i < n; i++ {
		row := gen.Row(uint64(i))
		tools, _ := toolspec.ParseFlat(row.Tools)
		res, err := m.Route(ctx, needle.Request{Query: row.Query, Tools: tools})
		if err != nil {
			continue
		}
		ab, _ := json.Marshal(row.Answers)
		want, _ := eval.CallsFromAnswers(ab)
		got, _ := eval.FromToolCalls(res.Calls)
		sc := eval.ScoreSynthRow(eval.SynthItem{Query: row.Query, Want: want, Pred: eval.Prediction{Calls: got, Confidence: res.Confidence}})
		it := item{conf: res.Confidence, exact: sc.Exact, agreeD: -1, agreeH: -1}
		if len(res.Calls) > 0 && len(tools) > 1 {
			q, _ := m.Embed(ctx, row.Query)
			dense := make([]float32, len(tools))
			var texts []string
			for j := range tools {
				e, _ := m.Embed(ctx, string(tools[j].AppendJSON(nil)))
				for k := range q {
					dense[j] += q[k] * e[k]
				}
				texts = append(texts, lexical.ToolText(&tools[j]))
			}
			argmax := func(s []float32) int {
				b := 0
				for j := range s {
					if s[j] > s[b] {
						b = j
					}
				}
				return b
			}
			d := argmax(dense)
			h := argmax(lexical.Fuse(append([]float32(nil), dense...), lexical.IndexTexts(texts).Scores(row.Query, nil), 0.75))
			name := res.Calls[0].Name
			if len(want) > 0 {
				tot++
				if tools[h].Name == want[0].Name {
					hOK++
				}
				if tools[d].Name == want[0].Name {
					dOK++
				}
				if name == want[0].Name {
					decOK++
				}
			}
			it.agreeD, it.agreeH = 0, 0
			if tools[d].Name == name {
				it.agreeD = 1
			}
			if tools[h].Name == name {
				it.agreeH = 1
			}
		}
		items = append(items, it)
	}
	report := func(label string, score func(it item) float64) {
		s := append([]item(nil), items...)
		sort.SliceStable(s, func(a, b int) bool { return score(s[a]) > score(s[b]) })
		best := 0
		ok := 0
		for i, it := range s {
			if it.exact {
				ok++
			}
			if float64(ok) >= 0.98*float64(i+1) {
				best = i + 1
			}
		}
		ok = 0
		fmt.Printf("%-28s cov@98 %5.1f%%", label, 100*float64(best)/float64(len(s)))
		for i, it := range s {
			if it.exact {
				ok++
			}
			if (i+1)%(len(s)/5) == 0 {
				fmt.Printf("  p@%d%%=%.1f", 100*(i+1)/len(s), 100*float64(ok)/float64(i+1))
			}
		}
		fmt.Println()
	}
	var agreeOK, agreeN, disOK, disN int
	for _, it := range items {
		if it.agreeH == 1 {
			agreeN++
			if it.exact {
				agreeOK++
			}
		} else if it.agreeH == 0 {
			disN++
			if it.exact {
				disOK++
			}
		}
	}
	fmt.Printf("hybrid agrees: %d rows, exact %.1f%%; disagrees: %d rows, exact %.1f%%\n", agreeN, 100*float64(agreeOK)/float64(max(agreeN, 1)), disN, 100*float64(disOK)/float64(max(disN, 1)))
	fmt.Printf("first call's tool among offered (%d rows with a call predicted and wanted): decoder %.1f%%, dense top-1 %.1f%%, hybrid top-1 %.1f%%\n", tot, 100*float64(decOK)/float64(tot), 100*float64(dOK)/float64(tot), 100*float64(hOK)/float64(tot))
	report("conf", func(it item) float64 { return it.conf })
	for _, pen := range []float64{0.9, 0.5, 0} {
		report(fmt.Sprintf("conf x %.1f if hybrid disagrees", pen), func(it item) float64 {
			if it.agreeH == 0 {
				return it.conf * pen
			}
			return it.conf
		})
		report(fmt.Sprintf("conf x %.1f if dense disagrees", pen), func(it item) float64 {
			if it.agreeD == 0 {
				return it.conf * pen
			}
			return it.conf
		})
	}
}
