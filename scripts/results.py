#!/usr/bin/env python3
"""Regenerate the README's results section from the JSON reports in reports/.

  python3 scripts/results.py        (rewrites README.md between the results markers)

Inputs: reports/bfcl.json (needle eval bfcl --json), reports/synth.json (needle eval synth
--json), reports/bench.json (needle bench --json), reports/peers.json and reports/peers_26m.json (train/bench_peers.py).
"""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
R = lambda f: os.path.join(ROOT, "reports", f)

PUBLISHED = [  # BFCL v4: simple_python / multiple / irrelevance / live_simple / live_multiple
    ("FunctionGemma-270m (model card)", [61.6, 63.5, 73.7, 36.2, 25.7]),
    ("Granite-4.0-350m (leaderboard)", [83.0, 84.5, 76.7, 61.2, 42.4]),
    ("Qwen3-0.6B (leaderboard)", [86.5, 86.0, 82.5, 61.2, 56.1]),
]
COLS = ["simple_python", "multiple", "irrelevance", "live_simple", "live_multiple"]


def load(f):
    try:
        return json.load(open(R(f)))
    except FileNotFoundError:
        return None


def section():
    out = []
    b = load("bfcl.json")
    if b:
        cats = b["categories"]
        n = sum(c["total"] for c in cats.values())
        out.append(f"BFCL v4 (AST checker in Go, `needle eval bfcl`), model `{b['model']}`, {n} items "
                   f"(at most the first 150 of each category; per-category totals in reports/bfcl.json):\n")
        out.append("| model | " + " | ".join(COLS) + " |")
        out.append("|---|" + "---|" * len(COLS))
        ours = [f"{100 * cats[c]['accuracy']:.1f}" if c in cats else "-" for c in COLS]
        out.append(f"| **Needle (ours, shipped)** | " + " | ".join(ours) + " |")
        for name, vals in PUBLISHED:
            out.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
        rest = [c for c in sorted(cats) if c not in COLS]
        if rest:
            out.append("\nOther categories: " + ", ".join(f"{c} {100 * cats[c]['accuracy']:.1f}% ({cats[c]['correct']}/{cats[c]['total']})" for c in rest) + ".")
        out.append("")
    s = load("synth.json")
    if s:
        r = s["synth"]
        out.append(f"Held-out synthetic split (unseen tool families and templates, `needle eval synth`, {r['n']} rows):\n")
        out.append("| exact match | tool name | call F1 | arguments | parse | no-call |")
        out.append("|---|---|---|---|---|---|")
        out.append(f"| {100 * r['exact_match']:.1f}% | {100 * r['tool_name_accuracy']:.1f}% | {100 * r['call_f1']:.1f}% | {100 * r['argument_accuracy']:.1f}% | {100 * r['parse_rate']:.1f}% | {100 * r['no_call_accuracy']:.1f}% |")
        sw = load("synth_written.json")
        if sw:
            w = sw["synth"]
            out.append(f"\nThe same split with half the rows asking held-out written API tools (calculations and lookups in typed sentences; `needle eval synth -written 0.5 -seed 3`, {w['n']} rows): exact {100 * w['exact_match']:.1f}%, tool name {100 * w['tool_name_accuracy']:.1f}%, no-call {100 * w['no_call_accuracy']:.1f}%.")
        if r.get("retrieval"):
            out.append("\nRetrieval of the called tool (`needle eval synth`; hybrid = contrastive cosine + "
                       "BM25, what the router uses):\n")
            out.append("| catalogue | queries | head R@1 | head R@5 | hybrid R@1 | hybrid R@5 | hybrid MRR |")
            out.append("|---|---|---|---|---|---|---|")
            for key, what in (("retrieval", "distinct tools"), ("retrieval_by_name", "tool names (one function under several names)")):
                t = r.get(key)
                if not t:
                    continue
                hyb = [f"{100 * t['hybrid_recall_at_1']:.1f}%", f"{100 * t['hybrid_recall_at_5']:.1f}%", f"{t['hybrid_mrr']:.3f}"] if "hybrid_recall_at_1" in t else ["-"] * 3
                out.append(f"| {t['catalogue']} {what} | {t['queries']} | {100 * t['recall_at_1']:.1f}% | {100 * t['recall_at_5']:.1f}% | " + " | ".join(hyb) + " |")
        out.append("\nCalibration (risk-coverage of the confidence score; plot: `reports/calibration.png`):\n")
        out.append("| coverage | threshold | precision |")
        out.append("|---|---|---|")
        for p in r["calibration"]:
            if round(p["coverage"] * 10) in (5, 8, 9, 10):
                out.append(f"| {100 * p['coverage']:.0f}% | {p['threshold']:.3f} | {100 * p['precision']:.1f}% |")
        if r["threshold_at_98_precision"] >= 0:
            out.append(f"\nThreshold for >= 98% local precision: {r['threshold_at_98_precision']:.5f} (covers {100 * r['coverage_at_98_precision']:.1f}% of requests).")
        else:
            out.append("\nNo threshold reaches 98% local precision with this model.")
        out.append("")
    benches = [("shipped", load("bench.json"))]
    p26 = load("peers_26m.json")
    if p26:
        benches += [("26m shape, random weights", p26["go_bench"]), ("26m shape, random weights", p26["go_bench_f32"])]
    if benches[0][1]:
        be = benches[0][1]
        out.append(f"Speed (`needle bench`, kernels `{be['kernels']}`, CPU features `{be.get('cpu_features', '?')}`, {be['threads']} threads; issue 13's targets for the 26m shape: prefill-300 <= 40 ms on 2 Intel AVX-512 cores and <= 60 ms on 2 Zen 3 cores, decode <= 0.5 ms/token):\n")
        out.append("| model | weights | prefill 100 | prefill 300 | prefill 1000 | decode | route p50 / p99 (5 tools) | weights held | peak RSS |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for label, be in benches:
            p = be["prefill_ms"]
            out.append(f"| {be['model']} ({label}) | {be.get('weights', 'f32')} | {p['100']:.1f} ms | {p['300']:.1f} ms | {p['1000']:.1f} ms | {be['decode_ms_per_token']:.3f} ms/token | {be['route_p50_ms']:.1f} / {be['route_p99_ms']:.1f} ms | {be['weights_bytes'] / 1e6:.1f} MB | {be['peak_rss_bytes'] / 1e6:.1f} MB |")
        out.append("")
    for name in ("peers.json", "peers_26m.json"):
        pe = load(name)
        if not pe:
            continue
        what = f"`{pe['model']}`" + (" (random weights)" if pe.get("random_weights") else " (shipped)")
        out.append(f"Peers on {what}, same weights, {pe['threads']} threads, one run (`train/bench_peers.py`); ratio = engine time / ours (first row, the default weights), above 1 means ours is faster:\n")
        out.append("| engine | prefill-300 ms | decode ms/token | ratio (prefill / decode) |")
        out.append("|---|---|---|---|")
        base = pe["rows"][0]
        for r in pe["rows"]:
            out.append(f"| {r['engine']} | {r['prefill_300_ms']:.1f} | {r['decode_ms_per_token']:.3f} | {r['prefill_300_ms'] / base['prefill_300_ms']:.2f}x / {r['decode_ms_per_token'] / base['decode_ms_per_token']:.2f}x |")
        out.append("")
    return "\n".join(out)


def main():
    p = os.path.join(ROOT, "README.md")
    s = open(p).read()
    new = re.sub(r"(<!-- results:begin -->\n).*?(<!-- results:end -->)", lambda m: m.group(1) + section() + "\n" + m.group(2), s, flags=re.S)
    open(p, "w").write(new)


if __name__ == "__main__":
    main()
