#!/usr/bin/env bash
# HTTP load comparison: linesmap against pygeoapi (the OGC API - Features reference server,
# from PyPI) on two of its providers, OGR and SpatiaLite, all three serving the same stations
# and the same synthetic journeys, in one run; prints
# Markdown tables on stdout (progress goes to stderr). See benches/http/README.md.
#
#   benches/http/compare.sh > results.md
#
# What it does:
#  1. Builds linesmap (cargo build --release --locked), unless LINESMAP_BIN names a binary.
#  2. Generates REPORTS synthetic journeys (seed SEED), imports them into a fresh SQLite store in
#     a temporary directory and serves them on 127.0.0.1 (a free port).
#  3. Copies the stations and journeys out of linesmap's own OGC endpoints (paging, 10,000 a
#     page) into GeoJSON, and converts that into one GeoPackage with ogr2ogr (R-tree index), and
#     the GeoPackage into a SpatiaLite database with ogr2ogr (SpatiaLite's R-tree index too).
#  4. Serves each copy with its own pygeoapi, pygeoapi's Flask app under gunicorn
#     (PYGEOAPI_WORKERS sync workers each, default 2: one per core), from a virtualenv it keeps
#     in ${XDG_CACHE_HOME:-~/.cache}/linesmap-bench (requirements.txt; Debian's python3, whose
#     sqlite3 can load extensions, python3-gdal and libsqlite3-mod-spatialite):
#     - pygeoapi-OGR: the OGR provider on the GeoPackage, what a pygeoapi deployment without a
#       database server would use for 100,000 lines: GDAL answers a bbox from the GeoPackage's
#       R-tree and then tests the geometries exactly, and reads only the page asked for.
#     - pygeoapi-SpatiaLite: the SQLiteGPKG provider (pygeoapi 0.21's name for it) on the
#       SpatiaLite database, the stronger peer on this data (issue 14): it runs
#       `Intersects(geom, BuildMbr(bbox))` in SpatiaLite, exact but not through the R-tree
#       (SpatiaLite only uses its index when a query names it), and loads mod_spatialite on each
#       request.
#     The GeoJSON provider would parse the whole file (here 2 GB) on every request;
#     PostgreSQL/PostGIS would need a database server and is not what linesmap (one process,
#     SQLite) is either.
#  5. Checks that all three serve the same data (sanity.py), then loads each query with wrk
#     (THREADS threads, CONNECTIONS connections), one server at a time (all stay up): one
#     request alone (a non-2xx there flags the query, which is then not loaded), WARMUP seconds
#     of warm-up (skipped when that one request took over a second: it is the warm-up), a wait
#     until the server is idle again (it may still be working through requests wrk gave up
#     on), then DURATION seconds measured, stretched for a slow query to about MIN_RESPONSES
#     responses (MIN_RESPONSES x one request's time / cores, at most MAX_DURATION).
#
# Settings (environment): DURATION=15 WARMUP=3 CONNECTIONS=16 THREADS=2 WRK_TIMEOUT=600
#   MIN_RESPONSES=20 MAX_DURATION=180
#   REPORTS=100000 SEED=1 PYGEOAPI_WORKERS=2 BBOX=minlon,minlat,maxlon,maxlat (default: 20 km
#   square around Charing Cross) LINESMAP_BIN=path (skip the build) LINESMAP_DATA=dir (default
#   the shipped data/gb) LINESMAP_BENCH_CACHE=dir PYTHON=/usr/bin/python3
#   KEEP_WORK=1 (keep the temporary directory, printed at the end).
# Needs: wrk, gdal-bin, python3-gdal, python3-venv, libsqlite3-mod-spatialite, curl (Debian;
# installed when run as root), PyPI for the virtualenv the first time, and ~4 GB free in TMPDIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

