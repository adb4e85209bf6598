#!/usr/bin/env python3
"""Independent reference answers for linesmap tests.

Computed with shapely / pyproj / networkx only (no project code), from the
read-only data in the project's data/gb (override with LINESMAP_DATA=/path/to/gb).

Writes tests/independent/reference.json next to this script and prints a summary.

Conventions (so the Rust side can reproduce the inputs exactly):
  * point-in-polygon: shapely `covers` on planar lon/lat (boundary counts as inside).
  * geodesic distances: pyproj.Geod(ellps="WGS84").inv.
  * "points": rng = random.Random(42); for i in range(200): lon = rng.uniform(-6, 1.8);
    lat = rng.uniform(50, 58.5)   (lon drawn first, then lat).
  * "tricky_nearest": rng = random.Random(7), same box, same draw order, first 10 hits
    whose naive-degree winner differs from the geodesic winner by > 1 m.
  * station attachment: nearest point on nearest track segment computed in EPSG:27700
    (pyproj Transformer, always_xy); the attachment point is transformed back to lon/lat
    and the segment is split there. Sub-edges weighted by geodesic length.
  * route force breakdown: each path edge is split into ceil(len/200 m) equal pieces
    (linear in lon/lat); each piece is assigned the force covering its midpoint
    (null if none); consecutive equal codes are merged.
"""
import csv
import json
import math
import os
import random
import sys
import time
from collections import defaultdict

import networkx as nx
import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, shape, box
from shapely.strtree import STRtree

T0 = time.time()
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("LINESMAP_DATA",
                      os.path.normpath(os.path.join(HERE, "..", "..", "data", "gb")))
OUT = os.path.join(HERE, "reference.json")
GEOD = Geod(ellps="WGS84")
TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
FROM_BNG = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, file=sys.stderr, flush=True)


def r(x, n=3):
    return None if x is None else round(float(x), n)


# ----------------------------------------------------------------------------- load
with open(os.path.join(DATA, "forces.geojson")) as fh:
    fj = json.load(fh)
FORCE_CODES = [f["properties"]["code"] for f in fj["features"]]
FORCE_NAMES = {f["properties"]["code"]: f["properties"]["name"] for f in fj["features"]}
FORCE_GEOMS = [shape(f["geometry"]) for f in fj["features"]]
for g in FORCE_GEOMS:
    shapely.prepare(g)
FORCE_TREE = STRtree(FORCE_GEOMS)

stations = []
with open(os.path.join(DATA, "stations.csv"), newline="") as fh:
    for row in csv.DictReader(fh):
        stations.append({"crs": row["crs"], "name": row["name"],
                         "lat": float(row["lat"]), "lon": float(row["lon"])})
ST_LON = np.array([s["lon"] for s in stations])
ST_LAT = np.array([s["lat"] for s in stations])
CRS_INDEX = {s["crs"]: i for i, s in enumerate(stations)}
log(f"loaded {len(FORCE_GEOMS)} forces, {len(stations)} stations")


def forces_covering(lon, lat):
    """All force indices whose polygon covers (lon, lat)."""
    p = Point(lon, lat)
    return [int(i) for i in FORCE_TREE.query(p) if FORCE_GEOMS[i].covers(p)]


def force_at(lon, lat):
    hits = forces_covering(lon, lat)
    if not hits:
        return None
    return FORCE_CODES[min(hits)]  # deterministic if overlapping (none expected)


def aeqd(lon, lat):
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m",
        always_xy=True)


def proj(geom, tr):
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def distance_to_force_m(lon, lat, fi, window_deg=0.5):
    """Distance (m) from a point to force polygon fi.

    Returns (aeqd_m, geodesic_m, bng_m, nearest_lon, nearest_lat):
      aeqd_m     -- planar distance in an azimuthal-equidistant projection centred on the point
      geodesic_m -- Geod.inv from the point to the nearest boundary point found in aeqd
      bng_m      -- planar distance in EPSG:27700 (grid metres, for comparison)
    """
    g = FORCE_GEOMS[fi]
    win = box(lon - window_deg, lat - window_deg, lon + window_deg, lat + window_deg)
    part = g.intersection(win)
    if part.is_empty:
        part = g
    tr = aeqd(lon, lat)
    polys = [pp for pp in shapely.get_parts(part) if pp.geom_type in ("Polygon", "MultiPolygon")]
    part = shapely.MultiPolygon(polys) if len(polys) != 1 else polys[0]
    pa = proj(part, tr)
    d = pa.distance(Point(0, 0))
    q = shapely.ops.nearest_points(pa.boundary, Point(0, 0))[0]
    inv = Transformer.from_crs(tr.target_crs, "EPSG:4326", always_xy=True)
    qlon, qlat = inv.transform(q.x, q.y)
    _, _, dg = GEOD.inv(lon, lat, qlon, qlat)
    pb = proj(part, TO_BNG)
    sx, sy = TO_BNG.transform(lon, lat)
    db = pb.distance(Point(sx, sy))
    return d, dg, db, qlon, qlat


