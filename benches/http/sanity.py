#!/usr/bin/env python3
"""Check that linesmap and pygeoapi serve the same features before they are load-tested.

Usage: sanity.py LINESMAP_URL PYGEOAPI_URL GPKG BBOX PATH...

For the stations and journeys collections, in all and inside BBOX (minlon,minlat,maxlon,maxlat),
compares linesmap's numberMatched with the number of features of the GeoPackage that pygeoapi
reads (counted exactly, as pygeoapi's OGR provider filters them: GDAL's spatial filter, R-tree
then exact geometry test) and with pygeoapi's own `resulttype=hits` answer. Then fetches each
PATH (the benchmarked item queries) from both servers and compares numberReturned, and checks
that every id returned is one of the matching features (with a bbox the GeoPackage hands its
features over in R-tree order, so the first page holds other, equally matching, features).
Prints Markdown to stdout; exits 1 when the copy differs from linesmap (the exact counts,
numberReturned or ids outside the matching set). pygeoapi's `hits` is printed but not required to match: for
a GeoPackage, GDAL counts R-tree envelopes that meet the box, not geometries.
Needs GDAL's Python bindings (osgeo).
"""

import json
import sys
import urllib.request

from osgeo import ogr

ogr.UseExceptions()
ACCEPT = {"Accept": "application/geo+json"}


def get(url):
    request = urllib.request.Request(url, headers=ACCEPT)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def gpkg_ids(gpkg, layer_name, bbox):
    """The ids (the GeoJSON `id` the export kept as a field) of the features in bbox, or of all."""
    dataset = ogr.Open(gpkg)
    layer = dataset.GetLayerByName(layer_name)
    if bbox:
        minx, miny, maxx, maxy = bbox
        ring = f"{minx} {miny},{minx} {maxy},{maxx} {maxy},{maxx} {miny},{minx} {miny}"
        layer.SetSpatialFilter(ogr.CreateGeometryFromWkt(f"POLYGON (({ring}))"))
    definition = layer.GetLayerDefn()
    names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    layer.SetIgnoredFields([name for name in names if name != "id"])  # the geometry is still read
    return {feature.GetField("id") for feature in layer}


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__.strip().splitlines()[2])
    linesmap, pygeoapi, gpkg, bbox_text = sys.argv[1:5]
    paths = sys.argv[5:]
    bbox = [float(v) for v in bbox_text.split(",")]
    failures = []
    matching = {}

    print("| collection | query | linesmap numberMatched | GeoPackage (exact, as pygeoapi filters) | pygeoapi `resulttype=hits` |")
    print("|---|---|---:|---:|---:|")
    for collection in ("stations", "journeys"):
        for label, box in (("all", None), (f"bbox={bbox_text}", bbox)):
            query = f"&bbox={bbox_text}" if box else ""
            matched = get(f"{linesmap}/collections/{collection}/items?limit=1{query}")["numberMatched"]
            ids = gpkg_ids(gpkg, collection, box)
            matching[(collection, box is not None)] = ids
            exact = len(ids)
            hits = get(f"{pygeoapi}/collections/{collection}/items?resulttype=hits{query}")["numberMatched"]
            print(f"| {collection} | {label} | {matched:,} | {exact:,} | {hits:,} |")
            if exact != matched:
                failures.append(f"{collection} {label}: linesmap matches {matched}, the GeoPackage {exact}")

    print()
    print("| benchmarked query | linesmap numberReturned | pygeoapi numberReturned | ids |")
    print("|---|---:|---:|---|")
    for path in paths:
        collection = path.split("/")[2]
        expected = matching[(collection, "bbox=" in path)]
        ours = [f["id"] for f in get(f"{linesmap}{path}")["features"]]
        theirs = [f["id"] for f in get(f"{pygeoapi}{path}")["features"]]
        if ours == theirs:
            ids = "the same, in the same order"
        elif set(ours) <= expected and set(theirs) <= expected:
            ids = "different pages of the same matching set (no sort order asked)"
        else:
            ids = "**not all in the matching set**"
            failures.append(f"{path}: a server returned features outside the {len(expected)} that match")
        print(f"| `{path}` | {len(ours):,} | {len(theirs):,} | {ids} |")
        if len(ours) != len(theirs):
            failures.append(f"{path}: linesmap returned {len(ours)} features, pygeoapi {len(theirs)}")

    if failures:
        print("\nsanity check failed:\n- " + "\n- ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
