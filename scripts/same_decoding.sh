#!/usr/bin/env bash
# Decoding output item by item, before and after a change: builds cmd/needle at REV (a git
# revision, default HEAD) and from the working tree, runs both over the synthetic held-out
# split, BFCL and HWU64 dev (when data/real exists), and compares every per-item line with
# the timings left out (calls, verdicts and confidences must be identical).
#
#   scripts/same_decoding.sh [REV] [N]      # N: held-out rows and items per category (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-HEAD}
N=${2:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git worktree add -q --detach "$tmp/rev" "$REV"
(cd "$tmp/rev" && go build -o "$tmp/before" ./cmd/needle)
git worktree remove --force "$tmp/rev"
go build -o "$tmp/after" ./cmd/needle
ev() { "$@" > /dev/null 2> "$tmp/err" || { echo "failed: $*" >&2; tail -5 "$tmp/err" >&2; exit 1; }; }
for b in before after; do
  ev "$tmp/$b" eval synth -n "$N" --per-item "$tmp/synth_$b.jsonl"
  ev "$tmp/$b" eval bfcl --data ../shared/bfcl --categories simple_python,multiple,parallel,live_simple,irrelevance --limit "$N" --per-item "$tmp/bfcl_$b.jsonl"
  if [ -d data/real/bfcl-dev ]; then
    ev "$tmp/$b" eval bfcl --data data/real/bfcl-dev --categories hwu64_dev,slurp_dev --limit "$N" --per-item "$tmp/hwu_$b.jsonl"
  fi
done
python3 - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
bad = 0
for n in ("synth", "bfcl", "hwu"):
    p = os.path.join(d, f"{n}_before.jsonl")
    if not os.path.exists(p):
        continue
    def rows(path):
        out = []
        for line in open(path):
            r = json.loads(line)
            r.pop("route_ms", None)
            r.pop("timings_ms", None)
            out.append(json.dumps(r, sort_keys=True))
        return out
    a, b = rows(p), rows(os.path.join(d, f"{n}_after.jsonl"))
    diff = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
    bad += diff
    print(f"{n}: {len(a)} items, {diff} differ")
sys.exit(1 if bad else 0)
PY
