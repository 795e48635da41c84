#!/usr/bin/env python3
"""Reference fixtures for test/probe and test/rank (run with Debian's /usr/bin/python3: torch, numpy,
scipy, scikit-learn). Python only generates fixtures; it never runs in tests or CI.

    /usr/bin/python3 scripts/reference/probe_reference.py [--out test/fixtures/probe]

Writes:
  probe_problem.json  a small 4-class problem (base64 float32 matrices) and, per (l1, l2):
                      - "adam": a NeuroX-style probe (torch.nn.Linear, mean CE + l1*sum|W| + l2*||W||_F,
                        Adam lr 1e-3, batch 128 in file order, <= 100 epochs, early stopping when the dev
                        loss has not improved for 2 epochs, best epoch restored);
                      - "optimum": the exact minimiser of the same objective (float64 FISTA with the exact
                        prox of l1*|.|_1 + l2*||.||_F, run to convergence), its objective and accuracies.
  regression.json     a small linear regression problem and the optimum of MSE + l1*|w|_1 + l2*||w||_2.
  lca.json            LCA top neurons / orderings (direct numpy implementation of docs/DESIGN.md) for given weights.
  probeless.json      probeless scores and orderings (Antverg & Belinkov 2022) for a small matrix.
  metrics.json        scikit-learn accuracy / precision / recall / F1 / confusion matrix on random predictions.
"""
import argparse
import base64
import itertools
import json
import os

import numpy as np
import torch
from sklearn import metrics as skm

GRID_POINTS = [(0.0, 0.0), (1e-3, 0.0), (1e-4, 1e-3), (1e-2, 1e-2), (1e-3, 0.1)]


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.float32).tobytes()).decode("ascii")


def zscore(train, *others):
    mean = train.mean(axis=0, dtype=np.float64)
    std = train.std(axis=0, dtype=np.float64)
    std[std <= 1e-12 * np.maximum(1, np.abs(mean))] = 1.0
    f = lambda x: ((x.astype(np.float64) - mean) / std)
    return [f(train)] + [f(o) for o in others], mean, std


# ---------------------------------------------------------------- probe problem
def make_problem(rng, n_per_class, d, k):
    means = rng.normal(0, 0.45, size=(k, d)) * (rng.random(d) < 0.6)
    mix = rng.normal(0, 1, size=(d, d)) / np.sqrt(d)
    mix += np.eye(d)
    def split(m):
        y = np.repeat(np.arange(k), m)
        rng.shuffle(y)
        noise = rng.normal(0, 1, size=(len(y), d)) @ mix
        x = 3.0 + 2.0 * (means[y] + noise)
        return x.astype(np.float32), y
    return split(n_per_class[0]), split(n_per_class[1]), split(n_per_class[2])


def ce_objective(w, b, x, y, l1, l2):
    z = x @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    ce = float(np.mean(lse - z[np.arange(len(y)), y]))
    return ce + l1 * np.abs(w).sum() + l2 * np.sqrt((w * w).sum()), ce


def ce_grad(w, b, x, y):
    z = x @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    p /= len(y)
    return p.T @ x, p.sum(axis=0)


def prox(v, t, l1, l2):
    s = np.sign(v) * np.maximum(np.abs(v) - t * l1, 0)
    n = np.sqrt((s * s).sum())
    return s * max(0.0, 1 - t * l2 / n) if n > 0 else s


def fista(grad, obj_smooth, w0, b0, l1, l2, iters=60000, tol=1e-15):
    """Accelerated proximal gradient with backtracking and adaptive restart, float64."""
    w, b = w0.copy(), b0.copy()
    yw, yb = w.copy(), b.copy()
    t, L = 1.0, 1.0
    f_prev = np.inf
    for it in range(iters):
        gw, gb = grad(yw, yb)
        fy = obj_smooth(yw, yb)
        while True:
            nw = prox(yw - gw / L, 1 / L, l1, l2)
            nb = yb - gb / L
            dw, db = nw - yw, nb - yb
            if obj_smooth(nw, nb) <= fy + (gw * dw).sum() + (gb * db).sum() + L / 2 * ((dw * dw).sum() + (db * db).sum()) + 1e-15:
                break
            L *= 2
        F = obj_smooth(nw, nb) + l1 * np.abs(nw).sum() + l2 * np.sqrt((nw * nw).sum())
        if F > f_prev:  # adaptive restart
            t = 1.0
            yw, yb = w.copy(), b.copy()
            continue
        tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
        yw = nw + (t - 1) / tn * (nw - w)
        yb = nb + (t - 1) / tn * (nb - b)
        if abs(f_prev - F) <= tol * max(1.0, abs(F)) and it > 100:
            w, b = nw, nb
            break
        w, b, t, f_prev = nw, nb, tn, F
        L /= 1.5
    return w, b


