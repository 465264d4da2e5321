#!/usr/bin/env bash
# Evaluates a model on the human-written development and test sets (built by `needle corpus`),
# BFCL and the synthetic held-out split, in two streams (one per core), writing JSON reports and
# per-item files under OUT.
#
#   scripts/eval_real.sh MODEL_DIR OUT [LIMIT]      # MODEL_DIR "" = the shipped model
#   CLINC_LIMIT=1000 scripts/eval_real.sh ...       # the first 1000 of each CLINC150 category (grouped by intent: a quick look, not a score)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-}
OUT=${2:?OUT}
LIMIT=${3:-0}
mkdir -p "$OUT"
m=(); [ -n "$MODEL" ] && m=(--model "$MODEL")
N=bin/needle
[ -x $N ] || go build -o bin/needle ./cmd/needle
[ -d data/real/bfcl-dev ] || $N corpus -out data/real
ev() { local name=$1; shift; GOMAXPROCS=1 $N eval "$@" "${m[@]}" --json "$OUT/$name.json" > "$OUT/$name.txt" 2> "$OUT/$name.err" || { echo "eval $name failed:" >&2; cat "$OUT/$name.err" >&2; return 1; }; }
(
  ev real_dev bfcl --data data/real/bfcl-dev --categories slurp_dev,hwu64_dev --limit "$LIMIT" --per-item "$OUT/real_dev_items.jsonl"
  ev real_test bfcl --data data/real/bfcl-test --categories hwu64_test --limit "$LIMIT" --per-item "$OUT/real_test_items.jsonl"
  # The same test items with every tool's parameters sorted by name: answers should not
  # depend on the order (README "Parameter order").
  ev real_test_sorted bfcl --data data/real/bfcl-test --categories hwu64_test --limit "$LIMIT" --param-order sorted --per-item "$OUT/real_test_sorted_items.jsonl"
) &
(
  ev bfcl bfcl --data ../shared/bfcl --categories simple_python,multiple,irrelevance --per-item "$OUT/bfcl_items.jsonl"
  ev synth synth --per-item "$OUT/synth_items.jsonl"
  # CLINC150 test: in scope and out of scope (no call wanted), many tools and one tool offered.
  ev clinc_test bfcl --data data/real/bfcl-test --categories clinc150_test,clinc150_test_irrelevance,clinc150_test_one,clinc150_test_one_irrelevance --limit "${CLINC_LIMIT:-$LIMIT}" --per-item "$OUT/clinc_test_items.jsonl"
) &
wait
tail -n +1 "$OUT"/*.txt
