#!/usr/bin/env bash
# CPU smoke test of the training recipe: a tiny config trains a few dozen steps on generated
# rows, the loss must fall, and the exported weights must load in Go and decode.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./cmd/needle data -n 3000 -seed 3 -max-tools 2 -o "$tmp/train.jsonl" 2>/dev/null
go run ./cmd/needle data -n 32 -seed 4 -max-tools 2 -split heldout -o "$tmp/heldout.jsonl" 2>/dev/null
$PY train/train.py --config tiny --data "$tmp/train.jsonl" --heldout "$tmp/heldout.jsonl" \
  --out "$tmp/model" --steps 60 --batch 16 --permute-params 0.5 --lr-adam 1e-2 --qat-start 0.5 --val-every 0 --val-rows 16 --threads 2 > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
$PY - "$tmp/model/train_meta.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
first, last = m["first_loss"], m["last_loss"]
print(f"smoke: loss {first:.3f} -> {last:.3f} over {m['steps']} steps")
assert last < 0.8 * first, "training loss did not fall"
PYEOF
test -s "$tmp/model/tokenizer.model" || { echo "smoke: the export lacks tokenizer.model"; exit 1; }
cat > "$tmp/tools.json" <<'JSON'
[{"name":"set_timer","description":"Start a timer.","parameters":{"minutes":{"type":"integer","required":true}}}]
JSON
out=$(go run ./cmd/needle run --model "$tmp/model" --query "set a timer for 5 minutes" --tools "$tmp/tools.json" --json)
echo "smoke: go decode: $out"
$PY -c 'import json,sys; d=json.loads(sys.argv[1]); assert "calls" in d and 0 <= d["confidence"] <= 1' "$out"

# The prepared GPU run (train/gpu_run.sh), rehearsed on the CPU: the tiny config over the
# corpus converters' fixtures, a few steps; its model must load and decode in Go.
CONFIG=tiny MINUTES=2 STEPS=6 SYNTH=500 BATCH=8 DATASETS=internal/corpus/testdata OUT="$tmp/gpu" \
  bash train/gpu_run.sh > "$tmp/gpu.log" 2>&1 || { cat "$tmp/gpu.log"; exit 1; }
$PY -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["steps"] == 6, m' "$tmp/gpu/model/train_meta.json"
go run ./cmd/needle run --model "$tmp/gpu/model" --query "set a timer for 5 minutes" --tools "$tmp/tools.json" --json > /dev/null
echo "smoke: gpu_run.sh rehearsal trained and loads"

# needle finetune end to end: the fixture toolset and examples, three steps from the shipped
# model; the report must cover the held-out examples for both models.
go run ./cmd/needle finetune --tools internal/finetune/testdata/home_tools.json \
  --examples internal/finetune/testdata/home_examples.jsonl --steps 3 --minutes 3 --threads 2 --out "$tmp/ft" > "$tmp/ft.log" 2>&1 || { cat "$tmp/ft.log"; exit 1; }
$PY - "$tmp/ft/report.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["held_out"] == 7 and r["base"]["items"] == 7 and r["fine_tuned"]["items"] == 7, r
assert r["steps"] >= 1 and r["model_bytes"] > 1e6, r
print(f"smoke: finetune base exact {r['base']['exact']:.2f} -> fine-tuned {r['fine_tuned']['exact']:.2f} on 7 held-out examples (3 steps)")
PYEOF
test -s "$tmp/ft/heldout_items.jsonl" && test -s "$tmp/ft/tokenizer.model"
