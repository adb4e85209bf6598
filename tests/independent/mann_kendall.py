"""Reference values for the Mann-Kendall trend test, from pymannkendall (PyPI).

Rerun (writes mann_kendall.json beside this file):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pymannkendall==1.4.3
    /tmp/venv/bin/python tests/independent/mann_kendall.py

Series of Gi* z-like values: rising, falling, flat, with ties, short and long.
"""

import json
import os

import numpy as np
import pymannkendall as mk

rs = np.random.RandomState(16)
series = [
    [0.1, 0.5, 0.3, 0.9, 1.2, 1.1, 1.8, 2.4, 2.2, 3.0],
    [3.0, 2.5, 2.7, 2.0, 1.1, 1.3, 0.2, -0.4, -0.1, -1.0],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 1.0, 3.0, 3.0, 4.0, 4.0, 0.0],
    [0.4, -0.2, 0.7, 0.1, -0.5, 0.3, 0.0, 0.2],
    [1.5, 2.5, 3.5],
    [round(v, 3) for v in (rs.randn(52) + np.linspace(0, 1.5, 52))],
    [float(v) for v in rs.poisson(2.0, 24)],
]
out = []
for y in series:
    r = mk.original_test(y)
    out.append({"y": y, "s": float(r.s), "var_s": float(r.var_s), "z": float(r.z), "p": float(r.p), "trend": r.trend})
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mann_kendall.json")
with open(path, "w") as f:
    json.dump({"source": "pymannkendall %s" % mk.__version__ if hasattr(mk, "__version__") else "pymannkendall", "cases": out}, f, indent=1)
print("wrote", path)
