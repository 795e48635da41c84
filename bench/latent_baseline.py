#!/usr/bin/env python3
"""Baseline for `npm run bench:latent` (run by bench/latent.ts with the OPENBLAS_* overrides unset).

ConceptX's clustering step: scikit-learn's AgglomerativeClustering(n_clusters=K, linkage="ward") on the
token vectors (scikit-learn runs scipy.cluster.hierarchy.ward, a nearest-neighbour chain over the
pdist matrix). One timed fit per call, in its own process so that its peak RSS is its own.

Usage: latent_baseline.py X.npy K OUT_LABELS.npy|-
Prints one JSON object on the last stdout line: times (s), CPU seconds (all threads), peak RSS (KiB).
"""
import json
import resource
import sys
import time

import numpy as np
from sklearn.cluster import AgglomerativeClustering


def main():
    path, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    x = np.load(path)
    print(f"baseline: X {x.shape} {x.dtype}, K={k}", file=sys.stderr, flush=True)
    c0 = time.process_time()
    t0 = time.perf_counter()
    labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit(x).labels_
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if out != "-":
        np.save(out, labels.astype(np.int32))
    print(json.dumps({"times": [seconds], "cpu": [cpu], "peak_kib": peak_kib}))


if __name__ == "__main__":
    main()