duration="${DURATION:-15}"
warmup="${WARMUP:-3}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
wrk_timeout="${WRK_TIMEOUT:-600}"
min_responses="${MIN_RESPONSES:-20}"
max_duration="${MAX_DURATION:-180}"
reports="${REPORTS:-100000}"
seed="${SEED:-1}"
workers="${PYGEOAPI_WORKERS:-2}"
# 20 km by 20 km around Charing Cross (51.5074 N, 0.1278 W): 0.289 degrees of longitude and
# 0.180 of latitude at 51.5 N.
bbox="${BBOX:--0.272,51.417,0.017,51.597}"
data="${LINESMAP_DATA:-$repo/data/gb}"
cache="${LINESMAP_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/linesmap-bench}"
python_sys="${PYTHON:-/usr/bin/python3}"
accept="Accept: application/geo+json"

log() { echo "== $*" >&2; }
thousands() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
die() { echo "compare.sh: error: $*" >&2; exit 1; }

for n in "$duration" "$warmup" "$connections" "$threads" "$wrk_timeout" "$min_responses" "$max_duration" "$reports" "$seed" "$workers"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "DURATION, WARMUP, CONNECTIONS, THREADS, WRK_TIMEOUT, MIN_RESPONSES, MAX_DURATION, REPORTS, SEED and PYGEOAPI_WORKERS must be whole numbers (got '$n')"
done
[[ "$bbox" =~ ^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$ ]] || die "BBOX must be minlon,minlat,maxlon,maxlat (got '$bbox')"
[ -f "$data/stations.csv" ] || die "no reference data in $data (stations.csv missing): set LINESMAP_DATA"
data="$(cd "$data" && pwd)"

# --- tools -------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v ogr2ogr >/dev/null || missing+=(gdal-bin)
command -v curl >/dev/null || missing+=(curl)
[ -x "$python_sys" ] || die "no Python at $python_sys (set PYTHON to Debian's python3)"
"$python_sys" -c 'from osgeo import ogr' 2>/dev/null || missing+=(python3-gdal)
"$python_sys" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# pygeoapi's SQLiteGPKG provider loads SpatiaLite into Python's sqlite3 (mod_spatialite.so).
load_spatialite="import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); c.execute(\"SELECT load_extension('mod_spatialite.so')\")"
"$python_sys" -c "$load_spatialite" 2>/dev/null || missing+=(libsqlite3-mod-spatialite)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})"
  log "installing ${missing[*]} (apt)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  "$python_sys" -c 'from osgeo import ogr' || die "$python_sys still cannot import osgeo: python3-gdal is built for Debian's python3; set PYTHON to it"
  "$python_sys" -c "$load_spatialite" || die "$python_sys cannot load mod_spatialite into sqlite3 (its sqlite3 must allow extensions, as Debian's does): set PYTHON to Debian's python3"
fi

# The virtualenv: rebuilt when requirements.txt or the interpreter changes.
venv="$cache/venv"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1) $("$python_sys" -c 'import sys; print(sys.version.split()[0])')"
if [ ! -x "$venv/bin/gunicorn" ] || [ "$(cat "$venv/.linesmap-bench" 2>/dev/null)" != "$want" ]; then
  log "creating the pygeoapi virtualenv in $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python_sys" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2 \
    || die "pip could not install $here/requirements.txt into $venv"
  # GDAL's bindings from Debian (built for this interpreter and the system libgdal).
  osgeo_dir="$("$python_sys" -c 'import os, osgeo; print(os.path.dirname(osgeo.__file__))')"
  ln -s "$osgeo_dir" "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/osgeo"
  echo "$want" >"$venv/.linesmap-bench"
fi
py="$venv/bin/python"
"$py" -c 'from osgeo import ogr; import pygeoapi' || die "the virtualenv $venv cannot import osgeo and pygeoapi; remove it and rerun"

# --- linesmap ----------------------------------------------------------------------------------
if [ -n "${LINESMAP_BIN:-}" ]; then
  bin="$LINESMAP_BIN"
  [ -x "$bin" ] || die "LINESMAP_BIN=$bin is not an executable"
  bin_note="\`$bin\` (LINESMAP_BIN)"
