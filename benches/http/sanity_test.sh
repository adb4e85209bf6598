#!/usr/bin/env bash
# Checks that sanity.py catches a copy that differs from linesmap, on three features served by a
# stub (sanity_stub.py) standing for linesmap and a pygeoapi peer, and copies made with ogr2ogr as
# compare.sh makes them (a GeoPackage, then SpatiaLite). Expected outcomes, worked out by hand:
# features A (0.00, 51.5), B (0.01, 51.5), C (1.0, 52.0); the bbox -0.1,51.4,0.1,51.6 holds A and B.
#  - the stub's bbox hits 2 = linesmap's 2: passes whether the peer's hits are exact or envelopes;
#  - the stub's bbox hits 3: passes as envelopes (printed only), fails as exact;
#  - a SpatiaLite copy without B (GDAL counts 2 in all, 1 in the bbox): fails;
#  - HITS other than exact or envelopes: a usage error (exit 2).
# Needs gdal-bin and a Python with GDAL's bindings and SpatiaLite (PYTHON, default /usr/bin/python3).
#   benches/http/sanity_test.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/linesmap-sanity-test.XXXXXX")"
stub=""
trap '[ -z "$stub" ] || kill "$stub" 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/f.geojson" <<'JSON'
{"type": "FeatureCollection", "features": [
{"type": "Feature", "properties": {"id": "A"}, "geometry": {"type": "Point", "coordinates": [0.0, 51.5]}},
{"type": "Feature", "properties": {"id": "B"}, "geometry": {"type": "Point", "coordinates": [0.01, 51.5]}},
{"type": "Feature", "properties": {"id": "C"}, "geometry": {"type": "Point", "coordinates": [1.0, 52.0]}}]}
JSON
ogr2ogr -f GPKG "$work/c.gpkg" "$work/f.geojson" -nln stations
ogr2ogr -f GPKG -update "$work/c.gpkg" "$work/f.geojson" -nln journeys
ogr2ogr -f SQLite -dsco SPATIALITE=YES "$work/s.sqlite" "$work/c.gpkg" stations journeys
ogr2ogr -f SQLite -dsco SPATIALITE=YES "$work/without-b.sqlite" "$work/c.gpkg" stations journeys -where "id <> 'B'"

failed=0
runs=0
# expect STATUS HITS_BBOX DATASET HITS_KIND: runs sanity.py against the stub, compares its exit status.
expect() {
  local want="$1" hits="$2" dataset="$3" kind="$4" port got
  runs=$((runs + 1))
  "$py" "$here/sanity_stub.py" "$hits" >"$work/port.$runs" &  # a new file: no stale port
  stub=$!
  for _ in $(seq 100); do [ -s "$work/port.$runs" ] && break; sleep 0.1; done
  port="$(cat "$work/port.$runs")"
  [ -n "$port" ] || { echo "the stub did not start"; exit 1; }
  got=0
  "$py" "$here/sanity.py" --linesmap "http://127.0.0.1:$port" --bbox=-0.1,51.4,0.1,51.6 \
    --peer peer "http://127.0.0.1:$port" "$work/$dataset" "$kind" \
    "/collections/journeys/items?bbox=-0.1,51.4,0.1,51.6&limit=2" >/dev/null 2>"$work/err" || got=$?
  kill "$stub" 2>/dev/null || true
  wait "$stub" 2>/dev/null || true
  stub=""
  if [ "$got" = "$want" ]; then
    echo "ok: bbox hits $hits, $dataset, $kind: exit $got"
  else
    echo "FAILED: bbox hits $hits, $dataset, $kind: exit $got, expected $want"; cat "$work/err"; failed=$((failed + 1))
  fi
}
expect 0 2 c.gpkg envelopes
expect 0 2 s.sqlite exact
expect 0 3 c.gpkg envelopes
expect 1 3 s.sqlite exact
expect 1 2 without-b.sqlite exact
expect 2 2 s.sqlite nonsense
[ "$failed" = 0 ] && echo "6 passed, 0 failed" || { echo "$((6 - failed)) passed, $failed failed"; exit 1; }
