#!/usr/bin/env bash
# dev-store.sh PORT DIR: the shared toolset store (etcd, Debian's etcd-server, installed when
# missing) on 127.0.0.1:PORT with its data in DIR, in the foreground. The first line of
# standard output is the router's --store URL; etcd's own log goes to standard error.
# Stop it with SIGTERM or Ctrl-C; start it again with the same DIR to keep the toolsets.
set -euo pipefail
if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 PORT DIR" >&2
  exit 2
fi
port=$1 dir=$2
if ! command -v etcd >/dev/null; then
  echo "installing etcd-server (Debian)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server; } >&2 ||
    { echo "dev-store.sh: etcd is missing and etcd-server could not be installed (apt-get install etcd-server, as root)" >&2; exit 1; }
fi
mkdir -p "$dir"
echo "etcd://127.0.0.1:$port/needle-router"
# One member: its peer port is never dialled, so any free one does (:0). Compaction keeps
# the last 1000 revisions: a replica that was away longer lists the store again.
exec etcd --name needle-dev --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls http://127.0.0.1:0 --initial-advertise-peer-urls http://127.0.0.1:0 \
  --initial-cluster needle-dev=http://127.0.0.1:0 \
  --auto-compaction-mode revision --auto-compaction-retention 1000 1>&2
