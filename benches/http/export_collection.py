#!/usr/bin/env python3
"""Copy one OGC API - Features collection of a running linesmap into a GeoJSON file.

Usage: export_collection.py BASE_URL COLLECTION OUT.geojson [PAGE_SIZE]

Pages through BASE_URL/collections/COLLECTION/items?limit=PAGE_SIZE, following the `next` link
(or the next offset when there is none) until a page holds fewer than PAGE_SIZE features, and
streams the features into one FeatureCollection (one feature per line, per-feature `links`
dropped: they are not GeoJSON and no GIS reader keeps them). Fails when the total differs from
the first page's numberMatched. Prints the count. Standard library only.
"""

import json
import sys
import urllib.parse
import urllib.request


def fetch(url):
    request = urllib.request.Request(url, headers={"Accept": "application/geo+json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        if response.status != 200:
            raise SystemExit(f"export: {url} answered HTTP {response.status}")
        return json.load(response)


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__.strip().splitlines()[2])
    base, collection, out = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    page_size = int(sys.argv[4]) if len(sys.argv) == 5 else 10000
    url = f"{base}/collections/{collection}/items?limit={page_size}&offset=0"
    matched = None
    written = 0
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"type": "FeatureCollection", "features": [\n')
        while url:
            page = fetch(url)
            if matched is None:
                matched = page.get("numberMatched")
            features = page.get("features", [])
            for feature in features:
                feature.pop("links", None)
                f.write(",\n" if written else "")
                f.write(json.dumps(feature, separators=(",", ":"), ensure_ascii=False))
                written += 1
            if len(features) < page_size:
                break
            nexts = [link["href"] for link in page.get("links", []) if link.get("rel") == "next"]
            if nexts:
                url = urllib.parse.urljoin(url, nexts[0])
            else:
                url = f"{base}/collections/{collection}/items?limit={page_size}&offset={written}"
        f.write("\n]}\n")
    if matched is not None and matched != written:
        raise SystemExit(f"export: {collection}: numberMatched was {matched} but {written} features were paged")
    print(written)


if __name__ == "__main__":
    main()
