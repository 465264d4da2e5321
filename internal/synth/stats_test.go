package synth

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/needle"
)

// TestStats prints the shape of generated data (tools per row, calls per row, encoder
// lengths with the shipped tokenizer, rows/s). It runs only with NEEDLE_SYNTH_STATS=N (rows);
// NEEDLE_SYNTH_ARGS may set min,max tools, max desc len and long fraction, e.g. "1,3,100,-1".
func TestStats(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NEEDLE_SYNTH_STATS"))
	if n == 0 {
		t.Skip("set NEEDLE_SYNTH_STATS=rows")
	}
	tok, err := needle.LoadTokenizer("../../models/tokenizer.model")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Seed: 1}
	fmt.Sscanf(os.Getenv("NEEDLE_SYNTH_ARGS"), "%d,%d,%d,%g", &cfg.MinTools, &cfg.MaxTools, &cfg.MaxDescLen, &cfg.Long)
	for _, split := range []Split{Train, HeldOut} {
		cfg.Split = split
		g := New(cfg)
		t0 := time.Now()
		rows := make([]Row, n)
		for i := range rows {
			rows[i] = g.Row(uint64(i))
		}
		el := time.Since(t0)
		tools := map[int]int{}
		calls := map[int]int{}
		var lens []int
		masked := 0
		for _, r := range rows {
			var ts []struct{ Name string }
			json.Unmarshal(r.Tools, &ts)
			tools[len(ts)]++
			calls[len(r.Answers)]++
			for _, x := range ts {
				if len(x.Name) > 3 && (x.Name[:3] == "fn_" || x.Name[:4] == "tool" || x.Name[:3] == "op1") {
					masked++
				}
			}
			lens = append(lens, len(tok.Encode(r.Query))+1+len(tok.Encode(string(r.Tools))))
		}
		sort.Ints(lens)
		b := map[string]int{}
		for _, l := range lens {
			switch {
			case l < 150:
				b["<150"]++
			case l < 300:
				b["150-299"]++
			case l < 500:
				b["300-499"]++
			case l < 800:
				b["500-799"]++
			case l <= 1024:
				b["800-1024"]++
			default:
				b[">1024"]++
			}
		}
		fmt.Printf("split %d: %.0f rows/s (1 core, no JSON)\ntools/row %v\ncalls/row %v\nenc len p10 %d p50 %d p90 %d p99 %d max %d\nbuckets %v\nmasked-looking names %d\n",
			split, float64(n)/el.Seconds(), tools, calls, lens[n/10], lens[n/2], lens[n*9/10], lens[n*99/100], lens[n-1], b, masked)
	}
}
