#!/usr/bin/env python3
"""Lowest confidence threshold whose answered rows reach >= 98% exact on the validation
per-item files (held-out seeds other than the report's), then what it gives on other files.

  usage: threshold.py VAL1.jsonl[,VAL2.jsonl] [TEST.jsonl ...]

The router's default (internal/router DefaultThreshold, 0.99998 rounded up) came from:
  needle eval synth -seed 7  -n 1500 -catalogue 0 --per-item s7.jsonl
  needle eval synth -seed 99 -n 1500 -catalogue 0 --per-item s99.jsonl
  python3 scripts/threshold.py s7.jsonl,s99.jsonl reports/synth_items.jsonl
"""
import json, sys
def load(fs):
    rows = []
    for f in fs.split(","):
        rows += [json.loads(l) for l in open(f)]
    return rows
val = load(sys.argv[1])
xs = sorted(((r["confidence"], r["exact"]) for r in val), key=lambda x: -x[0])
thr, cov, ok = None, 0, 0
for i, (c, e) in enumerate(xs):
    ok += e
    # only cut between distinct confidences
    if (i + 1 == len(xs) or xs[i + 1][0] < c) and ok / (i + 1) >= 0.98:
        thr, cov = c, (i + 1) / len(xs)
print(f"validation ({len(val)} rows): threshold {thr!r} covers {100*cov:.1f}%")
for f in sys.argv[2:]:
    rows = load(f)
    ans = [r for r in rows if thr is not None and r["confidence"] >= thr]
    prec = sum(r["exact"] for r in ans) / len(ans) if ans else float("nan")
    print(f"{f}: at {thr!r}: coverage {100*len(ans)/len(rows):.1f}%, precision {100*prec:.1f}% ({len(ans)} of {len(rows)})")