else
  log "building linesmap (release)"
  (cd "$repo" && cargo build --release --locked --bin linesmap) >&2 || die "cargo build failed"
  bin="$repo/target/release/linesmap"
  bin_note="built from $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
  [ -z "$(git -C "$repo" status --porcelain 2>/dev/null || true)" ] || bin_note="$bin_note with uncommitted changes"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/linesmap-bench.XXXXXX")"
pids=()   # the servers
child=""  # the long command `run` waits for
cleanup() {
  local status=$?
  local pid
  [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run CMD...: runs a long CMD and waits for it in a way that lets Ctrl-C or a TERM reach the traps
# at once (bash runs a trap only once a foreground command has ended).
run() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

# wait_for FILE PATTERN PID SECONDS NAME: until FILE holds PATTERN; fails when PID dies first.
wait_for() {
  local file="$1" pattern="$2" pid="$3" seconds="$4" name="$5" i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work/$name.err" >&2 || true; die "$name exited before it was ready"; }
    sleep 0.1
  done
  tail -n 20 "$work/$name.err" >&2 || true
  die "$name was not ready after $seconds s"
}

# cpu_ticks PID: CPU time (clock ticks) used so far by PID and its children (gunicorn's workers).
cpu_ticks() {
  local total=0 p t
  for p in "$1" $(pgrep -P "$1" || true); do
    t="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')" || true
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# wait_idle PID NAME: until the server uses under 5 % of a core over a second (at most 300 s).
wait_idle() {
  local pid="$1" name="$2" before after i
  for ((i = 0; i < 300; i++)); do
    before="$(cpu_ticks "$pid")"
    sleep 1
    after="$(cpu_ticks "$pid")"
    [ $((after - before)) -lt $(($(getconf CLK_TCK) / 20)) ] && { [ "$i" -gt 2 ] && log "$name idle after ${i} s"; return 0; }
  done
  log "warning: $name still busy after 300 s"
}

# busy_pct: percent of all cores' time busy over the next 2 s. Taken with both servers idle, just
# before a run, it shows what else (a compile...) shares the machine.
busy_pct() {
  local a b
  a="$(head -n 1 /proc/stat)"
  sleep 2
  b="$(head -n 1 /proc/stat)"
  awk -v a="$a" -v b="$b" 'BEGIN {
    split(a, x); split(b, y)
    for (i = 2; i <= 9; i++) { d = y[i] - x[i]; total += d; if (i == 5 || i == 6) idle += d }
    printf "%d", total ? 100 * (total - idle) / total + 0.5 : 0 }'
}

export LINESMAP_LOG=warn
log "generating $reports journeys (seed $seed)"
run "$bin" generate --reports "$reports" --seed "$seed" --out "$work/journeys.ndjson" --data "$data" >&2 || die "linesmap generate failed"
log "importing them"
run "$bin" import "$work/journeys.ndjson" --data "$data" --store "$work/bench.sqlite" >&2 || die "linesmap import failed"
rm -f "$work/journeys.ndjson"

log "starting linesmap"
"$bin" serve --data "$data" --store "$work/bench.sqlite" --open-demo --rate-limit 0 --listen 127.0.0.1:0 >"$work/linesmap.out" 2>"$work/linesmap.err" &
linesmap_pid=$!
pids+=("$linesmap_pid")
wait_for "$work/linesmap.out" 'listening on http://' "$linesmap_pid" 600 linesmap
linesmap_url="http://$(sed -n 's|^listening on http://||p' "$work/linesmap.out" | head -n 1)"
log "linesmap at $linesmap_url"

# --- the same data for pygeoapi ----------------------------------------------------------------
gpkg="$work/bench.gpkg"
for collection in stations journeys; do
  log "exporting $collection from linesmap"
  run "$py" "$here/export_collection.py" "$linesmap_url" "$collection" "$work/$collection.geojson" >"$work/count" \
    || die "could not copy $collection out of linesmap"
  count="$(cat "$work/count")"
  log "converting $count $collection to GeoPackage"
  # Arrays and objects (journey stations, forces) become JSON text; dates stay as linesmap wrote them.
  update=()
  [ -f "$gpkg" ] && update=(-update)
  run ogr2ogr -f GPKG "${update[@]}" "$gpkg" "$work/$collection.geojson" -nln "$collection" \
    -oo ARRAY_AS_STRING=YES -oo DATE_AS_STRING=YES -gt 65536 >&2 || die "ogr2ogr could not convert $collection"
  rm -f "$work/$collection.geojson"
done
spatialite="$work/bench-spatialite.sqlite"
log "converting the GeoPackage to SpatiaLite"
# The same features, fields and geometries, with SpatiaLite's R-tree (SPATIAL_INDEX, the default).
run ogr2ogr -f SQLite -dsco SPATIALITE=YES -lco SPATIAL_INDEX=YES "$spatialite" "$gpkg" stations journeys \
  -gt 65536 >&2 || die "ogr2ogr could not convert $gpkg to SpatiaLite"

# pygeoapi providers: LAYER ID_FIELD
ogr_provider() {
  cat <<EOF
    providers:
      - type: feature
        name: OGR
        data:
          source_type: GPKG
          source: $gpkg
          source_capabilities: {paging: true}
        id_field: $2
        layer: $1
EOF
}
spatialite_provider() {
  cat <<EOF
    providers:
      - type: feature
        name: SQLiteGPKG
        data: $spatialite
        id_field: $2
        table: $1
EOF
}

# pygeoapi_config PROVIDER_FUNCTION: the configuration of one pygeoapi, both collections on it.
pygeoapi_config() {
  local provider="$1"
  cat <<EOF
# Written by benches/http/compare.sh. server.url only appears in links (gunicorn picks the port).
server:
  bind: {host: 127.0.0.1, port: 5000}
  url: http://127.0.0.1:5000
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  gzip: false
  languages: [en-US]
  cors: false
  pretty_print: false
  limits: {default_items: 10, max_items: 10000}
  map: {url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', attribution: OpenStreetMap}
logging:
  level: ERROR
metadata:
  identification:
    title: linesmap benchmark copy
    description: the stations and synthetic journeys of a linesmap server, copied for a load comparison
    keywords: [benchmark]
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: http://127.0.0.1
  license: {name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}
  provider: {name: linesmap, url: http://127.0.0.1}
  contact: {name: linesmap, position: benchmark, address: none, city: none, stateorprovince: none, postalcode: none, country: GB, phone: none, fax: none, email: none, url: http://127.0.0.1, hours: none, instructions: none, role: pointOfContact}
resources:
  stations:
    type: collection
    title: stations
    description: GB railway stations
    keywords: [stations]
    extents:
      spatial: {bbox: [-8.7, 49.8, 1.9, 60.9], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}
$("$provider" stations crs)
  journeys:
    type: collection
    title: journeys
    description: synthetic county-lines journeys
    keywords: [journeys]
    extents:
      spatial: {bbox: [-8.7, 49.8, 1.9, 60.9], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}
$("$provider" journeys report_id)
EOF
}

# start_pygeoapi NAME PROVIDER_FUNCTION: writes NAME's configuration and OpenAPI document, starts
# it under gunicorn and sets url[NAME] and pid[NAME] once it answers /collections.
declare -A url pid
start_pygeoapi() {
  local name="$1" config="$work/$1-config.yml" openapi="$work/$1-openapi.yml" i
  pygeoapi_config "$2" >"$config"
  PYGEOAPI_CONFIG="$config" PYGEOAPI_OPENAPI="$openapi" "$venv/bin/pygeoapi" config validate -c "$config" \
    >"$work/$name-validate.log" 2>&1 || { cat "$work/$name-validate.log" >&2; die "pygeoapi rejected $config"; }
  PYGEOAPI_CONFIG="$config" PYGEOAPI_OPENAPI="$openapi" "$venv/bin/pygeoapi" openapi generate "$config" \
    --output-file "$openapi" >"$work/$name-openapi.log" 2>&1 \
    || { cat "$work/$name-openapi.log" >&2; die "pygeoapi openapi generate failed for $name"; }
  log "starting $name (gunicorn, $workers sync workers)"
  PYGEOAPI_CONFIG="$config" PYGEOAPI_OPENAPI="$openapi" "$venv/bin/gunicorn" --workers "$workers" --timeout 600 \
    --no-control-socket --bind 127.0.0.1:0 pygeoapi.flask_app:APP >"$work/$name.out" 2>"$work/$name.err" &
  pid[$name]=$!
  pids+=("${pid[$name]}")
  wait_for "$work/$name.err" 'Listening at: http://' "${pid[$name]}" 120 "$name"
  url[$name]="$(grep -o 'Listening at: http://[0-9.:]*' "$work/$name.err" | head -n 1 | sed 's|^Listening at: ||')"
  for ((i = 0; i < 600; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "${url[$name]}/collections")" = 200 ] && break
    kill -0 "${pid[$name]}" 2>/dev/null || { tail -n 20 "$work/$name.err" >&2; die "$name exited"; }
    sleep 0.1
  done
  log "$name at ${url[$name]}"
}
url[linesmap]="$linesmap_url" pid[linesmap]="$linesmap_pid"
start_pygeoapi pygeoapi-OGR ogr_provider
start_pygeoapi pygeoapi-SpatiaLite spatialite_provider

# --- cases -------------------------------------------------------------------------------------
titles=(
  "stations, first page of 100"
  "stations in a 20 km bbox, limit=100"
  "$(thousands "$reports") journeys in the same bbox, limit=1000"
  "hotspots over $(thousands "$reports") journeys, top 50"
)
paths=(
  "/collections/stations/items?limit=100"
  "/collections/stations/items?bbox=$bbox&limit=100"
  "/collections/journeys/items?bbox=$bbox&limit=1000"
  "/api/hotspots?top=50"
)
# pygeoapi's path for each case; empty: it has no equivalent (reported as n/a, not faked).
pygeoapi_paths=("${paths[0]}" "${paths[1]}" "${paths[2]}" "")
servers=(linesmap pygeoapi-OGR pygeoapi-SpatiaLite)

sanity="$work/sanity.md"
log "checking that the three servers serve the same features"
run "$py" "$here/sanity.py" --linesmap "$linesmap_url" --bbox="$bbox" \
  --peer pygeoapi-OGR "${url[pygeoapi-OGR]}" "$gpkg" envelopes \
  --peer pygeoapi-SpatiaLite "${url[pygeoapi-SpatiaLite]}" "$spatialite" exact \
  "${pygeoapi_paths[@]:0:3}" >"$sanity" \
  || { cat "$sanity"; die "the servers do not serve the same data (see above)"; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
results="$work/results.jsonl"
: >"$results"
for i in "${!paths[@]}"; do
  for server in "${servers[@]}"; do
    base="${url[$server]}" server_pid="${pid[$server]}"
    if [ "$server" = linesmap ]; then path="${paths[$i]}"; else path="${pygeoapi_paths[$i]}"; fi
    if [ -z "$path" ]; then
      echo "{\"case\": $((i + 1)), \"title\": \"${titles[$i]}\", \"server\": \"$server\", \"status\": null, \"wrk\": null}" >>"$results"
      continue
    fi
    url="$base$path"
    # One request alone first: its status decides whether the query is loaded at all, and its
    # time how long the run must be for MIN_RESPONSES responses to complete.
    probe="$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "$accept" --max-time 600 "$url" || true)"
    status="${probe%% *}" single_s="${probe#* }"
    [ "$status" != 000 ] || die "$server did not answer $url"
    wrk_json=null busy=null
    if [[ "$status" =~ ^2 ]]; then
      run_s="$(awk -v d="$duration" -v n="$min_responses" -v t="$single_s" -v c="$(nproc)" -v m="$max_duration" \
        'BEGIN { x = n * t / c; if (x < d) x = d; if (x > m) x = m; printf "%d", x + 0.999 }')"
      # A burst of warm-up requests that each take seconds would leave the server minutes of
      # abandoned work: for such a query the request above is the warm-up.
      if [ "$warmup" -gt 0 ] && awk -v t="$single_s" 'BEGIN { exit !(t < 1) }'; then
        log "case $((i + 1)) $server: $path (one request ${single_s} s; warm-up ${warmup} s, then ${run_s} s)"
        run wrk -t"$threads" -c"$connections" -d"${warmup}s" --timeout "${wrk_timeout}s" -H "$accept" "$url" >/dev/null \
          || die "wrk failed on $url"
      else
        log "case $((i + 1)) $server: $path (one request ${single_s} s, the warm-up; then ${run_s} s)"
      fi
      wait_idle "$server_pid" "$server"
      busy="$(busy_pct)"
      out="$work/wrk-$((i + 1))-$server.txt"
      run wrk -t"$threads" -c"$connections" -d"${run_s}s" --timeout "${wrk_timeout}s" -H "$accept" \
        -s "$here/report.lua" "$url" >"$out" || die "wrk failed on $url (see $out)"
      wrk_json="$(sed -n 's/^WRK_RESULT //p' "$out")"
      [ -n "$wrk_json" ] || die "wrk printed no result for $url (see $out)"
      wait_idle "$server_pid" "$server"
    else
      log "case $((i + 1)) $server: $path answered HTTP $status: flagged, not loaded"
    fi
    echo "{\"case\": $((i + 1)), \"title\": \"${titles[$i]}\", \"server\": \"$server\", \"status\": $status, \"busy_before\": $busy, \"wrk\": $wrk_json}" >>"$results"
  done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ------------------------------------------------------------------------------------
versions="$("$py" - <<'PY'
import importlib.metadata as m
import sys
from osgeo import gdal
names = ("pygeoapi", "gunicorn", "Flask")
import sqlite3
c = sqlite3.connect(":memory:")
c.enable_load_extension(True)
c.execute("SELECT load_extension('mod_spatialite.so')")
spatialite = c.execute("SELECT spatialite_version()").fetchone()[0]
print(", ".join(f"{n} {m.version(n)}" for n in names) + f", GDAL {gdal.__version__}, SpatiaLite {spatialite}, SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}")
PY
)"
cat <<EOF
## linesmap and pygeoapi under HTTP load

$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load average (1, 5, 15 min) $load_before before the load, $load_after after. The servers and wrk share these cores with anything else running: "other load" in the last table is the share of all cores busy during the 2 s before each run, both servers idle.

- linesmap: $bin_note; $(thousands "$reports") synthetic journeys (seed $seed) and the stations of \`$data\`.
- pygeoapi: $versions; two servers, each its Flask app under gunicorn with $workers sync workers, on linesmap's own collections copied through its OGC API: **pygeoapi-OGR**, the OGR provider on a GeoPackage (R-tree), and **pygeoapi-SpatiaLite**, the SQLiteGPKG provider on a SpatiaLite database made from that GeoPackage (R-tree present; the provider's \`Intersects()\` does not use it).
- wrk: $threads threads, $connections connections, ${warmup} s warm-up (for a query taking over 1 s alone, that one request) then a wait until the server is idle, ${duration} s measured or longer for about $min_responses responses (at most ${max_duration} s), \`$accept\`; bbox $bbox (20 km around Charing Cross unless BBOX was set).

$(for i in "${!paths[@]}"; do echo "$((i + 1)). \`GET ${paths[$i]}\`$([ -z "${pygeoapi_paths[$i]}" ] && echo ' (linesmap only: pygeoapi has no equivalent)')"; done)

### Same data on all three

$(cat "$sanity")

pygeoapi-OGR's \`resulttype=hits\` counts R-tree envelopes that meet the box (GDAL's GeoPackage count); the features it returns are tested exactly, as the GeoPackage column shows. pygeoapi-SpatiaLite's counts with the same exact \`Intersects()\` it filters pages with, so it must equal linesmap's.

### Throughput and latency

$("$py" "$here/table.py" "$results")
EOF
