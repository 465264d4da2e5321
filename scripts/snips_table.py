#!/usr/bin/env python3
"""SNIPS 2017 custom-intent benchmark: our per-slot precision/recall/F1 after `needle finetune`
next to the published engines (snipsco/nlu-benchmark, <Intent>/<Provider>_metrics.json).

  scripts/snips_table.py DATASET RUNS_DIR > reports/snips.md

RUNS_DIR/<size>_d<k>/heldout_items.jsonl come from scripts/snips_bench.sh (size 10, 70 or
full). Mapping: a gold slot is a (slot, value) pair of the query; a predicted slot is an
argument of the first call when that call names the query's intent (we are not told the
intent, the published engines were: a wrong tool gives no slots, a recall loss). A
prediction is right when its value equals the gold value after lowercasing and trimming
spaces. Per slot, precision and recall are pooled over the 100 test queries of its intent;
F1 per slot from them, then averaged (macro) over the intent's slots, as the published
numbers are per slot. Published F1 is computed the same way from each draw's precision and
recall, then averaged over the three draws.
"""
import glob
import json
import os
import sys
from collections import defaultdict

PROVIDERS = ["Snips", "Luis", "Wit", "api.ai", "Alexa"]
TOOL = {"AddToPlaylist": "add_to_playlist", "BookRestaurant": "book_restaurant", "GetWeather": "get_weather",
        "PlayMusic": "play_music", "RateBook": "rate_book", "SearchCreativeWork": "search_creative_work",
        "SearchScreeningEvent": "search_screening_event"}
INTENT = {v: k for k, v in TOOL.items()}


def f1(p, r):
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def published(dataset, intent, provider, size):
    name = f"{provider}_metrics_full.json" if size == "full" else f"{provider}_metrics.json"
    path = os.path.join(dataset, "2017-06-custom-intent-engines", intent, name)
    if not os.path.exists(path):
        return None
    slots = json.load(open(path))["intents"][intent]["slots"]
    key = "2000" if size == "full" else size
    per_draw = defaultdict(list)
    for s, m in slots.items():
        ps, rs = m["precision"].get(key), m["recall"].get(key)
        if ps is None:
            if size == "full" and m["precision"]:  # the full file has one size key
                k = next(iter(m["precision"]))
                ps, rs = m["precision"][k], m["recall"][k]
            else:
                return None
        ps = ps if isinstance(ps, list) else [ps]
        rs = rs if isinstance(rs, list) else [rs]
        for d, (p, r) in enumerate(zip(ps, rs)):
            per_draw[d].append(f1(p, r))
    if not per_draw:
        return None
    return sum(sum(v) / len(v) for v in per_draw.values()) / len(per_draw)


def ours(path):
    """Per intent: macro slot F1, tool accuracy, exact."""
    counts = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))  # intent -> slot -> [tp, pred, gold]
    tool, n, exact = defaultdict(int), defaultdict(int), defaultdict(int)
    for line in open(path):
        it = json.loads(line)
        want = it["want"][0]
        intent = INTENT[want["name"]]
        gold = {k: str(v).strip().lower() for k, v in want["arguments"].items()}
        calls = it["fine_tuned"] or []
        n[intent] += 1
        exact[intent] += it["fine_tuned_verdict"] == "pass"
        pred = {}
        if calls and calls[0]["name"] == want["name"]:
            tool[intent] += 1
            pred = {k: str(v).strip().lower() for k, v in (calls[0].get("arguments") or {}).items()}
        for k, v in gold.items():
            counts[intent][k][2] += 1
        for k, v in pred.items():
            counts[intent][k][1] += 1
            counts[intent][k][0] += gold.get(k) == v
    out = {}
    for intent, slots in counts.items():
        f1s = []
        for s, (tp, pr, gd) in slots.items():
            if gd == 0:
                continue
            f1s.append(f1(tp / pr if pr else 0.0, tp / gd))
        out[intent] = (sum(f1s) / len(f1s), tool[intent] / n[intent], exact[intent] / n[intent])
    return out


def main():
    dataset, runs = sys.argv[1], sys.argv[2]
    sizes = []
    for size in ["10", "70", "full"]:
        files = sorted(glob.glob(os.path.join(runs, f"{size}_d*", "heldout_items.jsonl")))
        if files:
            sizes.append((size, [ours(f) for f in files]))
    print("| intent | train size | ours: slot F1 | ours: tool acc | ours: exact | " + " | ".join(PROVIDERS) + " |")
    print("|---|---|---|---|---|" + "---|" * len(PROVIDERS))
    for intent in sorted(TOOL):
        for size, draws in sizes:
            vals = [d[intent] for d in draws if intent in d]
            if not vals:
                continue
            mean = [sum(v[i] for v in vals) / len(vals) for i in range(3)]
            pub = [published(dataset, intent, p, size) for p in PROVIDERS]
            cells = ["-" if x is None else f"{100 * x:.1f}" for x in pub]
            print(f"| {intent} | {size} ({len(vals)} draws) | {100 * mean[0]:.1f} | {100 * mean[1]:.1f} | {100 * mean[2]:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