def adam_probe(x, y, xv, yv, k, l1, l2, seed=0, max_epochs=100, patience=2, batch=128, lr=1e-3):
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)
    xvt, yvt = torch.from_numpy(xv.astype(np.float32)), torch.from_numpy(yv)
    probe = torch.nn.Linear(x.shape[1], k)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    crit = torch.nn.CrossEntropyLoss()
    best, best_state, since, epochs, objectives = np.inf, None, 0, 0, []
    for epoch in range(max_epochs):
        for s in range(0, len(yt), batch):
            opt.zero_grad()
            wt = probe.weight
            loss = crit(probe(xt[s:s + batch]), yt[s:s + batch]) + l1 * wt.abs().sum() + l2 * torch.sqrt((wt * wt).sum())
            loss.backward()
            opt.step()
        epochs += 1
        w = probe.weight.detach().double().numpy()
        bb = probe.bias.detach().double().numpy()
        objectives.append(ce_objective(w, bb, x, y, l1, l2)[0])
        with torch.no_grad():
            dl = crit(probe(xvt), yvt).item()
        if dl < best:
            best, best_state, since = dl, (w.copy(), bb.copy()), 0
        else:
            since += 1
            if since >= patience:
                break
    return best_state[0], best_state[1], epochs, min(objectives)


def acc(w, b, x, y):
    return float(np.mean(np.argmax(x @ w.T + b, axis=1) == y))


def probe_fixture(rng):
    k, d = 4, 10
    (x, y), (xv, yv), (xt, yt) = make_problem(rng, (400, 100, 250), d, k)
    (zs, zv, zt), mean, std = zscore(x, xv, xt)
    points = []
    for l1, l2 in GRID_POINTS:
        aw, ab, epochs, amin = adam_probe(zs, y, zv, yv, k, l1, l2)
        counts = np.bincount(y, minlength=k)
        b0 = np.log(counts / counts.sum())
        smooth = lambda w, b: ce_objective(w, b, zs, y, 0, 0)[1]
        ow, ob = fista(lambda w, b: ce_grad(w, b, zs, y), smooth, np.zeros((k, d)), b0, l1, l2)
        aobj = ce_objective(aw, ab, zs, y, l1, l2)
        oobj = ce_objective(ow, ob, zs, y, l1, l2)
        points.append({
            "lambda1": l1, "lambda2": l2,
            "adam": {"objective": aobj[0], "min_objective": amin, "epochs": epochs,
                     "train_acc": acc(aw, ab, zs, y), "dev_acc": acc(aw, ab, zv, yv), "test_acc": acc(aw, ab, zt, yt)},
            "optimum": {"objective": oobj[0], "loss": oobj[1], "weights": ow.tolist(), "bias": ob.tolist(),
                        "train_acc": acc(ow, ob, zs, y), "dev_acc": acc(ow, ob, zv, yv), "test_acc": acc(ow, ob, zt, yt),
                        "nonzero": int(np.sum(ow != 0))},
        })
    return {
        "classes": k, "inputs": d,
        "train": {"rows": len(y), "x": b64(x), "y": y.tolist()},
        "valid": {"rows": len(yv), "x": b64(xv), "y": yv.tolist()},
        "test": {"rows": len(yt), "x": b64(xt), "y": yt.tolist()},
        "standardizer": {"mean": mean.tolist(), "std": std.tolist()},
        "points": points,
    }


