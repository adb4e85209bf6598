#!/usr/bin/env bash
# Import benchmark: generate N synthetic reports, import them into a fresh SQLite store (validate,
# map, store), then start the server on that store and on an empty one and compare resident
# memory once the journeys are loaded. Usage: benches/import.sh [N] (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
data="${LINESMAP_DATA:-$(pwd)/data/gb}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked --bin linesmap >/dev/null
bin=target/release/linesmap
export LINESMAP_LOG=warn
$bin generate --data "$data" --reports "$n" --seed 1 --out "$work/reports.ndjson"
$bin import "$work/reports.ndjson" --data "$data" --store "$work/journeys.sqlite"

rss_of_server() { # store -> resident KiB after start-up (journeys loaded) and one request
  local store="$1" out="$work/serve.out"
  $bin serve --data "$data" --store "$store" --open-demo --rate-limit 0 --listen 127.0.0.1:0 >"$out" &
  local pid=$!
  for _ in $(seq 1 600); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  local addr; addr=$(sed -n 's|listening on http://||p' "$out")
  curl -s "http://$addr/health" >/dev/null || true
  local kb; kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  echo "$kb"
}
full=$(rss_of_server "$work/journeys.sqlite")
empty=$(rss_of_server "$work/empty.sqlite")
echo "server resident memory: $((empty / 1024)) MiB with no journeys, $((full / 1024)) MiB with $n journeys: $(( (full - empty) * 100000 / n / 1024 )) MiB per 100,000 journeys"
