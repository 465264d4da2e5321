#!/usr/bin/env bash
# Load at 1, 32 and 256 concurrent callers against a local router: throughput, p50/p99 of
# answered requests, shed (RESOURCE_EXHAUSTED) and failed counts, router RSS before and after
# each level. Measured, not asserted. Usage: scripts/load.sh [seconds-per-level] [router flags...]
set -euo pipefail
dur=${1:-10}; shift || true
cd "$(dirname "$0")/.."
bin=$(mktemp -d); data=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$bin" "$data"' EXIT
go build -o "$bin/" ./cmd/router ./cmd/perception-stub
port=$((20000 + RANDOM % 20000))
"$bin/router" --grpc-addr 127.0.0.1:$port --http-addr 127.0.0.1:$((port+1)) --tools-dir examples/toolsets --data-dir "$data" "$@" 2>"$bin/router.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((port+1))/healthz" >/dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ {print $2/1024}' /proc/$pid/status; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); router flags: $*"
printf '%-8s %10s %10s %10s %8s %8s %10s %10s\n' callers ok/s p50_ms p99_ms shed failed rss_before rss_after
for c in 1 32 256; do
  before=$(rss)
  out=$("$bin/perception-stub" --addr 127.0.0.1:$port --toolset assistant --in examples/transcripts.txt \
        --concurrency $c --duration ${dur}s --timeout 5s --json --max-error-rate 1 || true)
  after=$(rss)
  python3 -c 'import json,sys; s=json.loads(sys.argv[1]); l=s.get("latency_ms_ok") or {}; print("%-8d %10.1f %10.1f %10.1f %8d %8d %9.0fM %9.0fM" % (s["concurrency"], s["ok_per_second"], l.get("p50",0), l.get("p99",0), s["shed"], s["failed"], float(sys.argv[2]), float(sys.argv[3])))' "$out" "$before" "$after"
done
