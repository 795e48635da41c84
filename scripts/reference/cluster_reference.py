"""Reference fixtures for codeneurons' correlation clustering (test/redundancy/cluster.test.ts).

Run with Debian's python (scipy 1.10, numpy 1.24):
    /usr/bin/python3 scripts/reference/cluster_reference.py

For each case it writes the condensed distance vector that scipy clusters (as float32 or uint8 on
disk, so that fixtures stay small; the values are exactly representable in float64, and the float64
vector is what scipy sees), scipy's linkage matrix Z of linkage(y, 'average') and fcluster's labels
at each threshold with criterion='distance'. It also writes a correlation case: activations (float32)
with numpy.corrcoef's float64 correlation, to check codeneurons' onnxruntime correlation, and the
flat clusters NeuroX's create_correlation_clusters gives on them.

Files (test/fixtures/redundancy/):
  <case>.json      {n, dtype, scale, thresholds, Z: [[l, r, h, size]...], labels: [[...] per t]}
  <case>.bin       condensed distances: float32 LE, or uint8 k meaning k * scale
  corr.json / corr.f32   activations rows x cols (float32 LE) and corrcoef / clusters
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "redundancy")
THRESHOLDS = [k / 10 for k in range(1, 10)]


def corr_distances(x):
    """NeuroX's create_correlation_clusters distances, condensed."""
    corr = np.corrcoef(x.T)
    corr = np.nan_to_num(corr)
    corr = (corr + corr.T) / 2
    np.fill_diagonal(corr, 1)
    return squareform(1 - np.abs(corr), checks=False)


def grouped_activations(rng, tokens, neurons, groups, noise):
    """Neurons that share one of `groups` latent signals (with random sign and scale) plus noise."""
    latent = rng.standard_normal((tokens, groups))
    which = rng.integers(0, groups, neurons)
    sign = rng.choice([-1.0, 1.0], neurons)
    scale = rng.uniform(0.5, 2.0, neurons)
    x = latent[:, which] * sign * scale + noise * rng.standard_normal((tokens, neurons))
    return (x + rng.uniform(-3, 3, neurons)).astype(np.float32)


def write_case(name, y, n, dtype, scale=1.0, thresholds=THRESHOLDS):
    y = np.asarray(y, dtype=np.float64)
    assert y.shape == (n * (n - 1) // 2,)
    if dtype == "float32":
        stored = y.astype("<f4")
        assert np.array_equal(stored.astype(np.float64), y), "distances must be float32-exact"
    else:
        stored = np.rint(y / scale).astype(np.uint8)
        assert np.array_equal(stored.astype(np.float64) * scale, y), "distances must be k * scale"
    z = linkage(y, "average")
    labels = [fcluster(z, t, criterion="distance").tolist() for t in thresholds]
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(stored.tobytes())
    doc = {
        "n": n,
        "dtype": dtype,
        "scale": scale,
        "thresholds": thresholds,
        "Z": [[int(r[0]), int(r[1]), float(r[2]), int(r[3])] for r in z],
        "labels": labels,
        "scipy": scipy.__version__,
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f)
    print(name, "n=%d" % n, "clusters per t:", [max(l) for l in labels])


def float32_exact(y):
    return y.astype(np.float32).astype(np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20230501)

    # 1. A realistic correlation matrix: 240 neurons in 30 correlated groups.
    x = grouped_activations(rng, 60, 240, 30, 0.6)
    write_case("grouped240", float32_exact(corr_distances(x)), 240, "float32")

    # 2. Duplicated and sign-flipped neurons: exact zero distances and exact ties everywhere.
    base = grouped_activations(rng, 40, 40, 8, 0.8).astype(np.float64)
    cols = [base[:, i % 40] * (1 if (i // 40) % 2 == 0 else -1) for i in range(120)]
    dup = np.stack(cols, axis=1)
    dup = dup[:, rng.permutation(120)]
    write_case("duplicates120", float32_exact(corr_distances(dup)), 120, "float32")

    # 3. Constant-correlation blocks: every pair in block a/b has the same distance (ties inside
    #    blocks and between blocks), blocks interleaved in index order.
    n = 96
    block = rng.integers(0, 6, n)
    level = np.array([[0.05, 0.4, 0.5, 0.7, 0.7, 0.9],
                      [0.4, 0.1, 0.4, 0.7, 0.9, 0.9],
                      [0.5, 0.4, 0.25, 0.5, 0.5, 0.9],
                      [0.7, 0.7, 0.5, 0.0, 0.6, 0.8],
                      [0.7, 0.9, 0.5, 0.6, 0.3, 0.8],
                      [0.9, 0.9, 0.9, 0.8, 0.8, 0.75]])
    d = level[block[:, None], block[None, :]]
    np.fill_diagonal(d, 0)
    write_case("blocks96", float32_exact(squareform(d, checks=False)), n, "float32")

    # 4. Quantised distances k/16: massive ties; thresholds on exact merge heights too.
    n = 150
    q = rng.integers(0, 17, n * (n - 1) // 2)
    write_case("quantised150", q / 16.0, n, "uint8", 1 / 16.0,
               THRESHOLDS + [0.0, 0.25, 0.5, 0.5625, 0.75, 1.0])

    # 5. Few distinct values, few neurons: the tie-breaking of the chain is all that matters.
    n = 24
    q = rng.integers(0, 3, n * (n - 1) // 2)
    write_case("ties24", q / 2.0, n, "uint8", 0.5, THRESHOLDS + [0.0, 0.5, 1.0])
    write_case("equal9", np.full(36, 0.5), 9, "uint8", 0.5, THRESHOLDS + [0.5])
    write_case("pair2", np.array([0.25]), 2, "uint8", 0.25, [0.1, 0.25, 0.3])

    # 6. Correlation from activations: numpy.corrcoef reference and NeuroX's clusters. Means far
    #    from zero (as real activations), one constant neuron, one duplicate and one negated column.
    x = grouped_activations(rng, 300, 48, 6, 0.4)
    x[:, 5] = 7.25
    x[:, 17] = x[:, 3]
    x[:, 30] = -x[:, 9] + 100
    x = x.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(x.T.astype(np.float64)))
    y = corr_distances(x)
    z = linkage(y, "average")
    labels = [fcluster(z, t, criterion="distance").tolist() for t in THRESHOLDS]
    with open(os.path.join(OUT, "corr.f32"), "wb") as f:
        f.write(x.astype("<f4").tobytes())
    with open(os.path.join(OUT, "corr.json"), "w") as f:
        json.dump({"rows": x.shape[0], "cols": x.shape[1], "corr": corr.ravel().tolist(),
                   "thresholds": THRESHOLDS, "labels": labels,
                   "heights": z[:, 2].tolist()}, f)
    print("corr", x.shape, "clusters per t:", [max(l) for l in labels])


if __name__ == "__main__":
    sys.exit(main())
