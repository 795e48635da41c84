"""Masked-language-model pieces shared by train_bundled_model.py and verify_bundled_model.py.

The model itself is scripts/reference/hf_models.py's RobertaForMaskedLM (Hugging Face parameter names);
this module adds the corpus reading, word kinds, masking, evaluation and the safetensors reader.
"""
import json
import os
import random
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import hf_models  # noqa: E402
from hf_models import RobertaForMaskedLM  # noqa: E402

BOS, PAD, EOS, UNK, MASK = 0, 1, 2, 3, 4
N_SPECIAL = 5

JAVA_KEYWORDS = frozenset(
    """abstract assert boolean break byte case catch char class const continue default do double else enum
    extends final finally float for goto if implements import instanceof int interface long native new
    package private protected public return short static strictfp super switch synchronized this throw
    throws transient try void volatile while true false null var record yield sealed permits""".split()
)
KINDS = ("identifier", "keyword", "punctuation", "number", "string")


def read_lines(path):
    """The corpus lines as lists of words. Lines are words joined by single spaces with a trailing space."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip(" ")
            if not line:
                continue
            words = line.split(" ")
            if "" in words:
                raise ValueError(f"{path}:{number}: words must be separated by single spaces")
            out.append(words)
    return out


def word_kind(word):
    """A coarse kind of a javalang token, for reporting accuracy per kind."""
    if word in JAVA_KEYWORDS:
        return "keyword"
    first = word[0]
    if first in "\"'":
        return "string"
    if first.isdigit() or (first == "." and len(word) > 1 and word[1].isdigit()):
        return "number"
    if first.isalpha() or first in "_$":
        return "identifier"
    return "punctuation"


def build_model(cfg):
    """RobertaForMaskedLM with transformers' initialisation (normal(0, 0.02), zero biases, zero pad row)."""
    model = RobertaForMaskedLM(cfg)
    std = cfg["initializer_range"]
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=std)
            torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)
    return model


def pad_batch(sequences):
    """input ids [B, S] padded with <pad>, and the attention mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), PAD, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, (ids != PAD).long()


def masked_logits(model, ids, attention, positions):
    """LM-head logits only at the selected positions (the head is the costly part over a large vocab)."""
    hidden, _ = model.roberta(ids, attention)
    return model.lm_head(hidden[-1][positions])


# ------------------------------------------------------------------------------------------ evaluation
def eval_set(lines_ids, lines_kinds, seed, n_lines, rate=0.15):
    """A fixed masking of n_lines sampled lines: every chosen token becomes <mask> (no 80/10/10 here)."""
    rnd = random.Random(seed)
    chosen = sorted(rnd.sample(range(len(lines_ids)), min(n_lines, len(lines_ids))))
    items = []
    for i in chosen:
        ids, kinds = lines_ids[i], lines_kinds[i]
        picks = [j for j in range(len(ids)) if rnd.random() < rate] or [rnd.randrange(len(ids))]
        items.append((ids, kinds, picks))
    return items


def evaluate(model, items, unigram_id, batch_tokens=4096):
    """Masked-token accuracy (top-1, top-5), overall and per word kind, beside the unigram baseline."""
    model.eval()
    stats = {k: [0, 0, 0, 0] for k in ("all",) + KINDS}  # masked, top1, top5, unigram hits
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    with torch.no_grad():
        for batch in _length_batches(order, lambda i: len(items[i][0]) + 2, batch_tokens):
            seqs, targets, kinds, where = [], [], [], []
            for row, i in enumerate(batch):
                ids, line_kinds, picks = items[i]
                seq = [BOS] + list(ids) + [EOS]
                for j in picks:
                    seq[j + 1] = MASK
                    targets.append(ids[j])
                    kinds.append(line_kinds[j])
                    where.append((row, j + 1))
                seqs.append(seq)
            ids_t, att = pad_batch(seqs)
            rows = torch.tensor([w[0] for w in where])
            cols = torch.tensor([w[1] for w in where])
            positions = torch.zeros_like(ids_t, dtype=torch.bool)
            positions[rows, cols] = True
            # Boolean indexing returns positions in row-major order, which is the order of `where`.
            logits = masked_logits(model, ids_t, att, positions)
            top5 = logits.topk(5, dim=-1).indices
            tgt = torch.tensor(targets)
            hit1 = (top5[:, 0] == tgt).tolist()
            hit5 = (top5 == tgt[:, None]).any(dim=-1).tolist()
            for t, k, h1, h5 in zip(targets, kinds, hit1, hit5):
                for key in ("all", k):
                    s = stats[key]
                    s[0] += 1
                    s[1] += int(h1)
                    s[2] += int(h5)
                    s[3] += int(t == unigram_id)
    model.train()
    return {
        k: {"masked": s[0], "accuracy": s[1] / max(s[0], 1), "top5_accuracy": s[2] / max(s[0], 1), "unigram_accuracy": s[3] / max(s[0], 1)}
        for k, s in stats.items()
    }


def _length_batches(order, length_of, batch_tokens):
    """Consecutive runs of `order` whose padded size (count × longest) stays within batch_tokens."""
    batch, longest = [], 0
    for i in order:
        n = length_of(i)
        if batch and max(longest, n) * (len(batch) + 1) > batch_tokens:
            yield batch
            batch, longest = [], 0
        batch.append(i)
        longest = max(longest, n)
    if batch:
        yield batch


# ------------------------------------------------------------------------------------------ safetensors
SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """Tensors of a safetensors file as float32/int torch tensors (Debian has no `safetensors` package)."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(blob[base + start : base + end], dtype=SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32) if arr.dtype == np.float16 else arr.copy())
    return out, header.get("__metadata__", {})
