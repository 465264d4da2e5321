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
  --out "$tmp/model" --steps 60 --batch 16 --lr-adam 1e-2 --qat-start 0.5 --val-every 0 --val-rows 16 --threads 2 > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
$PY - "$tmp/model/train_meta.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
first, last = m["first_loss"], m["last_loss"]
print(f"smoke: loss {first:.3f} -> {last:.3f} over {m['steps']} steps")
assert last < 0.8 * first, "training loss did not fall"
PYEOF
cp models/tokenizer.model "$tmp/model/"
cat > "$tmp/tools.json" <<'JSON'
[{"name":"set_timer","description":"Start a timer.","parameters":{"minutes":{"type":"integer","required":true}}}]
JSON
out=$(go run ./cmd/needle run --model "$tmp/model" --query "set a timer for 5 minutes" --tools "$tmp/tools.json" --json)
echo "smoke: go decode: $out"
$PY -c 'import json,sys; d=json.loads(sys.argv[1]); assert "calls" in d and 0 <= d["confidence"] <= 1' "$out"
