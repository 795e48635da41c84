#!/usr/bin/env python3
"""Baselines for `npm run bench:probe` (run by bench/probe.ts with OPENBLAS_* overrides unset).

Reads the problem that bench/probe.ts wrote as .npy files and trains probes the NeuroX way:
z-score with train statistics, torch.nn.Linear, loss = mean cross-entropy + l1*sum|W| + l2*||W||_F
(bias unpenalised), Adam(lr 1e-3), batches of 128 in file order (NeuroX's batch_generator does not
shuffle), at most 100 epochs, early stopping when the dev loss has not improved for 2 epochs (the best
dev epoch's weights are returned). Or scikit-learn's LogisticRegression(saga, elasticnet).

Prints one JSON object on the last stdout line. Timings cover what a user would wait for: z-scoring
and training (and the per-epoch dev evaluation that early stopping needs); the bookkeeping of training
objectives per epoch happens after the clock stops.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

GRID = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load(data_dir):
    out = {}
    for split in ("train", "valid", "test"):
        out[split] = (
            np.load(os.path.join(data_dir, f"X_{split}.npy"), mmap_mode="r"),
            np.load(os.path.join(data_dir, f"y_{split}.npy")).astype(np.int64),
        )
    return out


def standardize(data):
    x_train = np.asarray(data["train"][0], dtype=np.float32)
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std[std <= 1e-12 * np.maximum(1, np.abs(mean))] = 1.0
    mean = mean.astype(np.float32)
    inv = (1.0 / std).astype(np.float32)
    out = {}
    for split, (x, y) in data.items():
        xs = (np.asarray(x, dtype=np.float32) - mean) * inv
        out[split] = (torch.from_numpy(np.ascontiguousarray(xs)), torch.from_numpy(y))
    return out


def objective(w, b, x, y, l1, l2):
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(x @ w.T + b, y).item()
        return ce + l1 * w.abs().sum().item() + l2 * torch.sqrt((w * w).sum()).item(), ce


def accuracy(w, b, x, y):
    with torch.no_grad():
        return (torch.argmax(x @ w.T + b, dim=1) == y).double().mean().item()


def train_adam(data, classes, l1, l2, seed, max_epochs=100, patience=2, batch=128, lr=1e-3, epoch_seconds=None,
               dev_losses=None):
    """NeuroX's _train_probe loop plus dev-loss early stopping. Returns per-epoch weights too; appends
    each epoch's seconds (its dev evaluation included) to `epoch_seconds` and its dev loss to
    `dev_losses` when given."""
    torch.manual_seed(seed)
    x, y = data["train"]
    xv, yv = data["valid"]
    probe = torch.nn.Linear(x.shape[1], classes)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    crit = torch.nn.CrossEntropyLoss()
    best = (float("inf"), None, -1)
    since = 0
    epochs = []
    for epoch in range(max_epochs):
        t_epoch = time.perf_counter()
        for start in range(0, x.shape[0], batch):
            xb = x[start : start + batch]
            yb = y[start : start + batch]
            opt.zero_grad()
            w = probe.weight
            loss = crit(probe(xb), yb) + l1 * w.abs().sum() + l2 * torch.sqrt((w * w).sum())
            loss.backward()
            opt.step()
        with torch.no_grad():
            dev_loss = crit(probe(xv), yv).item()
        snapshot = (probe.weight.detach().clone(), probe.bias.detach().clone())
        epochs.append(snapshot)
        if epoch_seconds is not None:
            epoch_seconds.append(time.perf_counter() - t_epoch)
        if dev_losses is not None:
            dev_losses.append(dev_loss)
        log(f"  adam l1={l1:g} l2={l2:g} epoch {epoch + 1}: dev loss {dev_loss:.4f}")
        if dev_loss < best[0]:
            best = (dev_loss, snapshot, epoch)
            since = 0
        else:
            since += 1
            if since >= patience:
                break
    return best[1], best[2], epochs


def evaluate(data, w, b, l1, l2):
    x, y = data["train"]
    obj, ce = objective(w, b, x, y, l1, l2)
    return {
        "objective": obj,
        "loss": ce,
        "train_acc": accuracy(w, b, x, y),
        "dev_acc": accuracy(w, b, *data["valid"]),
        "test_acc": accuracy(w, b, *data["test"]),
    }


def adam_fit(raw, classes, l1, l2, seed, max_epochs, patience):
    t0 = time.perf_counter()
    data = standardize(raw)
    (w, b), best_epoch, epochs = train_adam(data, classes, l1, l2, seed, max_epochs, patience)
    seconds = time.perf_counter() - t0
    result = evaluate(data, w, b, l1, l2)
    x, y = data["train"]
    per_epoch = [objective(ew, eb, x, y, l1, l2)[0] for ew, eb in epochs]
    result.update(
        seconds=seconds,
        epochs=len(epochs),
        best_epoch=best_epoch + 1,
        min_objective=min(per_epoch),
        lambda1=l1,
        lambda2=l2,
    )
    return result


def adam_grid(raw, classes, seed, max_epochs, patience, subset):
    """NeuroX-style grid search: every point trained from scratch; lambdas chosen by dev accuracy."""
    t0 = time.perf_counter()
    data = standardize(raw)
    points = [(l1, l2) for l1 in GRID for l2 in GRID]
    if subset <= 0 or subset >= len(points):
        chosen = points
    else:  # spread over the grid (subset 6: the diagonal)
        chosen = [points[round(i * (len(points) - 1) / max(1, subset - 1))] for i in range(subset)]
    rows = []
    for i, (l1, l2) in enumerate(chosen):
        t1 = time.perf_counter()
        (w, b), best_epoch, epochs = train_adam(data, classes, l1, l2, seed, max_epochs, patience)
        dev_acc = accuracy(w, b, *data["valid"])
        rows.append({"lambda1": l1, "lambda2": l2, "dev_acc": dev_acc, "epochs": len(epochs),
                     "seconds": time.perf_counter() - t1, "w": w, "b": b})
        log(f"adam grid {i + 1}/{len(chosen)} l1={l1:g} l2={l2:g} epochs={len(epochs)} dev_acc={dev_acc:.4f}"
            f" {rows[-1]['seconds']:.1f}s")
    seconds = time.perf_counter() - t0
    best = max(rows, key=lambda r: r["dev_acc"])
    test_acc = accuracy(best["w"], best["b"], *data["test"])
    return {
        "seconds": seconds,
        "points": len(chosen),
        "extrapolated_seconds": seconds * len(points) / len(chosen),
        "best": {"lambda1": best["lambda1"], "lambda2": best["lambda2"], "dev_acc": best["dev_acc"],
                 "test_acc": test_acc},
        "grid": [{k: v for k, v in r.items() if k not in ("w", "b")} for r in rows],
    }


def sklearn_fit(raw, l1, max_iter):
    """One LogisticRegression(saga, elasticnet) fit with the L1 strength mapped to mean-loss units."""
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    data = standardize(raw)
    x, y = data["train"]
    n = x.shape[0]
    l1_ratio = 0.9
    # sklearn minimises C*sum(CE) + l1_ratio*|w|_1 + (1-l1_ratio)/2*|w|^2; dividing by C*n gives mean CE
    # + l1_ratio/(C n) |w|_1 + ..., so C = l1_ratio / (n * l1) makes the L1 weight equal to l1.
    clf = LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=l1_ratio, C=l1_ratio / (n * l1),
                             max_iter=max_iter, tol=1e-4)
    clf.fit(x.numpy(), y.numpy())
    seconds = time.perf_counter() - t0
    xt, yt = data["test"]
    return {"seconds": seconds, "n_iter": int(np.max(clf.n_iter_)), "max_iter": max_iter,
            "test_acc": float(clf.score(xt.numpy(), yt.numpy())), "lambda1": l1, "l1_ratio": l1_ratio}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["fit", "grid", "sklearn"])
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--l1", type=float, default=1e-3)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--subset", type=int, default=0, help="grid: time only this many points and extrapolate")
    p.add_argument("--max-iter", type=int, default=100, help="sklearn: epochs of saga")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    raw = load(a.data)
    classes = int(raw["train"][1].max()) + 1
    if a.mode == "fit":
        out = adam_fit(raw, classes, a.l1, a.l2, a.seed, a.max_epochs, a.patience)
    elif a.mode == "grid":
        out = adam_grid(raw, classes, a.seed, a.max_epochs, a.patience, a.subset)
    else:
        out = sklearn_fit(raw, a.l1, a.max_iter)
    out.update(mode=a.mode, threads=torch.get_num_threads(),
               openblas_env=[k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