import shapely.ops  # noqa: E402  (nearest_points)

# ----------------------------------------------------------------------------- 1. station forces
station_forces = {}
outside = []
multi_station = []
for s in stations:
    hits = forces_covering(s["lon"], s["lat"])
    if len(hits) > 1:
        multi_station.append({"crs": s["crs"], "forces": [FORCE_CODES[i] for i in hits]})
    if hits:
        station_forces[s["crs"]] = FORCE_CODES[min(hits)]
    else:
        station_forces[s["crs"]] = None
for s in stations:
    if station_forces[s["crs"]] is not None:
        continue
    # candidate forces: those whose bbox is within ~0.5 deg, else all
    p = Point(s["lon"], s["lat"])
    cand = [int(i) for i in FORCE_TREE.query(p.buffer(0.5))] or list(range(len(FORCE_GEOMS)))
    best = None
    allc = []
    for fi in cand:
        d, dg, db, qlon, qlat = distance_to_force_m(s["lon"], s["lat"], fi)
        allc.append((d, fi, dg, db, qlon, qlat))
    allc.sort()
    d, fi, dg, db, qlon, qlat = allc[0]
    second = allc[1] if len(allc) > 1 else None
    outside.append({
        "crs": s["crs"], "name": s["name"], "lon": s["lon"], "lat": s["lat"],
        "nearest_force": FORCE_CODES[fi], "nearest_force_name": FORCE_NAMES[FORCE_CODES[fi]],
        "distance_m": r(d, 1), "distance_geodesic_m": r(dg, 1), "distance_bng_grid_m": r(db, 1),
        "nearest_boundary_point": [r(qlon, 6), r(qlat, 6)],
        "second_force": FORCE_CODES[second[1]] if second else None,
        "second_distance_m": r(second[0], 1) if second else None,
    })
outside.sort(key=lambda o: o["distance_m"])
counts = defaultdict(int)
for c in station_forces.values():
    counts[c] += 1
log(f"station forces: {len(stations) - len(outside)} inside, {len(outside)} outside")

# overlaps: exact pairwise polygon intersections + random point sampling
pair_overlaps = []
for i, g in enumerate(FORCE_GEOMS):
    for j in FORCE_TREE.query(g):
        j = int(j)
        if j <= i:
            continue
        inter = g.intersection(FORCE_GEOMS[j])
        if inter.is_empty:
            continue
        polys = shapely.get_parts(inter)
        area_deg = sum(pp.area for pp in polys if pp.geom_type == "Polygon")
        if area_deg <= 0:
            continue
        area_geo = abs(GEOD.geometry_area_perimeter(
            shapely.MultiPolygon([pp for pp in polys if pp.geom_type == "Polygon"]))[0])
        c = inter.representative_point()
        pair_overlaps.append({"a": FORCE_CODES[i], "b": FORCE_CODES[j],
                              "area_m2": r(area_geo, 3), "area_deg2": area_deg,
                              "representative_point": [r(c.x, 6), r(c.y, 6)]})
pair_overlaps.sort(key=lambda o: -o["area_m2"])
# stations / targeted sample points inside the real (>1 m2) overlaps
overlap_detail = []
rng_o = random.Random(99)
for po in pair_overlaps:
    if po["area_m2"] < 1.0:
        continue
    ia, ib = FORCE_CODES.index(po["a"]), FORCE_CODES.index(po["b"])
    inter = FORCE_GEOMS[ia].intersection(FORCE_GEOMS[ib])
    minx, miny, maxx, maxy = inter.bounds
    hits = 0
    tries_ = 0
    while hits < 200 and tries_ < 200000:
        tries_ += 1
        p = Point(rng_o.uniform(minx, maxx), rng_o.uniform(miny, maxy))
        if inter.contains(p):
            hits += 1
            assert len(forces_covering(p.x, p.y)) >= 2
    overlap_detail.append({"a": po["a"], "b": po["b"], "area_km2": r(po["area_m2"] / 1e6, 3),
                           "bounds": [r(v, 5) for v in (minx, miny, maxx, maxy)],
                           "n_parts": len(shapely.get_parts(inter)),
                           "sample_points_confirmed_in_both": hits})
