"""Binomial quantiles for the treatment funnel plot, computed with scipy (no linesmap code).

For each (n, p) below: scipy.stats.binom.ppf at 0.001, 0.025, 0.975 and 0.999 (the 99.8 % and
95 % control limits of a funnel plot, Spiegelhalter 2005), and the position of a few counts y
(above the 0.999 quantile: above_99.8; above the 0.975: above_95; below the 0.001: below_99.8;
below the 0.025: below_95; else within).

Rerun (writes funnel.json beside this file):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scipy
    /tmp/venv/bin/python tests/independent/funnel.py
"""

import json
import os

import scipy
from scipy.stats import binom

LEVELS = [0.001, 0.025, 0.975, 0.999]
CASES = [
    (1, 0.3), (5, 0.5), (10, 0.5), (12, 0.05), (20, 0.9), (37, 0.21), (50, 0.02),
    (100, 0.1), (100, 0.5), (250, 0.333), (500, 0.07), (1000, 0.42), (2500, 0.61),
    (10000, 0.15), (40000, 0.035), (100000, 0.5), (150000, 0.0123),
]


def position(y, q):
    if y > q[3]:
        return "above_99.8"
    if y > q[2]:
        return "above_95"
    if y < q[0]:
        return "below_99.8"
    if y < q[1]:
        return "below_95"
    return "within"


out = []
for n, p in CASES:
    q = [int(binom.ppf(level, n, p)) for level in LEVELS]
    ys = sorted({min(max(y, 0), n) for y in
                 (0, q[0] - 1, q[0], q[1] - 1, q[1], int(n * p), q[2], q[2] + 1, q[3], q[3] + 1, n)})
    out.append({
        "n": n,
        "p": p,
        "quantiles": q,
        "positions": [[y, position(y, q)] for y in ys],
    })

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "funnel.json")
with open(path, "w") as f:
    f.write('{"scipy": "%s", "levels": %s, "cases": [\n' % (scipy.__version__, json.dumps(LEVELS)))
    f.write(",\n".join(json.dumps(c) for c in out))
    f.write("\n]}\n")
print(f"wrote {path}: {len(out)} cases")
