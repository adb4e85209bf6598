#!/usr/bin/env python3
"""Check that linesmap and the pygeoapi peers serve the same features before they are load-tested.

Usage: sanity.py --linesmap URL --bbox=BBOX --peer NAME URL DATASET HITS [--peer ...] PATH...

Each peer is a pygeoapi serving the copy DATASET (a GeoPackage or a SpatiaLite database, read here
through GDAL). For the stations and journeys collections, in all and inside BBOX
(minlon,minlat,maxlon,maxlat), compares linesmap's numberMatched with the number of features of
each DATASET, counted exactly by GDAL (its spatial filter: the index, then an exact geometry test),
independently of the pygeoapi provider that serves it, and with the peer's own
`resulttype=hits` answer. HITS says what that answer counts: `exact` (it must equal linesmap's
numberMatched: pygeoapi's SQLiteGPKG provider counts with the same `Intersects()` it filters
with) or `envelopes` (printed, not required to match: for a GeoPackage, pygeoapi's OGR provider
asks GDAL, which counts R-tree envelopes that meet the box, not geometries). Then fetches each PATH
(the benchmarked item queries) from linesmap and every peer and compares numberReturned, and
checks that every id returned is one of the matching features (with a bbox the GeoPackage hands
its features over in R-tree order, so the first page holds other, equally matching, features).
Prints Markdown to stdout; exits 1 when a copy differs from linesmap (the exact counts, an
`exact` hits count, numberReturned or ids outside the matching set).
Needs GDAL's Python bindings (osgeo).
"""

import argparse
import json
import sys
import urllib.request

from osgeo import ogr

ogr.UseExceptions()
ACCEPT = {"Accept": "application/geo+json"}
COLLECTIONS = ("stations", "journeys")


def get(url):
    request = urllib.request.Request(url, headers=ACCEPT)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def dataset_ids(path, layer_name, bbox):
    """The ids (the GeoJSON `id` the export kept as a field) of the features in bbox, or of all."""
    dataset = ogr.Open(path)
    layer = dataset.GetLayerByName(layer_name)
    if bbox:
        minx, miny, maxx, maxy = bbox
        ring = f"{minx} {miny},{minx} {maxy},{maxx} {maxy},{maxx} {miny},{minx} {miny}"
        layer.SetSpatialFilter(ogr.CreateGeometryFromWkt(f"POLYGON (({ring}))"))
    definition = layer.GetLayerDefn()
    names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    layer.SetIgnoredFields([name for name in names if name != "id"])  # the geometry is still read
    return {feature.GetField("id") for feature in layer}


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--linesmap", required=True, metavar="URL")
    parser.add_argument("--bbox", required=True, metavar="MINLON,MINLAT,MAXLON,MAXLAT")
    parser.add_argument("--peer", action="append", nargs=4, required=True,
                        metavar=("NAME", "URL", "DATASET", "HITS"))
    parser.add_argument("paths", nargs="*", metavar="PATH")
    args = parser.parse_args()
    for name, _, _, hits in args.peer:
        if hits not in ("exact", "envelopes"):
            parser.error(f"--peer {name}: HITS must be exact or envelopes, not {hits!r}")
    return args


def main():
    args = arguments()
    linesmap, bbox_text, peers = args.linesmap, args.bbox, args.peer
    bbox = [float(v) for v in bbox_text.split(",")]
    failures = []
    matching = {}  # (peer, collection, with bbox) -> ids in the peer's copy

    head = ["collection", "query", "linesmap numberMatched"]
    for name, _, dataset, hits in peers:
        head += [f"{name} copy (GDAL, exact)", f"{name} `resulttype=hits` ({hits})"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * (len(head) - 2))
    for collection in COLLECTIONS:
        for label, box in (("all", None), (f"bbox={bbox_text}", bbox)):
            query = f"&bbox={bbox_text}" if box else ""
            matched = get(f"{linesmap}/collections/{collection}/items?limit=1{query}")["numberMatched"]
            row = [collection, label, f"{matched:,}"]
            for name, url, dataset, hits_kind in peers:
                ids = dataset_ids(dataset, collection, box)
                matching[(name, collection, box is not None)] = ids
                hits = get(f"{url}/collections/{collection}/items?resulttype=hits{query}")["numberMatched"]
                row += [f"{len(ids):,}", f"{hits:,}"]
                if len(ids) != matched:
                    failures.append(f"{collection} {label}: linesmap matches {matched}, {name}'s copy {len(ids)}")
                if hits_kind == "exact" and hits != matched:
                    failures.append(f"{collection} {label}: linesmap matches {matched}, {name} counts {hits} hits")
            print("| " + " | ".join(row) + " |")

    print()
    print("| benchmarked query | linesmap numberReturned | peer | peer numberReturned | ids |")
    print("|---|---:|---|---:|---|")
    for path in args.paths:
        collection = path.split("/")[2]
        ours = [f["id"] for f in get(f"{linesmap}{path}")["features"]]
        for name, url, _, _ in peers:
            expected = matching[(name, collection, "bbox=" in path)]
            theirs = [f["id"] for f in get(f"{url}{path}")["features"]]
            if ours == theirs:
                ids = "the same, in the same order"
            elif set(ours) <= expected and set(theirs) <= expected:
                ids = "different pages of the same matching set (no sort order asked)"
            else:
                ids = "**not all in the matching set**"
                failures.append(f"{path}: linesmap or {name} returned features outside the {len(expected)} that match")
            print(f"| `{path}` | {len(ours):,} | {name} | {len(theirs):,} | {ids} |")
            if len(ours) != len(theirs):
                failures.append(f"{path}: linesmap returned {len(ours)} features, {name} {len(theirs)}")

    if failures:
        print("\nsanity check failed:\n- " + "\n- ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
