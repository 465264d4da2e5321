package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/needle-router/needle/internal/synth"
)

func cmdData(args []string) error {
	fs := flag.NewFlagSet("data", flag.ContinueOnError)
	n := fs.Uint64("n", 10000, "rows to generate")
	start := fs.Uint64("start", 0, "index of the first row (rows depend only on seed, split and index)")
	seed := fs.Uint64("seed", 1, "random seed")
	split := fs.String("split", "train", "train or heldout (unseen tool families and templates)")
	maxTools := fs.Int("max-tools", 10, "most tools offered per row")
	out := fs.String("o", "-", "output file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := synth.Config{Seed: *seed, MaxTools: *maxTools}
	switch *split {
	case "train":
	case "heldout":
		cfg.Split = synth.HeldOut
	default:
		return fmt.Errorf("--split must be train or heldout, not %q", *split)
	}
	var w io.Writer = os.Stdout
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
	fmt.Fprintf(os.Stderr, "%d rows in %.2fs (%.0f rows/s)\n", *n, el.Seconds(), float64(*n)/el.Seconds())
	return nil
}
