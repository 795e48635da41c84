"""Reference fixtures for codeneurons' Ward clustering (test/latent/ward.test.ts).

Run with Debian's python (scikit-learn 1.2, scipy 1.10, numpy 1.24), after `npm start` has written the
demo results (their training store gives the real activations):
    /usr/bin/python3 scripts/reference/latent_reference.py [demo-results]

For each case it writes the matrix (float32, little-endian, rows x cols), scipy's linkage matrix Z of
scipy.cluster.hierarchy.ward (what scikit-learn's AgglomerativeClustering(linkage="ward") builds) and
scikit-learn's labels_ for several numbers of clusters.

Cases:
  blobs     240 x 12 Gaussian blobs: no ties
  dups      200 x 6: 70 distinct rows, the rest exact copies of them (ties at distance 0)
  layer0    150 tokens of the demo store, layer 0 (the embeddings: a word at the same position twice
            gives the same vector; 20 such vectors three times each), 256 dimensions
  layer4    the same tokens at layer 4

Files (test/fixtures/latent/):
  <case>.f32       the matrix
  ward.json        {cases: [{name, rows, cols, Z: [[l, r, h, size]...], k: [...], labels: [[...] per k]}]}
"""
import json
import os
import struct
import sys

import numpy as np
import scipy
import sklearn
from scipy.cluster.hierarchy import ward
from sklearn.cluster import AgglomerativeClustering

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "latent")


def read_store_layer(store, layer):
    """All rows of `hidden.<layer>` of a codeneurons store's shards (safetensors), in row order."""
    parts = []
    shards = sorted(f for f in os.listdir(os.path.join(store, "shards")) if f.endswith(".safetensors"))
    for name in shards:
        with open(os.path.join(store, "shards", name), "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            t = header[f"hidden.{layer}"]
            a, b = t["data_offsets"]
            f.seek(8 + n + a)
            parts.append(np.frombuffer(f.read(b - a), dtype=np.float32).reshape(t["shape"]))
    return np.concatenate(parts)


def case(name, x, ks):
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.tofile(os.path.join(OUT, f"{name}.f32"))
    z = ward(x)
    labels = [AgglomerativeClustering(n_clusters=k, linkage="ward").fit(x).labels_.tolist() for k in ks]
    return {
        "name": name,
        "rows": int(x.shape[0]),
        "cols": int(x.shape[1]),
        "Z": [[int(l), int(r), float(h), int(s)] for l, r, h, s in z],
        "k": ks,
        "labels": labels,
    }


def ks_for(n):
    return sorted({k for k in [1, 2, 3, 7, 20, n // 4, n // 2, n - 1, n] if 1 <= k <= n})


def main():
    demo = sys.argv[1] if len(sys.argv) > 1 else "demo-results"
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(19)
    cases = []

    centres = rng.normal(size=(8, 12)) * 4
    blobs = centres[rng.integers(0, 8, 240)] + rng.normal(size=(240, 12))
    cases.append(case("blobs", blobs, ks_for(240)))

    base = rng.normal(size=(70, 6))
    dups = np.concatenate([base, base[rng.integers(0, 70, 130)]])
    dups = dups[rng.permutation(200)]
    cases.append(case("dups", dups, ks_for(200)))

    store = os.path.join(demo, "activations", "train")
    layer0 = read_store_layer(store, 0)
    # 60 rows from groups of identical layer-0 vectors (the same word at the same position), 90 others.
    _, group, counts = np.unique(layer0, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    shared = rng.permutation(np.flatnonzero(counts >= 3))[:20]
    tied = np.concatenate([rng.choice(np.flatnonzero(group == g), 3, replace=False) for g in shared])
    others = rng.choice(np.setdiff1d(np.arange(layer0.shape[0]), tied), 150 - len(tied), replace=False)
    rows = np.sort(np.concatenate([tied, others]))
    cases.append(case("layer0", layer0[rows], ks_for(150)))
    cases.append(case("layer4", read_store_layer(store, 4)[rows], ks_for(150)))

    with open(os.path.join(OUT, "ward.json"), "w") as f:
        json.dump(
            {
                "source": f"scripts/reference/latent_reference.py (scikit-learn {sklearn.__version__}, "
                f"scipy {scipy.__version__}, numpy {np.__version__}); layer cases: rows "
                f"{rows.tolist()} of the demo's training store (activations/train)",
                "cases": cases,
            },
            f,
        )
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
