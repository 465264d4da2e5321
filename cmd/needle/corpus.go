package main

import (
	"flag"
	"os"

	"github.com/needle-router/needle/internal/corpus"
)

// cmdCorpus converts the human-written corpora into training rows and evaluation sets.
func cmdCorpus(args []string) error {
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
