#!/usr/bin/env python3
"""Baseline for `npm run bench:cluster` (run by bench/cluster.ts with the OPENBLAS_* overrides unset).

NeuroX's create_correlation_clusters (neurox/interpretation/clustering.py): numpy.corrcoef (float64),
nan_to_num, symmetrise, unit diagonal, 1 - |r|, squareform, scipy linkage('average'); then, as
codeneurons does, the tree is cut at every threshold with fcluster(t, 'distance') and one random
neuron is drawn per cluster (NeuroX recomputes correlation and tree for every threshold, so this
baseline is already the faster variant).

Usage: cluster_baseline.py X.npy OUT_DIR RUNS THREADS [DUMP [SEED]]
Prints one JSON object on the last stdout line: times (s), peak RSS (KiB), clusters per threshold.
With DUMP=1 (default) writes OUT_DIR/baseline_labels.npy (thresholds x neurons, int32),
OUT_DIR/baseline_distances.npy (condensed float64) and OUT_DIR/baseline_heights.npy (merge heights).
"""
import json
import os
import resource
import sys
import time

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

THRESHOLDS = [k / 10 for k in range(1, 10)]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cluster(x, rng):
    corr = np.corrcoef(x.T)
    corr = np.nan_to_num(corr)
    corr = (corr + corr.T) / 2
    np.fill_diagonal(corr, 1)
    y = squareform(1 - np.abs(corr))
    del corr
    z = linkage(y, method="average")
    labels = []
    representatives = []
    for t in THRESHOLDS:
        lab = fcluster(z, t, criterion="distance")
        labels.append(lab)
        representatives.append([rng.choice(np.where(lab == c)[0]) for c in range(1, lab.max() + 1)])
    return y, z, labels, representatives


def main():
    path, out_dir, runs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    dump = len(sys.argv) <= 5 or sys.argv[5] == "1"
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        log("threadpoolctl missing: OpenBLAS uses its default thread count")
    x = np.load(path)
    log(f"baseline: X {x.shape} {x.dtype}, {runs} run(s), {threads} thread(s)")
    times = []
    for r in range(runs):
        t0 = time.perf_counter()
        y, z, labels, _ = cluster(x, np.random.default_rng(seed + r))
        times.append(time.perf_counter() - t0)
        log(f"baseline run {r + 1}/{runs}: {times[-1]:.2f} s")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if dump:
        np.save(os.path.join(out_dir, "baseline_labels.npy"), np.stack(labels).astype(np.int32))
        np.save(os.path.join(out_dir, "baseline_distances.npy"), y)
        np.save(os.path.join(out_dir, "baseline_heights.npy"), z[:, 2])
    print(json.dumps({"times": times, "peak_kib": peak_kib,
                      "clusters": [int(l.max()) for l in labels], "thresholds": THRESHOLDS}))


if __name__ == "__main__":
    main()
