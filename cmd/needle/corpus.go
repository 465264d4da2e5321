package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/corpus"
)

// cmdCorpus converts the human-written corpora into training rows and evaluation sets.
func cmdCorpus(args []string) error {
	if len(args) > 0 && args[0] == "snips" {
		return cmdCorpusSNIPS(args[1:])
	}
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	var o corpus.PrepareOptions
	fs.StringVar(&o.Datasets, "datasets", "../shared/datasets", "folder holding hwu64/, slurp/, clinc150/, polyai/, sgd/, each laid out as its upstream repository")
	fs.StringVar(&o.Out, "out", "data/real", "output folder: train_*.jsonl, dev_*.jsonl, bfcl-dev/, bfcl-test/")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed (tool choice and variants)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return corpus.Prepare(o)
}

// cmdCorpusSNIPS writes the SNIPS few-shot benchmark's toolset and example files.
func cmdCorpusSNIPS(args []string) error {
	fs := flag.NewFlagSet("corpus snips", flag.ContinueOnError)
	dir := fs.String("dataset", "../shared/datasets/snips", "snipsco/nlu-benchmark checkout (2017-06-custom-intent-engines/ inside)")
	out := fs.String("out", "data/snips", "output folder")
	sizes := fs.String("sizes", "10,70", "examples per intent of the small draws")
	draws := fs.Int("draws", 3, "draws per size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("--sizes: %q is not a positive count", s)
		}
		ns = append(ns, n)
	}
	return corpus.PrepareSNIPS(*dir, *out, ns, *draws, os.Stderr)
}
