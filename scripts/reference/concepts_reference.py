#!/usr/bin/python3
"""Reference fixtures for src/concepts (run with Debian's /usr/bin/python3: numpy + scipy).

Builds a small synthetic labelled corpus with planted neurons (one fires on numbers, one is negative on
strings, one fires on keywords) plus noise neurons, random probe weights, and the expected results of:
  - LCA top neurons per class (docs/DESIGN.md: |w| descending, shortest prefix reaching p x total mass),
  - per-neuron mean / population std, top word types by mean z (positive, negative) and by mean |z|
    (NeuroX get_top_words, normalised by the best score), class means,
  - hypergeometric upper tails (scipy.stats.hypergeom.sf),
  - the concept scan (most significant concept among the top min(k, size) word types per direction).
Ties are broken the way the TypeScript does: lower index / first-seen word type first (stable sorts).

    /usr/bin/python3 scripts/reference/concepts_reference.py test/concepts/fixtures/reference.json
"""
import json
import sys

import numpy as np
from scipy.stats import hypergeom

rng = np.random.default_rng(20230501)
CLASSES = ["IDENT", "KEYWORD", "NUMBER", "STRING"]
VOCAB = {
    "IDENT": ["foo", "bar", "baz", "count", "name", "value", "list", "map", "item", "index", "size", "buf"],
    "KEYWORD": ["if", "for", "while", "return", "new", "throw"],
    "NUMBER": ["0", "1", "2", "10", "42", "3.5", "100", "7"],
    "STRING": ['"a"', '"hello"', '"x y"', '"id"', '"%s"'],
}
N_SENT, MIN_LEN, MAX_LEN, N_NEURONS, HIDDEN = 40, 4, 8, 16, 8
NUM_N, STR_N, KW_N = 3, 10, 13


def corpus():
    words, labels, sent, pos = [], [], [], []
    for s in range(N_SENT):
        for p in range(int(rng.integers(MIN_LEN, MAX_LEN + 1))):
            c = int(rng.choice(len(CLASSES), p=[0.5, 0.2, 0.15, 0.15]))
            words.append(str(rng.choice(VOCAB[CLASSES[c]])))
            labels.append(c)
            sent.append(s)
            pos.append(p)
    return words, np.array(labels), np.array(sent), np.array(pos)


def activations(labels):
    x = rng.normal(0, 1, size=(len(labels), N_NEURONS))
    x[:, NUM_N] += 3.0 * (labels == CLASSES.index("NUMBER"))
    x[:, STR_N] -= 3.0 * (labels == CLASSES.index("STRING"))
    x[:, KW_N] += 2.5 * (labels == CLASSES.index("KEYWORD"))
    # Round so that JSON round-trips exactly as float32 in both languages.
    return np.round(x, 4).astype(np.float32)


def lca(weights, p):
    out = {}
    for c, name in enumerate(CLASSES):
        a = np.abs(weights[:, c].astype(np.float64))
        order = np.argsort(-a, kind="stable")
        cum = np.cumsum(a[order])
        n = int(np.argmax(cum >= a.sum() * p)) + 1
        out[name] = [int(i) for i in order[:n]]
    return out


def word_types(words, labels):
    types, type_of = [], []
    index = {}
    for w in words:
        if w not in index:
            index[w] = len(types)
            types.append(w)
        type_of.append(index[w])
    type_of = np.array(type_of)
    label = []
    for t in range(len(types)):
        votes = np.bincount(labels[type_of == t], minlength=len(CLASSES))
        label.append(int(np.argmax(votes)))  # argmax: first maximum, like the TypeScript
    return types, type_of, label


def top_types(scores, k):
    order = np.argsort(-scores, kind="stable")
    return [int(t) for t in order[:k]]


def neuron_summary(col, types, type_of, labels):
    col = col.astype(np.float64)
    mean, std = col.mean(), col.std()
    z = (col - mean) / std
    nt = len(types)
    counts = np.bincount(type_of, minlength=nt)
    type_z = np.bincount(type_of, weights=z, minlength=nt) / counts
    type_abs = np.bincount(type_of, weights=np.abs(z), minlength=nt) / counts
    neurox = type_abs / type_abs.max()
    class_means = [float(col[labels == c].mean()) for c in range(len(CLASSES))]
    return {
        "mean": float(mean),
        "std": float(std),
        "positive": [[types[t], float(type_z[t])] for t in top_types(type_z, 5)],
        "negative": [[types[t], float(type_z[t])] for t in top_types(-type_z, 5)],
        "abs": [[types[t], float(type_abs[t]), float(neurox[t])] for t in top_types(type_abs, 5)],
        "classMeans": class_means,
    }, type_z


def concept_scan(type_z, type_label, k):
    """Per concept, compare its min(k, size) best types; keep the smallest p-value (ties: higher purity)."""
    n = len(type_label)
    base = [sum(1 for l in type_label if l == c) for c in range(len(CLASSES))]
    best = None
    for direction, scores in (("positive", type_z), ("negative", -type_z)):
        top = top_types(scores, k)
        for c in range(len(CLASSES)):
            m = min(k, base[c])
            if m == 0:
                continue
            hits = sum(1 for t in top[:m] if type_label[t] == c)
            p = float(hypergeom.sf(hits - 1, n, base[c], m))
            if best is None or p < best["pValue"] or (p == best["pValue"] and hits / m > best["hits"] / best["drawn"]):
                best = {"concept": CLASSES[c], "direction": direction, "hits": hits, "drawn": m, "pValue": p}
    return best


def main(out_path):
    words, labels, sent, pos = corpus()
    x = activations(labels)
    weights = np.round(rng.normal(0, 1, size=(N_NEURONS, len(CLASSES))), 4).astype(np.float32)
    weights[NUM_N, CLASSES.index("NUMBER")] = 6.0
    types, type_of, type_label = word_types(words, labels)
    neurons, scans = [], []
    for j in range(N_NEURONS):
        summary, type_z = neuron_summary(x[:, j], types, type_of, labels)
        neurons.append(summary)
        scans.append(concept_scan(type_z, type_label, 6))
    tails = []
    for (n, K, k, x_) in [(31, 8, 6, 5), (31, 8, 6, 0), (100, 10, 20, 7), (1000, 400, 20, 19), (12, 12, 6, 6)]:
        tails.append([n, K, k, x_, float(hypergeom.sf(x_ - 1, n, K, k))])
    fixture = {
        "classes": CLASSES,
        "hidden": HIDDEN,
        "words": words,
        "labels": labels.tolist(),
        "sentence": sent.tolist(),
        "position": pos.tolist(),
        "activations": x.tolist(),
        "weights": weights.tolist(),
        "planted": {"NUMBER": NUM_N, "STRING": STR_N, "KEYWORD": KW_N},
        "expected": {
            "types": types,
            "typeLabel": type_label,
            "lca": {"0.05": lca(weights, 0.05), "0.3": lca(weights, 0.3), "1": lca(weights, 1.0)},
            "neurons": neurons,
            "conceptScanK6": scans,
            "hypergeomTails": tails,
        },
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
