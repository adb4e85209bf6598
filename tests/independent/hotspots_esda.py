"""Reference values for the Gi* permutation test, from PySAL's esda (PyPI).

Rerun (writes hotspots_esda.json beside this file):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install esda==2.9.0 libpysal==4.14.1
    /tmp/venv/bin/python tests/independent/hotspots_esda.py

The data: a 20 x 20 rook lattice (libpysal.weights.lat2W, binary weights, every cell has 2 to
4 neighbours) and integer counts drawn from a Poisson distribution with a hot block in one
corner and a sparse rest: most cells are 0, so ties are everywhere, as with station counts.
esda.G_Local(star=True, transform="B") gives the analytic z (Zs) and the folded pseudo
p-value (p_sim) of conditional randomisation with 9,999 permutations. The Rust test uses the
same neighbour lists and counts: z must agree to 1e-9; p_sim cannot be equal draw for draw
(another random generator), so it is compared within binomial error.
"""

import json
import os
import warnings

import esda
import libpysal
import numpy as np

warnings.simplefilter("ignore")

SIDE = 20
PERMUTATIONS = 9999

w = libpysal.weights.lat2W(SIDE, SIDE, rook=True)
n = SIDE * SIDE
rs = np.random.RandomState(20261130)
lam = np.full(n, 0.3)
for r in range(6):
    for c in range(6):
        lam[r * SIDE + c] = 3.0
# a cold-ish strip of higher background elsewhere, so some cells are above the mean alone
for c in range(SIDE):
    lam[12 * SIDE + c] = 1.0
y = rs.poisson(lam).astype(float)

g = esda.G_Local(
    y, w, transform="B", star=True, permutations=PERMUTATIONS, seed=7, n_jobs=1,
    keep_simulations=False,
)

out = {
    "source": "esda %s, libpysal %s, numpy %s" % (esda.__version__, libpysal.__version__, np.__version__),
    "permutations": PERMUTATIONS,
    "neighbours": [sorted(int(j) for j in w.neighbors[i]) for i in range(n)],
    "y": [int(v) for v in y],
    "z": [float(v) for v in g.Zs],
    "p_sim": [float(v) for v in g.p_sim],
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hotspots_esda.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path, "zeros:", int((y == 0).sum()), "of", n, "min p_sim", min(out["p_sim"]))
