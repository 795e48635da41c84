"""Reference fixture for codeneurons' per-layer-linked correlation clustering
(test/redundancy/cluster-layers.test.ts; the method is described in docs/clustering.md).

Run with Debian's python (scipy 1.10, numpy 1.24):
    /usr/bin/python3 scripts/reference/cluster_layers_reference.py

Activations of 6 layers x 24 neurons over 240 tokens, shaped like a residual stream: unit u of layer l
is rho * (unit u of layer l-1) + noise, plus groups of units that share a latent signal inside a layer,
large per-neuron means and one constant neuron. Columns are layer-major (neuron id = layer * 24 + unit).

For each threshold t the reference computes, with numpy's float64 corrcoef and NeuroX's distances
1 - |r|:
  1. per layer: scipy linkage(y, 'average') and fcluster(Z, t, 'distance');
  2. the cross-layer step: for neighbouring layers l, l+1 and every pair (A of l, B of l+1) of their
     flat clusters, the mean of 1 - |r| over A x B; A and B are joined when that mean is <= t;
  3. the flat clusters are the connected groups of joined per-layer clusters, numbered in the order of
     their first column (layer-major).
Written: layers.f32 (float32 LE, rows x cols) and layers.json {rows, cols, width, thresholds, labels
(per t), joins (per t: per-layer clusters minus final clusters), margin (the smallest distance of a
per-layer merge height or a cross-layer mean from a threshold: codeneurons' float32 correlations differ
from numpy's by < 2e-6, so identical clusters need a margin above that)}.
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
LAYERS, WIDTH, TOKENS = 6, 24, 240


def activations(rng):
    x = np.zeros((TOKENS, LAYERS * WIDTH))
    latent = rng.standard_normal((TOKENS, 5))
    group = rng.integers(0, 5, WIDTH)
    prev = rng.standard_normal((TOKENS, WIDTH))
    rho = rng.uniform(0.55, 0.97, WIDTH)
    for layer in range(LAYERS):
        cur = rho * prev + np.sqrt(1 - rho**2) * rng.standard_normal((TOKENS, WIDTH))
        mix = 0.8 * latent[:, group] * rng.choice([-1.0, 1.0], WIDTH) + cur
        x[:, layer * WIDTH:(layer + 1) * WIDTH] = mix * rng.uniform(0.5, 3, WIDTH) + rng.uniform(-40, 40, WIDTH)
        prev = cur
    x[:, 2 * WIDTH + 7] = 3.5
    return x.astype(np.float32)


def distances(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(x.T.astype(np.float64)))
    d = 1 - np.abs(corr)
    np.fill_diagonal(d, 0)
    return d


def main():
    rng = np.random.default_rng(8)  # a seed whose margin (below) is over 1e-4
    x = activations(rng)
    d = distances(x)
    margin = np.inf
    labels, joins = [], []
    trees = []
    for layer in range(LAYERS):
        cols = slice(layer * WIDTH, (layer + 1) * WIDTH)
        z = linkage(squareform(d[cols, cols], checks=False), "average")
        trees.append(z)
        margin = min(margin, min(abs(h - t) for h in z[:, 2] for t in THRESHOLDS))
    for t in THRESHOLDS:
        per_layer = [fcluster(z, t, criterion="distance") for z in trees]
        offsets = np.cumsum([0] + [lab.max() for lab in per_layer])
        parent = list(range(offsets[-1]))

        def find(v):
            while parent[v] != v:
                parent[v] = parent[parent[v]]
                v = parent[v]
            return v

        for layer in range(LAYERS - 1):
            a, b = per_layer[layer], per_layer[layer + 1]
            block = d[layer * WIDTH:(layer + 1) * WIDTH, (layer + 1) * WIDTH:(layer + 2) * WIDTH]
            for p in range(1, a.max() + 1):
                for q in range(1, b.max() + 1):
                    mean = block[np.ix_(a == p, b == q)].mean()
                    margin = min(margin, abs(mean - t))
                    if mean <= t:
                        ra, rb = find(offsets[layer] + p - 1), find(offsets[layer + 1] + q - 1)
                        if ra != rb:
                            parent[max(ra, rb)] = min(ra, rb)
        roots = np.concatenate([find_all(per_layer[l], offsets[l], find) for l in range(LAYERS)])
        numbers = {}
        out = [numbers.setdefault(r, len(numbers) + 1) for r in roots]
        labels.append(out)
        joins.append(int(offsets[-1] - len(numbers)))
    assert margin > 1e-4, f"a merge height or a cross-layer mean lies {margin} from a threshold"
    with open(os.path.join(OUT, "layers.f32"), "wb") as f:
        f.write(x.astype("<f4").tobytes())
    with open(os.path.join(OUT, "layers.json"), "w") as f:
        json.dump({"rows": TOKENS, "cols": LAYERS * WIDTH, "width": WIDTH, "thresholds": THRESHOLDS,
                   "labels": labels, "joins": joins, "margin": margin, "scipy": scipy.__version__}, f)
    print("clusters per t:", [max(lab) for lab in labels], "joins:", joins, "margin:", margin)


def find_all(lab, offset, find):
    return np.array([find(offset + c - 1) for c in lab])


if __name__ == "__main__":
    sys.exit(main())