rng = random.Random(2024)
N_SAMPLE = 5000
sample_multi = []
sample_in = 0
for _ in range(N_SAMPLE):
    lon = rng.uniform(-8.7, 1.8)
    lat = rng.uniform(49.8, 60.9)
    h = forces_covering(lon, lat)
    if h:
        sample_in += 1
    if len(h) > 1:
        sample_multi.append({"lon": r(lon, 6), "lat": r(lat, 6), "forces": [FORCE_CODES[i] for i in h]})
log(f"overlap pairs with positive area: {len(pair_overlaps)}; sample multi-hits {len(sample_multi)}")

# ----------------------------------------------------------------------------- 2. points
def geod_all(lon, lat):
    n = len(ST_LON)
    _, _, d = GEOD.inv(np.full(n, lon), np.full(n, lat), ST_LON, ST_LAT)
    return d


FORCE_BNG_BOUNDARY = [proj(g, TO_BNG).boundary for g in FORCE_GEOMS]
BOUNDARY_TREE = STRtree(FORCE_BNG_BOUNDARY)


def boundary_distance_bng(lon, lat):
    """Grid-metre distance (EPSG:27700) from a point to the nearest force boundary of any force."""
    p = Point(*TO_BNG.transform(lon, lat))
    j = int(BOUNDARY_TREE.nearest(p))
    return float(p.distance(FORCE_BNG_BOUNDARY[j]))


rng = random.Random(42)
points = []
for k in range(200):
    lon = rng.uniform(-6, 1.8)
    lat = rng.uniform(50, 58.5)
    d = geod_all(lon, lat)
    order = np.argsort(d, kind="stable")[:4]
    points.append({
        "i": k, "lon": lon, "lat": lat, "force": force_at(lon, lat),
        "n_covering_forces": len(forces_covering(lon, lat)),
        "distance_to_nearest_force_boundary_bng_m": r(boundary_distance_bng(lon, lat), 1),
        "nearest": [{"crs": stations[j]["crs"], "distance_m": r(d[j], 3)} for j in order[:3]],
        "gap_3rd_4th_m": r(d[order[3]] - d[order[2]], 3),
    })
log("points done")

# ----------------------------------------------------------------------------- 3. tricky nearest
rng = random.Random(7)
tricky = []
tries = 0
seen = set()
while len(tricky) < 10 and tries < 200000:
    tries += 1
    lon = rng.uniform(-6, 1.8)
    lat = rng.uniform(50, 58.5)
    naive = np.hypot(ST_LON - lon, ST_LAT - lat)
    ni = int(np.argmin(naive))
    d = geod_all(lon, lat)
    gi = int(np.argmin(d))
    if ni != gi and d[ni] - d[gi] > 1.0 and (ni, gi) not in seen:
        seen.add((ni, gi))
        tricky.append({
            "lon": lon, "lat": lat, "try": tries,
            "naive_winner": stations[ni]["crs"], "naive_winner_geodesic_m": r(d[ni], 3),
            "geodesic_winner": stations[gi]["crs"], "geodesic_winner_m": r(d[gi], 3),
            "margin_m": r(d[ni] - d[gi], 3),
        })
log(f"tricky: {len(tricky)} in {tries} tries")

# ----------------------------------------------------------------------------- track graph
with open(os.path.join(DATA, "rail_tracks.geojson")) as fh:
    tj = json.load(fh)
seg_a, seg_b = [], []
n_vertices = 0
for f in tj["features"]:
    for line in f["geometry"]["coordinates"]:
        pts = [tuple(c[:2]) for c in line]
        n_vertices += len(pts)
        for a, b in zip(pts, pts[1:]):
            if a != b:
                seg_a.append(a)
                seg_b.append(b)
