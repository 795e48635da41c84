#!/usr/bin/env python3
"""Baseline for `npm run bench:probe-llm` (run by bench/probe-llm.ts): one probe fit by the reference
PyTorch trainer (bench/probe_baseline.py's train_adam: NeuroX's loop, Adam lr 1e-3, batches of 128 in
file order, at most 100 epochs, dev-loss patience 2) on an activation store as wide as a 7B model's
residual stream.

Reads the store itself (each split's index.json and its safetensors shards, float16) into one float32
matrix per split, filled in place, and z-scores it in place by column blocks with float64 statistics
(the trainer's own standardize() would hold two float32 copies, which at 135,168 neurons do not fit
next to the benchmark). Labels come from the task's TSVs (the store rows in task order).

Trains `--epochs N` epochs with early stopping off, so that one run gives both figures the benchmark
prints: the reference trainer's own result (its dev-loss early stopping with patience 2 replayed on
the epochs' dev losses: the epochs it would have run, their seconds, the epoch it would return) and
the trajectory (each epoch's dev and test accuracy), from which the time Adam needs to reach a given
dev accuracy is read. The clock covers reading, z-scoring and the epochs with their dev loss (what
the reference trainer computes); accuracies per epoch are evaluated from the epochs' weights after it
stops. Prints one JSON object on the last stdout line.
"""
import argparse
import csv
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe_baseline import accuracy, log, objective, train_adam  # noqa: E402

SPLITS = ("train", "valid", "test")
COLUMN_BLOCK = 4096


def read_safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), 8 + n


def read_split(store_dir):
    """The split's activations [rows, layers × width] as float32, every hidden layer in order."""
    with open(os.path.join(store_dir, "index.json")) as f:
        index = json.load(f)
    layers = index["settings"]["layers"]
    rows = index["counts"]["rows"]
    width = index["model"]["hidden"]
    x = np.empty((rows, len(layers) * width), dtype=np.float32)
    for shard in index["shards"]:
        path = os.path.join(store_dir, "shards", f"{shard['id']:05d}.safetensors")
        header, base = read_safetensors_header(path)
        first, end = shard["firstRow"], shard["endRow"]
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        for i, layer in enumerate(layers):
            t = header[f"hidden.{layer}"]
            if t["dtype"] != "F16" or t["shape"] != [end - first, width]:
                raise ValueError(f"{path}: hidden.{layer} is {t['dtype']} {t['shape']}")
            a, b = t["data_offsets"]
            block = raw[base + a : base + b].view(np.float16).reshape(end - first, width)
            x[first:end, i * width : (i + 1) * width] = block
        del raw
    return x


def read_labels(task_dir, split, classes=None):
    with open(os.path.join(task_dir, f"{split}.tsv"), newline="") as f:
        labels = [row["label"] for row in csv.DictReader(f, delimiter="\t")]
    classes = classes or sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[label] for label in labels], dtype=np.int64), classes


def standardize_in_place(splits):
    """z-scores every split with the training statistics, a block of columns at a time (float64 stats;
    a constant column keeps scale 1, as in probe_baseline.standardize)."""
    train = splits["train"]
    for c0 in range(0, train.shape[1], COLUMN_BLOCK):
        c1 = min(train.shape[1], c0 + COLUMN_BLOCK)
        block = train[:, c0:c1].astype(np.float64)
        mean = block.mean(axis=0)
        std = block.std(axis=0)
        std[std <= 1e-12 * np.maximum(1, np.abs(mean))] = 1.0
        mean32, inv32 = mean.astype(np.float32), (1.0 / std).astype(np.float32)
        for x in splits.values():
            x[:, c0:c1] -= mean32
            x[:, c0:c1] *= inv32


def replay_early_stopping(dev_losses, patience):
    """The epochs train_adam would run with this patience, and the epoch it would return (0-based)."""
    best, best_epoch, since = float("inf"), -1, 0
    for epoch, loss in enumerate(dev_losses):
        if loss < best:
            best, best_epoch, since = loss, epoch, 0
        else:
            since += 1
            if since >= patience:
                return epoch + 1, best_epoch
    return len(dev_losses), best_epoch


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", required=True, help="directory with train/ valid/ test/ stores")
    p.add_argument("--task", required=True, help="directory with train.tsv valid.tsv test.tsv")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--l1", type=float, default=1e-5)
    p.add_argument("--l2", type=float, default=1e-5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=2, help="the reference trainer's, replayed")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    t0 = time.perf_counter()
    xs = {split: read_split(os.path.join(a.store, split)) for split in SPLITS}
    read_seconds = time.perf_counter() - t0
    y_train, classes = read_labels(a.task, "train")
    ys = {"train": y_train}
    for split in ("valid", "test"):
        ys[split], _ = read_labels(a.task, split, classes)
    for split in SPLITS:
        if len(ys[split]) != xs[split].shape[0]:
            raise ValueError(f"{split}: {len(ys[split])} labels for {xs[split].shape[0]} rows")
    t1 = time.perf_counter()
    standardize_in_place(xs)
    standardize_seconds = time.perf_counter() - t1
    log(f"read {read_seconds:.1f} s, z-scored {standardize_seconds:.1f} s: {xs['train'].shape}")
    data = {split: (torch.from_numpy(xs[split]), torch.from_numpy(ys[split])) for split in SPLITS}

    epoch_seconds, dev_loss = [], []
    # Early stopping off (patience beyond the epochs): every epoch runs; the reference's stop is replayed.
    _, _, epochs = train_adam(
        data,
        len(classes),
        a.l1,
        a.l2,
        a.seed,
        a.epochs,
        a.epochs + 1,
        epoch_seconds=epoch_seconds,
        dev_losses=dev_loss,
    )
    dev_acc = [accuracy(w, b, *data["valid"]) for w, b in epochs]
    test_acc = [accuracy(w, b, *data["test"]) for w, b in epochs]
    ran, chosen = replay_early_stopping(dev_loss, a.patience)
    x, y = data["train"]
    setup = read_seconds + standardize_seconds
    out = {
        "setup_seconds": setup,
        "read_seconds": read_seconds,
        "standardize_seconds": standardize_seconds,
        "epoch_seconds": epoch_seconds,
        "dev_loss": dev_loss,
        "dev_acc": dev_acc,
        "test_acc": test_acc,
        "reference": {
            "patience": a.patience,
            "epochs": ran,
            "stopped_early": ran < len(epochs),
            "best_epoch": chosen + 1,
            "seconds": setup + sum(epoch_seconds[:ran]),
            "objective": objective(*epochs[chosen], x, y, a.l1, a.l2)[0],
            "dev_acc": dev_acc[chosen],
            "test_acc": test_acc[chosen],
        },
        "neurons": int(x.shape[1]),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "lambda1": a.l1,
        "lambda2": a.l2,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
