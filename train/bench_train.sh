#!/usr/bin/env bash
# Training throughput, before and after issue 10's CPU setup, in one run on this machine:
#   train/bench_train.sh [config] [batch] [steps]
# "legacy" is the old setup (BLAS as detected with its own threads on every core, torch on
# every core, fp32, plain shuffle); "chosen" is what train/cpu_setup.py picks for this CPU
# (BLAS core type, one BLAS thread under torch's, bf16 autocast only where native, length
# buckets). Both use every core of the machine. Prints one JSON line each.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
cfg=${1:-small}; batch=${2:-48}; steps=${3:-20}
threads=${THREADS:-$(nproc)}
data=$(mktemp); trap 'rm -f "$data"' EXIT
go run ./cmd/needle data -n 4000 -seed 5 -o "$data" >/dev/null 2>&1
NEEDLE_TRAIN_LEGACY=1 $PY train/train.py --config "$cfg" --data "$data" --out /tmp/bench_train --batch "$batch" \
  --bench "$steps" --bucket 0 --precision fp32 --seed 1 2>/dev/null | grep '^bench '
$PY train/train.py --config "$cfg" --data "$data" --out /tmp/bench_train --batch "$batch" \
  --bench "$steps" --threads "$threads" --seed 1 2>/dev/null | grep '^bench '
