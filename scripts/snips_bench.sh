#!/usr/bin/env bash
# The SNIPS 2017 custom-intent benchmark with `needle finetune` (issue 21): the seven intents
# offered together as tools, fine-tuned from the shipped model on 10 and 70 examples per
# intent (three draws each, as the published engines were) and on the full training files,
# then tested on validate_*.json (700 queries). Writes reports/snips.md.
#
#   scripts/snips_bench.sh [DATASET] [MINUTES] [SIZES] [DRAWS]
#   scripts/snips_bench.sh ../shared/datasets/snips 8 "10 70 full" 3     # the whole table
#   scripts/snips_bench.sh ../shared/datasets/snips 8 70 1               # one draw of 70
#   FIRST=2 THREADS=1 scripts/snips_bench.sh ../shared/datasets/snips 5 70 3   # draws 2-3, one trainer thread
set -euo pipefail
cd "$(dirname "$0")/.."
DATASET=${1:-../shared/datasets/snips}
MINUTES=${2:-8}
SIZES=${3:-10 70 full}
DRAWS=${4:-3}
make -s build
bin/needle corpus snips -dataset "$DATASET" -out data/snips -draws "$DRAWS"
for size in $SIZES; do
  for k in $(seq "${FIRST:-1}" "$DRAWS"); do
    if [ "$size" = full ]; then
      [ "$k" = 1 ] || continue
      ex=data/snips/train_full.jsonl per=1
    else
      ex=data/snips/train_${size}_d${k}.jsonl per=6
    fi
    out=runs/snips/${size}_d${k}
    echo "== $size draw $k -> $out"
    rm -rf "$out"  # finetune refuses a non-empty --out
    bin/needle finetune --tools data/snips/tools.json --examples "$ex" --test data/snips/test.jsonl \
      --per-example "$per" --minutes "$MINUTES" --seed "$k" --threads "${THREADS:-$(nproc)}" --out "$out"
  done
done
mkdir -p reports
python3 scripts/snips_table.py "$DATASET" runs/snips > reports/snips.md
cat reports/snips.md
