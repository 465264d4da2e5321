#!/usr/bin/env bash
# One prepared run for a lent GPU (the `device` tool): converts the human-written corpora,
# generates synthetic rows, trains CONFIG on the mixture for MINUTES, and leaves the
# exported model directory, the per-step log and a resumable checkpoint under OUT.
#
#   OUT=$OUT train/gpu_run.sh                      # on the device: 26m, 9 minutes, bf16
#   CONFIG=tiny MINUTES=0.2 STEPS=12 SYNTH=2000 DATASETS=internal/corpus/testdata OUT=/tmp/g train/gpu_run.sh
#                                                  # the CPU rehearsal (train/smoke.sh runs it)
#
# Needs bin/needle (make build) or Go, /usr/bin/python3 with torch, and DATASETS laid out
# as ../shared/datasets. The mixture is the CPU stage's (README, Training).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-26m}
MINUTES=${MINUTES:-9}
STEPS=${STEPS:-0}
SYNTH=${SYNTH:-200000}
BATCH=${BATCH:-64}
DATASETS=${DATASETS:-../shared/datasets}
OUT=${OUT:?set OUT to the output folder}
PY=${PY:-/usr/bin/python3}
if [ -x bin/needle ]; then NEEDLE=bin/needle; else NEEDLE="go run ./cmd/needle"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
t0=$(date +%s)
$NEEDLE corpus -datasets "$DATASETS" -out "$work/real" 2> "$OUT/corpus.txt"
$NEEDLE data -n "$SYNTH" -seed 201 -written 0.4 -max-tools 10 -long 0.2 -o "$work/synth.jsonl" 2>/dev/null
echo "data ready in $(( $(date +%s) - t0 )) s" | tee "$OUT/timing.txt"
mix=()
for spec in hwu64:0.32 sgd:0.1 clinc150:0.1 banking77:0.04; do
  f="$work/real/train_${spec%%:*}.jsonl"
  [ -s "$f" ] && mix+=(--mix "$f:${spec##*:}")
done
$PY train/train.py --config "$CONFIG" --data "$work/synth.jsonl" "${mix[@]}" \
  --heldout "$work/real/dev_slurp.jsonl" --out "$OUT/model" --ckpt "$OUT/ckpt.pt" --log "$OUT/log.jsonl" \
  --minutes "$MINUTES" --steps "$STEPS" --batch "$BATCH" --max-enc 896 --warmup 0.03 --decay 0.3 --qat-start 0.7 \
  --contrastive 0.3 --hard-negatives 1 --permute-params 0.5 --val-every 200 --val-rows 64 --seed 20 > "$OUT/train.txt" 2>&1 \
  || { tail -20 "$OUT/train.txt"; exit 1; }
test -s "$OUT/model/tokenizer.model"  # train.py exports a complete model directory
echo "done in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/timing.txt"
