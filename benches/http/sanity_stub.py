#!/usr/bin/env python3
"""A stub for sanity_test.sh, standing for both linesmap and a pygeoapi peer.

Usage: sanity_stub.py HITS_BBOX. Prints its port. Items: features A, B, C, or A and B with a bbox;
`resulttype=hits` answers 3, or HITS_BBOX with a bbox.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

HITS_BBOX = int(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        bbox = "bbox=" in self.path
        ids = ["A", "B"] if bbox else ["A", "B", "C"]
        if "resulttype=hits" in self.path:
            body = {"numberMatched": HITS_BBOX if bbox else 3, "features": []}
        else:
            body = {"numberMatched": len(ids), "features": [{"id": i} for i in ids]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
