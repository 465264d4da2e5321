#!/usr/bin/env python3
"""Markdown tables from `scripts/eval_real.sh` output folders (the JSON reports of `needle eval
bfcl` and `needle eval synth`), one row per category and model, for models/README.md and the
README's Results.

    scripts/real_table.py LABEL=runs/eval/A LABEL=runs/eval/B ...
"""
import json
import os
import sys

NAMES = {"slurp_dev": "SLURP devel", "hwu64_dev": "HWU64 fold 2 (dev)", "hwu64_test": "HWU64 fold 1 (test)",
         "clinc150_test": "CLINC150 test, in scope", "clinc150_test_irrelevance": "CLINC150 test, out of scope",
         "clinc150_test_one": "CLINC150 test, one tool, in scope",
         "clinc150_test_one_irrelevance": "CLINC150 test, one tool, out of scope",
         "simple_python": "BFCL simple_python", "multiple": "BFCL multiple", "irrelevance": "BFCL irrelevance"}


def pct(x):
    return f"{100 * x:.1f}"


def main():
    runs = [a.split("=", 1) for a in sys.argv[1:]]
    rows = {}
    synth = []
    for label, d in runs:
        for f in sorted(os.listdir(d)):
            if not f.endswith(".json"):
                continue
            r = json.load(open(os.path.join(d, f)))
            if "categories" in r:
                for cat, c in r["categories"].items():
                    rows.setdefault(cat, []).append((label, c))
            elif "synth" in r:
                synth.append((label, r["synth"]))
    print("| set | model | items | tool | exact | arg P / R / F1 | invented (no-arg gold) | no call | local at threshold / precision |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cat in sorted(rows, key=lambda c: list(NAMES).index(c) if c in NAMES else 99):
        for label, c in rows[cat]:
            args = "-" if "irrelevance" in cat else f"{pct(c['arg_precision'])} / {pct(c['arg_recall'])} / {pct(c['arg_f1'])}"
            local = f"{pct(c['coverage'])} / {pct(c['precision'])}" if c.get("threshold") else "-"
            print(f"| {NAMES.get(cat, cat)} | {label} | {c['total']} | {pct(c['tool_accuracy'])} | {pct(c['accuracy'])} | "
                  f"{args} | {pct(c['invented_rate']) if 'irrelevance' not in cat else '-'} | {pct(c['no_call_rate'])} | {local} |")
    for label, r in synth:
        print(f"\nsynthetic held-out ({label}): exact {pct(r['exact_match'])}, tool name {pct(r['tool_name_accuracy'])}, "
              f"no-call {pct(r['no_call_accuracy'])}")


if __name__ == "__main__":
    main()
