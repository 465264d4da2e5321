#!/usr/bin/env python3
"""Learning curves at equal CPU time from train.py logs (--log): the held-out metrics of each
run averaged over fixed windows of its own wall time, so runs that shared a machine (one
thread each) are compared at equal CPU seconds.

    train/curves.py --window 1800 A=runs/s7a/log.jsonl B=runs/s7b/log.jsonl
prints a Markdown table: per window and run, mean val_loss, exact and name accuracy (the
validation lines in each window, 96 rows each).
"""
import argparse
import json


def windows(path, width):
    out = {}
    for line in open(path):
        d = json.loads(line)
        h = d.get("heldout")
        if not h:
            continue
        if isinstance(h, str):
            h = json.loads(h)
        if "t" not in h:
            continue
        out.setdefault(int(h["t"] // width), []).append(h)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=1800, help="seconds per window")
    ap.add_argument("runs", nargs="+", help="NAME=log.jsonl")
    a = ap.parse_args()
    runs = [(r.split("=", 1)[0], windows(r.split("=", 1)[1], a.window)) for r in a.runs]
    keys = sorted(set(k for _, w in runs for k in w))
    head = "| window (s) | " + " | ".join(f"{n} val loss | {n} exact | {n} tool name" for n, _ in runs) + " |"
    print(head)
    print("|" + "---|" * (1 + 3 * len(runs)))
    for k in keys:
        cells = []
        for _, w in runs:
            hs = w.get(k, [])
            if not hs:
                cells += ["", "", ""]
                continue
            m = lambda f: sum(h[f] for h in hs) / len(hs)
            cells += [f"{m('val_loss'):.3f}", f"{100*m('exact'):.1f}", f"{100*m('name_acc'):.1f}"]
        print(f"| {int(k*a.window)}-{int((k+1)*a.window)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
