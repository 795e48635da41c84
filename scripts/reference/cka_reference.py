"""Reference fixture for codeneurons' minibatch linear CKA (test/redundancy/cka.test.ts).

Run with Debian's python (numpy 1.24):
    /usr/bin/python3 scripts/reference/cka_reference.py

Linear CKA with the unbiased HSIC estimator accumulated over minibatches (Nguyen, Raghu & Kornblith
2021, after Song et al. 2012), in float64 on the *uncentred* features (the estimator is invariant to
centring, which codeneurons does per batch for float32 accuracy; this reference checks that too).

Files (test/fixtures/redundancy/):
  cka.f32   activations, tokens x (layers * hidden), float32 LE, layer-major columns
  cka.json  {tokens, layers, hidden, batches: [[token indices]...], cka: [[...]], cka_full: [[...]]}
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "redundancy")


def hsic1(k, l):
    """Unbiased HSIC (Song et al. 2012, eq. 5) of two m x m Gram matrices."""
    m = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    ones = np.ones(m)
    trace = np.sum(k * l)
    term2 = (ones @ k @ ones) * (ones @ l @ ones) / ((m - 1) * (m - 2))
    term3 = 2 / (m - 2) * (ones @ k @ l @ ones)
    return (trace + term2 - term3) / (m * (m - 3))


def minibatch_cka(layers, batches):
    n = len(layers)
    acc = np.zeros((n, n))
    for rows in batches:
        grams = [x[rows] @ x[rows].T for x in layers]
        for i in range(n):
            for j in range(n):
                acc[i, j] += hsic1(grams[i], grams[j])
    d = np.sqrt(np.diag(acc))
    return acc / np.outer(d, d)


def main():
    rng = np.random.default_rng(7)
    tokens, hidden, n_layers = 200, 16, 5
    # Each layer a noisy nonlinear map of the previous one (similarity decays with depth), with
    # large per-neuron offsets as real activations have.
    signal = [rng.standard_normal((tokens, hidden))]
    for _ in range(n_layers - 1):
        rot = rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)
        signal.append(np.tanh(signal[-1] @ rot) * 2 + 0.6 * rng.standard_normal((tokens, hidden)))
    layers = [s + rng.uniform(-20, 20, hidden) for s in signal]
    x = np.concatenate(layers, axis=1).astype(np.float32)
    layers64 = [x[:, l * hidden:(l + 1) * hidden].astype(np.float64) for l in range(n_layers)]
    perm = rng.permutation(tokens)
    batches = [perm[b * 40:(b + 1) * 40].tolist() for b in range(5)]
    cka = minibatch_cka(layers64, batches)
    cka_full = minibatch_cka(layers64, [list(range(tokens))])
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "cka.f32"), "wb") as f:
        f.write(x.astype("<f4").tobytes())
    with open(os.path.join(OUT, "cka.json"), "w") as f:
        json.dump({"tokens": tokens, "layers": n_layers, "hidden": hidden, "batches": batches,
                   "cka": cka.tolist(), "cka_full": cka_full.tolist()}, f)
    print(np.round(cka, 4))


if __name__ == "__main__":
    main()