A = np.array(seg_a)
B = np.array(seg_b)
_, _, SEG_LEN = GEOD.inv(A[:, 0], A[:, 1], B[:, 0], B[:, 1])
G = nx.Graph()
for a, b, w in zip(seg_a, seg_b, SEG_LEN):
    w = float(w)
    if G.has_edge(a, b):
        if w < G[a][b]["weight"]:
            G[a][b]["weight"] = w
    else:
        G.add_edge(a, b, weight=w)
total_len_km = sum(d["weight"] for _, _, d in G.edges(data=True)) / 1000
log(f"graph: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges, {total_len_km:.1f} km")

# ----------------------------------------------------------------------------- 5. components (before attachment)
comps = sorted(nx.connected_components(G), key=len, reverse=True)
main = comps[0]
node_comp = {}
for ci, c in enumerate(comps):
    for n in c:
        node_comp[n] = ci
main_nodes = list(main)
mx, my = TO_BNG.transform(np.array([n[0] for n in main_nodes]), np.array([n[1] for n in main_nodes]))
MAIN_PTS = shapely.points(mx, my)
MAIN_TREE = STRtree(MAIN_PTS)


def comp_length_km(c):
    return sum(G[u][v]["weight"] for u, v in G.subgraph(c).edges()) / 1000


components = {
    "count": len(comps),
    "vertex_count_file": n_vertices,
    "unique_nodes": G.number_of_nodes(),
    "edges": G.number_of_edges(),
    "total_length_km": r(total_len_km, 3),
    "largest_nodes": len(main),
    "largest_fraction_of_nodes": r(len(main) / G.number_of_nodes(), 5),
    "largest_length_km": r(comp_length_km(main), 3),
    "size_histogram": {},
    "others": [],
}
hist = defaultdict(int)
for c in comps:
    hist[len(c)] += 1
components["size_histogram"] = {str(k): v for k, v in sorted(hist.items(), reverse=True)}
for ci, c in enumerate(comps[1:], start=1):
    nodes = list(c)
    cx, cy = TO_BNG.transform(np.array([n[0] for n in nodes]), np.array([n[1] for n in nodes]))
    cp = shapely.points(cx, cy)
    idx_main = MAIN_TREE.nearest(cp)
    d = shapely.distance(cp, MAIN_PTS[idx_main])
    k = int(np.argmin(d))
    a = nodes[k]
    b = main_nodes[int(idx_main[k])]
    _, _, dg = GEOD.inv(a[0], a[1], b[0], b[1])
    lons = [n[0] for n in nodes]
    lats = [n[1] for n in nodes]
    # nearest station to this component (for orientation)
    sd = geod_all(a[0], a[1])
    components["others"].append({
        "rank": ci, "nodes": len(c), "length_km": r(comp_length_km(c), 3),
        "bbox": [r(min(lons), 5), r(min(lats), 5), r(max(lons), 5), r(max(lats), 5)],
        "gap_to_main_bng_m": r(d[k], 2), "gap_to_main_geodesic_m": r(dg, 2),
        "gap_from": [a[0], a[1]], "gap_to_main_node": [b[0], b[1]],
        "nearest_station_to_gap": stations[int(np.argmin(sd))]["crs"],
        "nearest_station_to_gap_m": r(float(np.min(sd)), 1),
    })

# bridging: how many components remain if nodes of different components closer than X m are joined
ALL_NODES = list(G.nodes())
ax_, ay_ = TO_BNG.transform(np.array([n[0] for n in ALL_NODES]), np.array([n[1] for n in ALL_NODES]))
ALL_PTS = shapely.points(ax_, ay_)
ALL_TREE = STRtree(ALL_PTS)
NODE_IDX = {n: i for i, n in enumerate(ALL_NODES)}
non_main_idx = np.array([NODE_IDX[n] for c in comps[1:] for n in c])
qi, qj = ALL_TREE.query(ALL_PTS[non_main_idx], predicate="dwithin", distance=100.0)
cross = []
for a_, b_ in zip(non_main_idx[qi], qj):
    na, nb = ALL_NODES[a_], ALL_NODES[b_]
    if node_comp[na] != node_comp[nb]:
        cross.append((float(shapely.distance(ALL_PTS[a_], ALL_PTS[b_])), na, nb))
