#!/usr/bin/env bash
# Load and soak: mixed reads and writes at CONNECTIONS connections for DURATION seconds against
# the release build, signed in with an admin token, over REPORTS synthetic journeys. Prints a
# Markdown summary on stdout: throughput, latency, answers by status (any 5xx or socket error
# fails the run), the server's resident memory after warm-up and at the end, and whether every
# acknowledged write is in the store.
#
#   benches/http/soak.sh            # CONNECTIONS=64 DURATION=60 REPORTS=100000 WRITE_SHARE=0.1
#
# STORE=postgres://user@host:port/db runs it on PostgreSQL (an empty database) instead of SQLite.
# SERVE_ARGS adds flags to `serve` (e.g. SERVE_ARGS="--workers 8").
# Needs wrk (Debian package; installed when run as root) and the reference data in data/gb.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNECTIONS="${CONNECTIONS:-64}" DURATION="${DURATION:-60}" REPORTS="${REPORTS:-100000}"
WRITE_SHARE="${WRITE_SHARE:-0.1}" THREADS="${THREADS:-2}" WARMUP="${WARMUP:-10}"
data="${LINESMAP_DATA:-$(pwd)/data/gb}"
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "wrk is needed" >&2; exit 1; }
bin="${LINESMAP_BIN:-${CARGO_TARGET_DIR:-target}/release/linesmap}"
[ -n "${LINESMAP_BIN:-}" ] || cargo build --release --locked --bin linesmap >&2
work="$(mktemp -d /tmp/linesmap-soak.XXXXXX)"
server=""; sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
echo "generating and importing $REPORTS synthetic reports" >&2
"$bin" generate --reports "$REPORTS" --seed 1 --out "$work/r.ndjson" --data "$data" >/dev/null
store="${STORE:-$work/s.sqlite}"   # STORE=postgres://… measures the PostgreSQL backend (an empty database)
LINESMAP_LOG=warn "$bin" import "$work/r.ndjson" --data "$data" --store "$store" >/dev/null
token="$("$bin" token create --role admin --name "soak (synthetic)" --tokens "$work/t.json" 2>/dev/null)"
LINESMAP_LOG=warn "$bin" serve --data "$data" --store "$store" --tokens "$work/t.json" --key "$work/k" --audit "$work/audit" \
  --rate-limit 0 --listen 127.0.0.1:0 ${SERVE_ARGS:-} >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 1 240); do grep -q '^listening on ' "$work/out" 2>/dev/null && break; sleep 0.5; done
addr="$(sed -n 's/^listening on //p' "$work/out")"
[ -n "$addr" ] || { cat "$work/err" >&2; echo "the server did not start" >&2; exit 1; }
rss() { awk '/^VmRSS/ {r=$2} /^Threads/ {t=$2} END {print r, t}' "/proc/$server/status"; }
( while kill -0 "$server" 2>/dev/null; do echo "$(date +%s.%N) $(rss)"; sleep 1; done ) >"$work/rss" &
sampler=$!
before=$(curl -s -H "Authorization: Bearer $token" "$addr/api/journeys?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
echo "loading $addr: $CONNECTIONS connections, $DURATION s, write share $WRITE_SHARE" >&2
start=$(date +%s)
TOKEN="$token" WRITE_SHARE="$WRITE_SHARE" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s \
  -s benches/http/soak.lua "$addr" >"$work/wrk" 2>&1
after=$(curl -s -H "Authorization: Bearer $token" "$addr/api/journeys?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
kill "$sampler" 2>/dev/null || true; sampler=""
python3 - "$work/wrk" "$work/rss" "$start" "$WARMUP" "$before" "$after" "$CONNECTIONS" "$DURATION" "$WRITE_SHARE" "$REPORTS" <<'PY'
import re, sys
wrk, rssf, start, warm, before, after, conns, dur, share, reports = sys.argv[1:]
text = open(wrk).read()
status = {int(a): int(b) for a, b in re.findall(r"^status (\d+) (\d+)$", text, re.M)}
lat = dict(zip(["p50", "p99", "max"], map(float, re.search(r"latency_ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+)", text).groups())))
req = re.search(r"requests (\d+) errors connect (\d+) read (\d+) write (\d+) timeout (\d+) status (\d+)", text)
total, *errs = map(int, req.groups())
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
rows = [l.split() for l in open(rssf) if len(l.split()) == 3]
rss = [(float(t), int(k)) for t, k, _ in rows]
threads = max((int(n) for _, _, n in rows), default=0)
t0 = float(start)
warm_rss = [k for t, k in rss if t >= t0 + float(warm)]
created = status.get(201, 0)
fives = sum(v for k, v in status.items() if k >= 500)
print(f"| setting | value |\n|---|---|\n| connections, duration | {conns}, {dur} s (2 wrk threads) |\n| data | {reports} synthetic journeys, then the writes |\n| mix | {float(share)*100:.0f}% writes (one report each), the rest 8 reads in turn: hotspots (all, and a quarter), journeys in a 20 km box, stations in the box, OGC journeys in the box, trends, flow matrix, forces CSV |")
print(f"\n| result | value |\n|---|---|\n| requests | {total:,} ({rps:,.0f}/s) |\n| answers by status | {', '.join(f'{k}: {v:,}' for k, v in sorted(status.items()))} |")
print(f"| latency | p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.0f} ms |\n| socket errors (connect/read/write/timeout) | {'/'.join(map(str, errs[:4]))} |")
if warm_rss:
    n = len(warm_rss)
    marks = [warm_rss[min(n - 1, (n - 1) * q // 4)] / 1024 for q in range(5)]
    print(f"| resident memory from {warm} s (warm) to the end, in quarters | {' → '.join(f'{m:.0f}' for m in marks)} MiB (max {max(warm_rss)/1024:.0f}) |")
    print(f"| server threads (most at once) | {threads} |")
print(f"| journeys before → after | {int(before):,} → {int(after):,} (+{int(after)-int(before):,}; writes acknowledged: {created:,}) |")
# every acknowledged write is stored; a write in flight when wrk stopped may be stored without
# its acknowledgement being counted (at most one per connection)
grown = int(after) - int(before)
ok = fives == 0 and sum(errs[:4]) == 0 and created <= grown <= created + int(conns)
print(f"\n{'PASS' if ok else 'FAIL'}: no 5xx, no socket errors, every acknowledged write stored")
sys.exit(0 if ok else 1)
PY
