package main

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/needle-router/needle/internal/corpus"
)

// runCorpus converts the human-written corpora into training rows and evaluation sets.
func runCorpus(_ context.Context, args []string, _, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "snips" {
		return runCorpusSNIPS(args[1:], stderr)
	}
	fs := newFlags("corpus", stderr)
	var o corpus.PrepareOptions
	fs.StringVar(&o.Datasets, "datasets", "../shared/datasets", "folder holding hwu64/, slurp/, clinc150/, polyai/, sgd/, each laid out as its upstream repository")
	fs.StringVar(&o.Out, "out", "data/real", "output folder: train_*.jsonl, dev_*.jsonl, bfcl-dev/, bfcl-test/")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed (tool choice and variants)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = stderr
	return corpus.Prepare(o)
}

// runCorpusSNIPS writes the SNIPS few-shot benchmark's toolset and example files.
func runCorpusSNIPS(args []string, stderr io.Writer) error {
	fs := newFlags("corpus snips", stderr)
	dir := fs.String("dataset", "../shared/datasets/snips", "snipsco/nlu-benchmark checkout (2017-06-custom-intent-engines/ inside)")
	out := fs.String("out", "data/snips", "output folder")
	sizes := fs.String("sizes", "10,70", "examples per intent of the small draws")
	draws := fs.Int("draws", 3, "draws per size")
	if err := parse(fs, args); err != nil {
		return err
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return usagef("--sizes: %q is not a positive count", s)
		}
		ns = append(ns, n)
	}
	return corpus.PrepareSNIPS(*dir, *out, ns, *draws, stderr)
}
