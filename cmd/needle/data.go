package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/needle-router/needle/internal/synth"
)

func runData(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data", stderr)
	n := fs.Uint64("n", 10000, "rows to generate")
	start := fs.Uint64("start", 0, "index of the first row (rows depend only on seed, split and index)")
	seed := fs.Uint64("seed", 1, "random seed")
	split := fs.String("split", "train", "train or heldout (unseen tool families and templates)")
	maxTools := fs.Int("max-tools", 10, "most tools offered per row (1-10)")
	minTools := fs.Int("min-tools", 1, "fewest tools offered per row; with -max-tools a curriculum: 1-3 first, then up to 10")
	maxDesc := fs.Int("max-desc-len", 0, "cap tool and parameter descriptions at this many characters (0: no cap)")
	long := fs.Float64("long", 0.2, "fraction of rows with long tool descriptions and extra optional parameters (400-1000 token inputs)")
	mask := fs.Float64("mask", 0.08, "fraction of tools whose name is replaced by an opaque one (choose by description)")
	nearMiss := fs.Float64("near-miss", 0.6, "chance that a distractor is a near miss of the target")
	spoken := fs.Float64("spoken", 0.35, "fraction of rows phrased as speech transcripts")
	written := fs.Float64("written", 0.3, "fraction of rows asking a written API tool (calculations, lookups) in a typed sentence (0: none, as before session 5)")
	out := fs.String("o", "-", "output file (- for stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	// In synth.Config zero means "default" and a negative fraction means none.
	neg := func(x float64) float64 {
		if x == 0 {
			return -1
		}
		return x
	}
	cfg := synth.Config{Seed: *seed, MaxTools: *maxTools, MinTools: *minTools, MaxDescLen: *maxDesc,
		Long: neg(*long), Mask: neg(*mask), NearMiss: neg(*nearMiss), Spoken: neg(*spoken), Written: max(*written, 0)}
	switch *split {
	case "train":
	case "heldout":
		cfg.Split = synth.HeldOut
	default:
		return usagef("--split must be train or heldout, not %q", *split)
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	t0 := time.Now()
	if err := synth.New(cfg).WriteJSONL(w, *start, *n); err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Fprintf(stderr, "%d rows in %.2fs (%.0f rows/s)\n", *n, el.Seconds(), float64(*n)/el.Seconds())
	return nil
}