bridging = {}
for tol in (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0):
    uf = nx.utils.UnionFind(range(len(comps)))
    for d_, na, nb in cross:
        if d_ <= tol:
            uf.union(node_comp[na], node_comp[nb])
    groups = {uf[i] for i in range(len(comps))}
    main_group = uf[0]
    bridging[str(tol)] = {"components": len(groups),
                          "main_nodes": sum(len(comps[i]) for i in range(len(comps)) if uf[i] == main_group)}
components["bridging_cross_component_within_m"] = bridging

# dead-end gaps inside the main component: degree-1 nodes with another node within 50 m
# that is far away along the graph (> 1 km or unreachable). Finds breaks such as the
# one near Lancing that do not split the network.
dead_gaps = []
deg1 = [n for n in main if G.degree(n) == 1]
d1_pts = ALL_PTS[[NODE_IDX[n] for n in deg1]]
qi, qj = ALL_TREE.query(d1_pts, predicate="dwithin", distance=50.0)
cand = defaultdict(list)
for a_, b_ in zip(qi, qj):
    n = deg1[a_]
    m = ALL_NODES[b_]
    if m != n:
        cand[n].append((float(shapely.distance(d1_pts[a_], ALL_PTS[b_])), m))
for n, lst in cand.items():
    reach = nx.single_source_dijkstra_path_length(G, n, cutoff=1000.0, weight="weight")
    far = [(d_, m) for d_, m in lst if m not in reach]
    if far:
        d_, m = min(far)
        try:
            gd = nx.dijkstra_path_length(G, n, m, weight="weight")
        except nx.NetworkXNoPath:
            gd = None
        sd = geod_all(n[0], n[1])
        dead_gaps.append({"dead_end": list(n), "other": list(m), "gap_bng_m": r(d_, 2),
                          "gap_geodesic_m": r(GEOD.inv(n[0], n[1], m[0], m[1])[2], 2),
                          "graph_distance_m": r(gd, 1), "other_component": node_comp[m],
                          "nearest_station": stations[int(np.argmin(sd))]["crs"],
                          "nearest_station_m": r(float(np.min(sd)), 1)})
dead_gaps.sort(key=lambda g_: g_["gap_bng_m"])
components["main_dead_end_gaps_within_50m"] = dead_gaps
log(f"components: {len(comps)}, main {len(main)}; dead-end gaps {len(dead_gaps)}")

# ----------------------------------------------------------------------------- 4. attach stations
SEG_AX, SEG_AY = TO_BNG.transform(A[:, 0], A[:, 1])
SEG_BX, SEG_BY = TO_BNG.transform(B[:, 0], B[:, 1])
SEG_GEOMS = shapely.linestrings(np.stack([np.stack([SEG_AX, SEG_AY], 1), np.stack([SEG_BX, SEG_BY], 1)], 1))
SEG_TREE = STRtree(SEG_GEOMS)
SX, SY = TO_BNG.transform(ST_LON, ST_LAT)
ST_PTS = shapely.points(SX, SY)
near_idx = SEG_TREE.nearest(ST_PTS)
attach = {}
splits = defaultdict(list)  # segment idx -> [(t, station idx)]
for si, gi in enumerate(near_idx):
    gi = int(gi)
    ax, ay, bx, by = SEG_AX[gi], SEG_AY[gi], SEG_BX[gi], SEG_BY[gi]
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((SX[si] - ax) * dx + (SY[si] - ay) * dy) / L2))
    px, py = ax + t * dx, ay + t * dy
    d_bng = math.hypot(SX[si] - px, SY[si] - py)
    splits[gi].append((t, si, px, py))
    attach[si] = {"seg": gi, "t": t, "bng_m": d_bng}

G2 = G.copy()
for gi, lst in splits.items():
    a, b = seg_a[gi], seg_b[gi]
    lst.sort()
    chain = [a]
    for t, si, px, py in lst:
        if t <= 0.0:
            node = a
        elif t >= 1.0:
            node = b
        else:
            lon, lat = FROM_BNG.transform(px, py)
            node = (lon, lat)
        attach[si]["node"] = node
        if node != chain[-1] and node != b:
            chain.append(node)
    chain.append(b)
    if len(chain) > 2:
        if G2.has_edge(a, b):
            G2.remove_edge(a, b)
        for u, v in zip(chain, chain[1:]):
            _, _, w = GEOD.inv(u[0], u[1], v[0], v[1])
            if not G2.has_edge(u, v) or w < G2[u][v]["weight"]:
                G2.add_edge(u, v, weight=float(w))
