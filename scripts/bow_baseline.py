#!/usr/bin/env python3
"""Anchor row for intent (tool) accuracy: a multinomial naive Bayes bag-of-words classifier
(lowercase words and word bigrams, add-one smoothing) trained on the same training
utterances the model saw (HWU64 folds 3-10, or CLINC150 train), scored on held-out sets.
Queries no intent serves (CLINC150's out-of-scope ones, intent "") are left out of both: the
anchor is for the choice of tool among in-scope requests.

  scripts/bow_baseline.py data/real/intents_hwu64_train.tsv data/real/intents_hwu64_test.tsv data/real/intents_slurp_dev.tsv
  scripts/bow_baseline.py data/real/intents_clinc150_train.tsv data/real/intents_clinc150_test.tsv
"""
import math
import re
import sys
from collections import Counter, defaultdict


def feats(q):
    w = re.findall(r"[a-z0-9']+", q.lower())
    return w + [a + " " + b for a, b in zip(w, w[1:])]


def load(path):
    out = []
    for line in open(path, encoding="utf-8"):
        q, _, intent = line.rstrip("\n").rpartition("\t")
        if intent:
            out.append((q, intent))
    return out


def main():
    train = load(sys.argv[1])
    prior, counts, totals, vocab = Counter(), defaultdict(Counter), Counter(), set()
    for q, y in train:
        prior[y] += 1
        for f in feats(q):
            counts[y][f] += 1
            totals[y] += 1
            vocab.add(f)
    V = len(vocab)
    print(f"| held-out set | items | naive Bayes intent accuracy (trained on {len(train)} utterances) |")
    print("|---|---|---|")
    for path in sys.argv[2:]:
        test = load(path)
        ok = 0
        for q, y in test:
            best = max(prior, key=lambda c: math.log(prior[c]) + sum(math.log((counts[c][f] + 1) / (totals[c] + V)) for f in feats(q)))
            ok += best == y
        print(f"| {path} | {len(test)} | {100 * ok / len(test):.1f}% |")


if __name__ == "__main__":
    main()
