#!/usr/bin/env python3
"""Independent counts of line-direction flows and corridors over generated reports (issue 20).

Reads NDJSON reports (from `linesmap generate`) and counts, with no linesmap code:
- each end's station: the station given, or the nearest station to the point within 2,000 m
  (haversine on the mean Earth radius; the generator puts points within 1 km of a station);
- each station's force: `station_forces` of reference.json (shapely point-in-polygon), or for
  the 29 stations outside every polygon their `nearest_force` there;
- by line: exporter = the line's exporting_force, else the origin's force; the force supplied =
  the destination's force, or the origin's when the destination is in the exporter and the
  origin is not (a return run); corridors from the hub station (the origin, or the destination
  on a return run) to the market station;
- by travel: origin force to destination force.
Row fields: journeys, lines (distinct line_id), return_runs, internal_lines and external_lines
(distinct line_id by line_type), rail_journeys, btp_reported (source_force BTP), btp_joint
(encounter joint_with_force BTP), persons, children (under 18), seizure_journeys, phones,
weapons (items), wraps, graded.

Usage: python3 tests/independent/line_flows.py REPORTS.ndjson SEED > tests/independent/line_flows.json
"""

import csv
import hashlib
import json
import math
import os
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("LINESMAP_DATA", os.path.join(HERE, "..", "..", "data", "gb"))
CHILD = {"under_10", "10-12", "13-14", "15-17"}


def haversine_m(a, b):
    r = 6371008.8
    la1, la2 = math.radians(a[1]), math.radians(b[1])
    dla = la2 - la1
    dlo = math.radians(b[0] - a[0])
    h = math.sin(dla / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlo / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def main():
    path, seed = sys.argv[1], int(sys.argv[2])
    raw = open(path, "rb").read()
    ref = json.load(open(os.path.join(HERE, "reference.json")))
    force_of = dict(ref["station_forces"])
    for o in ref["outside_stations"]:
        force_of[o["crs"]] = o["nearest_force"]
    stations = []
    with open(os.path.join(DATA, "stations.csv"), newline="") as f:
        for row in csv.DictReader(f):
            stations.append((row["crs"], float(row["lon"]), float(row["lat"])))

    def station_of(place):
        if "station" in place:
            return place["station"]
        p = (place["lon"], place["lat"])
        best = min(stations, key=lambda s: haversine_m(p, (s[1], s[2])))
        return best[0] if haversine_m(p, (best[1], best[2])) <= 2000.0 else None

    def new_cell():
        return {
            "journeys": 0, "lines": set(), "return_runs": 0, "internal_lines": set(),
            "external_lines": set(), "rail_journeys": 0, "btp_reported": 0, "btp_joint": 0,
            "persons": 0, "children": 0, "seizure_journeys": 0, "phones": 0, "weapons": 0,
            "wraps": 0, "graded": 0,
        }

    def add(c, r, ret):
        c["journeys"] += 1
        c["return_runs"] += int(ret)
        line = r.get("line")
        if line:
            c["lines"].add(line["line_id"])
            t = line.get("line_type")
            if t == "internal":
                c["internal_lines"].add(line["line_id"])
            elif t == "external":
                c["external_lines"].add(line["line_id"])
        j = r["journey"]
        c["rail_journeys"] += int(j["mode"] == "rail")
        c["btp_reported"] += int(r["source_force"] == "BTP")
        c["btp_joint"] += int((j.get("encounter") or {}).get("joint_with_force") == "BTP")
        persons = r.get("persons", [])
        c["persons"] += len(persons)
        c["children"] += sum(1 for p in persons if p["age_band"] in CHILD)
        s = r.get("seizures")
        if s is not None:
            c["seizure_journeys"] += 1
            c["phones"] += s.get("phones", 0)
            c["weapons"] += len(s.get("weapons", []))
            c["wraps"] += sum(d.get("wraps", 0) for d in s.get("drugs", []))
        c["graded"] += int(r.get("grading") is not None)

    def close(c):
        return {k: (len(v) if isinstance(v, set) else v) for k, v in c.items()}

    line_cells, travel_cells, corridor_cells = (defaultdict(new_cell) for _ in range(3))
    via_counts = defaultdict(lambda: defaultdict(int))
    unplaced = {"line": 0, "travel": 0, "corridors": 0}
    n = 0
    for text in raw.decode().splitlines():
        if not text.strip():
            continue
        r = json.loads(text)
        n += 1
        j = r["journey"]
        so, sd = station_of(j["origin"]), station_of(j["destination"])
        fo = force_of.get(so) if so else None
        fd = force_of.get(sd) if sd else None
        line = r.get("line") or {}
        exporter = line.get("exporting_force") or fo
        ret = exporter is not None and fd == exporter and fo is not None and fo != exporter
        supplied = fo if ret else fd
        if exporter and supplied:
            add(line_cells[(exporter, supplied)], r, ret)
        else:
            unplaced["line"] += 1
        if fo and fd:
            add(travel_cells[(fo, fd)], r, ret)
        else:
            unplaced["travel"] += 1
        if so and sd:
            hub, market = (sd, so) if ret else (so, sd)
            add(corridor_cells[(hub, market)], r, ret)
            for v in sorted(set(j.get("via", [])) - {hub, market}):
                via_counts[(hub, market)][v] += 1
        else:
            unplaced["corridors"] += 1

    def rows(cells, a, b):
        out = []
        for (x, y), c in sorted(cells.items()):
            row = {a: x, b: y}
            row.update(close(c))
            out.append(row)
        return out

    corridors = rows(corridor_cells, "hub_station", "market_station")
    for c in corridors:
        c["via"] = dict(sorted(via_counts[(c["hub_station"], c["market_station"])].items()))
    exchange = defaultdict(lambda: [0, 0])
    for (x, y), c in line_cells.items():
        if x != y:
            exchange[x][0] += c["journeys"]
            exchange[y][1] += c["journeys"]
    json.dump(
        {
            "meta": {
                "generated_by": "tests/independent/line_flows.py (Python standard library only)",
                "reports": n,
                "seed": seed,
                "ndjson_sha256": hashlib.sha256(raw).hexdigest(),
                "conventions": __doc__,
            },
            "unplaced": unplaced,
            "flows_line": rows(line_cells, "origin_force", "destination_force"),
            "flows_travel": rows(travel_cells, "origin_force", "destination_force"),
            "corridors_line": corridors,
            "force_exchange": dict(sorted(exchange.items())),
        },
        sys.stdout,
        indent=1,
        sort_keys=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