for si, at in attach.items():
    n = at["node"]
    _, _, at["geod_m"] = GEOD.inv(ST_LON[si], ST_LAT[si], n[0], n[1])
attach_d = np.array([attach[si]["geod_m"] for si in range(len(stations))])
log(f"attached {len(stations)} stations; max attach {attach_d.max():.1f} m")

station_component = {stations[si]["crs"]: node_comp.get(
    seg_a[attach[si]["seg"]]) for si in range(len(stations))}
off_main = sorted([c for c, ci in station_component.items() if ci != 0])
attach_summary = {
    "median_m": r(np.median(attach_d), 2), "p95_m": r(np.percentile(attach_d, 95), 2),
    "max_m": r(attach_d.max(), 2), "max_crs": stations[int(np.argmax(attach_d))]["crs"],
    "over_500m": sorted([(stations[i]["crs"], r(attach_d[i], 1)) for i in range(len(stations))
                         if attach_d[i] > 500], key=lambda x: -x[1]),
    "stations_not_on_main_component": [(c, station_component[c]) for c in off_main],
}


def forces_along(path, overlap_acc):
    runs = []
    for u, v in zip(path, path[1:]):
        w = G2[u][v]["weight"]
        n = max(1, math.ceil(w / 200.0))
        for k in range(n):
            f0, f1 = k / n, (k + 1) / n
            fm = (f0 + f1) / 2
            mlon = u[0] + (v[0] - u[0]) * fm
            mlat = u[1] + (v[1] - u[1]) * fm
            hits = forces_covering(mlon, mlat)
            code = FORCE_CODES[min(hits)] if hits else None
            piece = w / n
            if len(hits) > 1:
                key = "+".join(sorted(FORCE_CODES[i] for i in hits))
                overlap_acc[key] = overlap_acc.get(key, 0.0) + piece
            if runs and runs[-1][0] == code:
                runs[-1][1] += piece
            else:
                runs.append([code, piece])
    return [{"code": c, "distance_m": r(d, 1)} for c, d in runs]


def merge_ignoring_null(fl):
    """Drop null (outside-every-polygon) runs, merging the neighbours they separated.
    Null length is added to the preceding run (or the following one if leading)."""
    out_ = []
    pending = 0.0
    for x in fl:
        if x["code"] is None:
            if out_:
                out_[-1][1] += x["distance_m"]
            else:
                pending += x["distance_m"]
            continue
        if out_ and out_[-1][0] == x["code"]:
            out_[-1][1] += x["distance_m"]
        else:
            out_.append([x["code"], x["distance_m"] + pending])
            pending = 0.0
    return [{"code": c, "distance_m": r(d, 1)} for c, d in out_]


def second_segment_gap(si):
    """Distance to nearest segment and to the nearest segment not sharing a vertex with it."""
    gi = attach[si]["seg"]
    d0 = attach[si]["bng_m"]
    idx = SEG_TREE.query(ST_PTS[si], predicate="dwithin", distance=d0 + 200.0)
    ends = {seg_a[gi], seg_b[gi]}
    best = None
    for j in idx:
        j = int(j)
        if j == gi or seg_a[j] in ends or seg_b[j] in ends:
            continue
        dj = float(shapely.distance(ST_PTS[si], SEG_GEOMS[j]))
        if best is None or dj < best:
            best = dj
    return r(d0, 2), r(best, 2)


PAIRS = [("LIV", "BPN"), ("EUS", "NRW"), ("LIV", "BNG"), ("KGX", "EDB"), ("BHM", "SWA"),
         ("MAN", "YRK"), ("PAD", "BRI"), ("LST", "NRW"), ("EUS", "BHM"), ("GLC", "ABD")]