def regression_fixture(rng):
    n, d = 200, 8
    x = (rng.normal(0, 1, size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(0, 2, size=d)).astype(np.float32)
    beta = np.array([1.5, 0, -2, 0, 0.5, 0, 0, 3.0])
    t = (x.astype(np.float64) @ beta + 0.7 + rng.normal(0, 0.5, size=n)).astype(np.float32)
    (zs,), mean, std = zscore(x)
    tt = t.astype(np.float64)
    points = []
    for l1, l2 in [(0.0, 0.0), (1e-2, 0.0), (0.1, 0.1)]:
        def smooth(w, b):
            r = zs @ w.T + b - tt[:, None]
            return float(np.mean(r * r))
        def grad(w, b):
            r = zs @ w.T + b - tt[:, None]
            g = 2 * r / n
            return g.T @ zs, g.sum(axis=0)
        ow, ob = fista(grad, smooth, np.zeros((1, d)), np.array([tt.mean()]), l1, l2)
        obj = smooth(ow, ob) + l1 * np.abs(ow).sum() + l2 * np.sqrt((ow * ow).sum())
        points.append({"lambda1": l1, "lambda2": l2, "objective": obj, "weights": ow[0].tolist(), "bias": float(ob[0])})
    return {"rows": n, "inputs": d, "x": b64(x), "y": t.tolist(), "points": points}


# ---------------------------------------------------------------- rankings
def order_desc(a):
    return np.argsort(-a, kind="stable")


def top_neurons(w, p, bottom=False):
    """docs/DESIGN.md's topNeurons with the tie rules of src/rank/lca.ts, written directly."""
    aw = np.abs(w.astype(np.float64))
    per_class = []
    for c in range(aw.shape[0]):
        order = np.argsort(aw[c], kind="stable") if bottom else order_desc(aw[c])
        cum = np.cumsum(aw[c, order])
        hits = np.nonzero(cum >= p * cum[-1])[0]
        n = hits[0] + 1 if len(hits) else len(order)
        per_class.append(order[:n].tolist())
    union = sorted(set(itertools.chain.from_iterable(per_class)))
    return union, per_class


def neuron_ordering(w, stride, bottom=False):
    aw = np.abs(w.astype(np.float64))
    totals = np.array([np.cumsum(aw[c, order_desc(aw[c])])[-1] for c in range(aw.shape[0])])
    share = np.zeros(aw.shape[1])
    for c in range(aw.shape[0]):
        if totals[c] > 0:
            share = np.maximum(share, aw[c] / totals[c])
    seen, ordering, cutoffs = set(), [], []
    for i in range(stride + 1):
        union, _ = top_neurons(w, i / stride, bottom)
        fresh = [j for j in union if j not in seen]
        fresh.sort(key=lambda j: ((share[j] if bottom else -share[j]), j))
        ordering += fresh
        seen.update(fresh)
        cutoffs.append(len(ordering))
    rest = [j for j in range(aw.shape[1]) if j not in seen]  # zero weight in every class: last
    if rest:
        ordering += rest
        cutoffs.append(len(ordering))
    return ordering, cutoffs


def lca_fixture(rng):
    k, d = 5, 60
    w = rng.normal(0, 1, size=(k, d)) * (rng.random((k, d)) < 0.6)
    w[1, :] = np.round(w[1, :], 1)  # many ties in one class
    w[3, :] = 0.0  # a class with no weight mass
    w = w.astype(np.float32)
    ps = [0.0, 0.05, 0.3, 0.5, 0.9, 1.0]
    tops = [{"p": p, "union": top_neurons(w, p)[0], "perClass": top_neurons(w, p)[1]} for p in ps]
    bottoms = [{"p": p, "union": top_neurons(w, p, True)[0], "perClass": top_neurons(w, p, True)[1]} for p in ps]
    orderings = []
    for stride in (10, 100):
        o, c = neuron_ordering(w, stride)
        ob, cb = neuron_ordering(w, stride, bottom=True)
        orderings.append({"stride": stride, "ordering": o, "cutoffs": c, "bottomOrdering": ob, "bottomCutoffs": cb})
    return {"classes": k, "neurons": d, "weights": b64(w), "top": tops, "bottom": bottoms, "orderings": orderings}


def probeless_fixture(rng):
    n, d, k = 150, 30, 5
    y = rng.integers(0, k - 1, size=n)  # class k-1 never occurs
    x = (rng.normal(0, 1, size=(n, d)) + np.outer(y, rng.normal(0, 0.3, size=d))).astype(np.float32)
    xd = x.astype(np.float64)
    present = [c for c in range(k) if np.any(y == c)]
    means = {c: xd[y == c].mean(axis=0) for c in present}
    overall = np.zeros(d)
    for a, b in itertools.combinations(present, 2):
        overall += np.abs(means[a] - means[b])
    per_class = []
    for c in range(k):
        s = np.zeros(d)
        if c in means:
            for o in present:
                if o != c:
                    s += np.abs(means[c] - means[o])
        per_class.append({"scores": s.tolist(), "ordering": order_desc(s).tolist()})
    return {"rows": n, "cols": d, "classes": k, "x": b64(x), "y": y.tolist(),
            "scores": overall.tolist(), "ordering": order_desc(overall).tolist(), "perClass": per_class}


def metrics_fixture(rng):
    k, n = 5, 300
    yt = rng.integers(0, k, size=n)
    yp = np.where(rng.random(n) < 0.6, yt, rng.integers(0, k - 1, size=n))  # class 4 rarely predicted
    yp[yp == 4] = 0  # never predicted
    labels = list(range(k))
    p, r, f, s = skm.precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    bt = rng.integers(0, 2, size=80)
    bp = np.where(rng.random(80) < 0.7, bt, 1 - bt)
    return {
        "classes": k, "yTrue": yt.tolist(), "yPred": yp.tolist(),
        "accuracy": skm.accuracy_score(yt, yp),
        "macroF1": skm.f1_score(yt, yp, labels=labels, average="macro", zero_division=0),
        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
        "confusion": skm.confusion_matrix(yt, yp, labels=labels).tolist(),
        "binary": {"yTrue": bt.tolist(), "yPred": bp.tolist(), "f1": skm.f1_score(bt, bp),
                   "accuracy": skm.accuracy_score(bt, bp)},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join("test", "fixtures", "probe"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    makers = {"probe_problem": probe_fixture, "regression": regression_fixture, "lca": lca_fixture,
              "probeless": probeless_fixture, "metrics": metrics_fixture}
    for i, (name, make) in enumerate(makers.items()):
        data = make(np.random.default_rng(1000 + i))
        data["generator"] = "scripts/reference/probe_reference.py"
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump(data, f)
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
