package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/needle-router/needle/internal/kernels"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/models"
)

const benchTools = `[{"name":"set_timer","description":"Start a countdown timer.","parameters":{"minutes":{"type":"integer","description":"Timer length in minutes.","required":true},"label":{"type":"string","description":"Optional label."}}},
{"name":"send_message","description":"Send a text message to a contact.","parameters":{"recipient":{"type":"string","description":"Who receives it.","required":true},"message":{"type":"string","description":"The text.","required":true}}},
{"name":"get_weather","description":"Get the weather for a city.","parameters":{"location":{"type":"string","description":"City name.","required":true},"unit":{"type":"string","enum":["celsius","fahrenheit"]}}},
{"name":"set_lights","description":"Turn lights on or off in a room.","parameters":{"room":{"type":"string","required":true},"on":{"type":"boolean","required":true}}},
{"name":"play_music","description":"Play a song or artist.","parameters":{"query":{"type":"string","description":"What to play.","required":true}}}]`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	config := fs.String("config", "", "benchmark a model of this shape (26m, small, tiny) with random weights made in Go with the trainer's init, instead of a trained model; --weights defaults to int8+int4 (how the trainer's int4 QAT export loads: int8 prefill, int4 decode)")
	seed := fs.Uint64("seed", 1, "seed of the random weights for --config")
	runs := fs.Int("n", 30, "end-to-end runs")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	mf := bindModel(fs, pipelineOptions...)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runs < 1 {
		return usagef("bench: -n must be at least 1")
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var m *needle.Model
	var err error
	if *config != "" {
		m, err = randomModel(*config, *seed, mf.cfg.Weights)
	} else {
		m, err = mf.load()
	}
	if err != nil {
		return err
	}
	p, err := mf.pipeline(m)
	if err != nil {
		return err
	}
	best := func(f func() time.Duration, reps int) time.Duration {
		b := time.Duration(1 << 62)
		for i := 0; i < reps; i++ {
			b = min(b, f())
		}
		return b
	}
	prefill := map[string]float64{}
	tokps := map[string]float64{}
	for _, n := range []int{100, 300, 1000} {
		n2 := min(n, m.Config().MaxEncLen)
		d := best(func() time.Duration { return benchPrefill(m, n2) }, 3)
		prefill[strconv.Itoa(n)] = float64(d.Microseconds()) / 1000
		tokps[strconv.Itoa(n)] = float64(n2) / d.Seconds()
	}
	dec := best(func() time.Duration { return benchDecode(m, 300, 32) }, 3)
	var lats []time.Duration
	for i := 0; i < *runs; i++ {
		t0 := time.Now()
		if _, err := local(ctx, p, "set a timer for ten minutes called pasta", benchTools); err != nil {
			return err
		}
		lats = append(lats, time.Since(t0))
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	q := func(f float64) float64 { return float64(lats[int(f*float64(len(lats)-1))].Microseconds()) / 1000 }
	rss := peakRSS()
	res := map[string]any{
		"model": m.ID(), "prefill_ms": prefill, "prefill_tokens_per_s": tokps,
		"decode_ms_per_token": float64(dec.Microseconds()) / 1000,
		"route_p50_ms":        q(0.5), "route_p99_ms": q(0.99), "runs": *runs,
		"weights_bytes": m.WeightBytes(), "peak_rss_bytes": rss,
		"kernels": kernels.Set(), "cpu_features": kernels.Features(), "threads": kernels.Threads(), "weights": m.WeightsFormat(),
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "model %s, weights %s, %s\n", m.ID(), m.WeightsFormat(), kernels.Describe())
	for _, n := range []string{"100", "300", "1000"} {
		fmt.Fprintf(stdout, "prefill %5s tokens: %8.2f ms (%.0f tokens/s)\n", n, prefill[n], tokps[n])
	}
	fmt.Fprintf(stdout, "decode: %.3f ms/token\nroute (5 tools, %d runs): p50 %.2f ms, p99 %.2f ms\nweights %.1f MB, peak RSS %.1f MB\n",
		float64(dec.Microseconds())/1000, *runs, q(0.5), q(0.99), float64(m.WeightBytes())/1e6, float64(rss)/1e6)
	return nil
}

// randomModel builds a model of a named shape with random weights and the shipped
// tokenizer (when its vocabulary fits the shape, so routing can be timed too).
func randomModel(name string, seed uint64, weights string) (*needle.Model, error) {
	cfg, ok := needle.Configs[name]
	if !ok {
		return nil, fmt.Errorf("no config %q (have 26m, small, tiny)", name)
	}
	if weights == "" {
		weights = "int8+int4" // what a QAT export (train.py) loads as: int8 prefill, int4 decode
	}
	var tok *needle.Tokenizer
	if b, err := models.FS.ReadFile("tokenizer.model"); err == nil {
		if t, err := needle.ParseTokenizer(b); err == nil && t.VocabSize() == cfg.VocabSize {
			tok = t
		}
	}
	if tok == nil {
		return nil, fmt.Errorf("the shipped tokenizer does not fit config %s (vocabulary %d)", name, cfg.VocabSize)
	}
	wb, err := needle.RandomWeights(cfg, seed)
	if err != nil {
		return nil, err
	}
	return needle.New(cfg, wb, tok, needle.Options{Weights: weights})
}

// peakRSS reads VmHWM from /proc/self/status (Linux); 0 elsewhere.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// benchIDs are n synthetic prompt ids (no special tokens).
func benchIDs(m *needle.Model, n int) []int32 {
	c := m.Config()
	ids := make([]int32, min(n, c.MaxEncLen))
	for i := range ids {
		ids[i] = int32(6 + (i*7919)%(c.VocabSize-6))
	}
	return ids
}

// benchPrefill times the encoder (and the cross-attention keys and values) over n synthetic
// tokens.
func benchPrefill(m *needle.Model, n int) time.Duration {
	s := m.NewSession()
	defer s.Close()
	ids := benchIDs(m, n)
	t0 := time.Now()
	if err := s.Encode(ids); err != nil {
		panic(err) // unreachable: benchIDs keeps to MaxEncLen
	}
	return time.Since(t0)
}

// benchDecode is the mean time of one decoder step (logits over the whole vocabulary
// included) against encLen encoded tokens, over steps steps.
func benchDecode(m *needle.Model, encLen, steps int) time.Duration {
	s := m.NewSession()
	defer s.Close()
	if err := s.Encode(benchIDs(m, encLen)); err != nil {
		panic(err) // unreachable: benchIDs keeps to MaxEncLen
	}
	steps = min(steps, m.Config().MaxDecLen)
	t0 := time.Now()
	tok := int32(needle.TokEOS)
	for p := 0; p < steps; p++ {
		s.Step(tok, p)
		tok = int32(6 + p)
	}
	return time.Since(t0) / time.Duration(steps)
}