routes = []
for o, dcrs in PAIRS:
    oi, di = CRS_INDEX[o], CRS_INDEX[dcrs]
    on, dn = attach[oi]["node"], attach[di]["node"]
    entry = {"from": o, "to": dcrs,
             "from_attach_m": r(attach[oi]["geod_m"], 2), "to_attach_m": r(attach[di]["geod_m"], 2),
             "from_attach_bng_m": r(attach[oi]["bng_m"], 2), "to_attach_bng_m": r(attach[di]["bng_m"], 2),
             "from_attach_point": list(on), "to_attach_point": list(dn),
             "from_nearest_and_next_nonadjacent_segment_bng_m": second_segment_gap(oi),
             "to_nearest_and_next_nonadjacent_segment_bng_m": second_segment_gap(di),
             "crow_flies_m": r(GEOD.inv(ST_LON[oi], ST_LAT[oi], ST_LON[di], ST_LAT[di])[2], 1)}
    try:
        dist, path = nx.single_source_dijkstra(G2, on, dn, weight="weight")
        entry["distance_m"] = r(dist, 1)
        entry["path_nodes"] = len(path)
        ov = {}
        fl = forces_along(path, ov)
        entry["forces"] = fl
        entry["length_in_2plus_polygons_m"] = {k: r(v, 1) for k, v in ov.items()}
        entry["length_outside_all_polygons_m"] = r(sum(x["distance_m"] for x in fl if x["code"] is None), 1)
        entry["forces_merged_ignoring_null"] = merge_ignoring_null(fl)
        entry["forces_sum_m"] = r(sum(x["distance_m"] for x in fl), 1)
    except nx.NetworkXNoPath:
        entry["distance_m"] = None
        entry["forces"] = []
    routes.append(entry)
    log(f"route {o}->{dcrs}: {entry['distance_m']}")

# ----------------------------------------------------------------------------- write
out = {
    "meta": {
        "data_dir": DATA,
        "generated_by": "tests/independent/reference.py (shapely %s, pyproj, networkx %s)"
                        % (shapely.__version__, nx.__version__),
        "conventions": __doc__,
    },
    "station_forces_summary": {
        "stations": len(stations),
        "inside": len(stations) - len(outside),
        "outside": len(outside),
        "stations_in_2plus_polygons": multi_station,
        "per_force_counts": {k if k else "null": v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))},
    },
    "station_forces": station_forces,
    "outside_stations": outside,
    "overlaps": {
        "polygon_pairs_with_positive_intersection_area": pair_overlaps,
        "real_overlaps_detail": overlap_detail,
        "random_sample": {"seed": 2024, "n": N_SAMPLE, "box": [-8.7, 49.8, 1.8, 60.9],
                          "inside_any": sample_in, "in_2plus": sample_multi},
    },
    "points": points,
    "tricky_nearest": tricky,
    "station_attachment_summary": attach_summary,
    "routes": routes,
    "components": components,
}
with open(OUT, "w") as fh:
    json.dump(out, fh, indent=1)
log(f"wrote {OUT}")

# summary on stdout
print(json.dumps({
    "station_forces_summary": {k: v for k, v in out["station_forces_summary"].items() if k != "per_force_counts"},
    "outside_stations": [(o["crs"], o["nearest_force"], o["distance_m"], o["distance_geodesic_m"]) for o in outside],
    "overlap_pairs": [(p["a"], p["b"], p["area_m2"], p["representative_point"]) for p in pair_overlaps],
    "overlap_detail": overlap_detail,
    "sample_multi": len(sample_multi),
    "routes": [(x["from"], x["to"], x["distance_m"], x["from_attach_m"], x["to_attach_m"],
                x.get("from_nearest_and_next_nonadjacent_segment_bng_m"),
                x.get("to_nearest_and_next_nonadjacent_segment_bng_m"),
                x.get("length_in_2plus_polygons_m"), x.get("length_outside_all_polygons_m"),
                [(f["code"], f["distance_m"]) for f in x.get("forces_merged_ignoring_null", [])]) for x in routes],
    "components": {k: v for k, v in components.items() if k not in ("others", "size_histogram", "bridging_cross_component_within_m", "main_dead_end_gaps_within_50m")},
    "others": [(c["nodes"], c["length_km"], c["gap_to_main_bng_m"], c["gap_to_main_geodesic_m"],
                c["nearest_station_to_gap"], c["gap_from"]) for c in components["others"]],
    "bridging": components["bridging_cross_component_within_m"],
    "dead_gaps": [(g_["gap_bng_m"], g_["graph_distance_m"], g_["nearest_station"], g_["dead_end"])
                  for g_ in components["main_dead_end_gaps_within_50m"]],
    "attach": attach_summary,
}, indent=1))
