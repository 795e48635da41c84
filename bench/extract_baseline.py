"""PyTorch baselines for bench:extract, run on the same model, thread count and subword inputs as ours.

(a) neurox: the way NeuroX extracts — one sentence at a time through the model with all hidden
    states, then word-level averaging over subwords in numpy.
(b) batched: PyTorch's fastest batched inference path — nn.TransformerEncoderLayer (norm_first=False,
    GELU, batch_first) with BERT's weights copied in, torch.inference_mode, batches sorted by length
    and filled up to a number of padded tokens, key-padding masks; word averaging done in torch.

Input: a JSON file written by bench/extract.ts with each sentence's subword ids (special tokens
included) and each word's [begin, end) span.

The process loads the model once and then serves requests on stdin, one a line, so that the bench can
alternate its runs with ours (both then see the same background load):
    batched TOKENS [N]    one timed run of (b) with batches of at most TOKENS padded tokens (over the
                          first N sentences; default all)
    neurox SENTENCES      one timed run of (a) over the first SENTENCES sentences
answering each with one JSON line on stdout (seconds and counts); it prints "ready" once loaded.
Usage: python3 extract_baseline.py MODEL_DIR INPUT_JSON THREADS
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "reference"))
import hf_models  # noqa: E402


def load_safetensors(path):
    import struct

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        assert e["dtype"] == "F32"
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=np.float32).copy()).view(*e["shape"])
    return out


def load_bert(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    model = hf_models.BertModel(cfg)
    state = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in load_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
    model.load_state_dict(state, strict=False)
    return model.eval(), cfg


def neurox_mode(model, sentences):
    """One sentence at a time, all hidden states, numpy averaging per word."""
    words = 0
    with torch.no_grad():
        for s in sentences:
            ids = torch.tensor([s["ids"]])
            hidden, _ = model(ids)
            layers = np.stack([h[0].numpy() for h in hidden])  # [L+1, seq, hidden]
            out = np.zeros((len(s["spans"]), layers.shape[0], layers.shape[2]), dtype=np.float32)
            for w, (b, e) in enumerate(s["spans"]):
                out[w] = layers[:, b:e, :].mean(axis=1)
            words += len(s["spans"])
    return words


def encoder_stack(model, cfg):
    """nn.TransformerEncoderLayer copies of the BERT blocks (post-norm, GELU), inference fast path."""
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    layers = []
    for blk in model.encoder.layer:
        layer = nn.TransformerEncoderLayer(h, heads, cfg["intermediate_size"], dropout=0.0, activation="gelu",
                                           layer_norm_eps=cfg["layer_norm_eps"], batch_first=True, norm_first=False)
        a = blk.attention.self
        layer.self_attn.in_proj_weight.data = torch.cat([a.query.weight, a.key.weight, a.value.weight]).detach().clone()
        layer.self_attn.in_proj_bias.data = torch.cat([a.query.bias, a.key.bias, a.value.bias]).detach().clone()
        layer.self_attn.out_proj.weight.data = blk.attention.output.dense.weight.detach().clone()
        layer.self_attn.out_proj.bias.data = blk.attention.output.dense.bias.detach().clone()
        layer.norm1.weight.data = blk.attention.output.LayerNorm.weight.detach().clone()
        layer.norm1.bias.data = blk.attention.output.LayerNorm.bias.detach().clone()
        layer.linear1.weight.data = blk.intermediate.dense.weight.detach().clone()
        layer.linear1.bias.data = blk.intermediate.dense.bias.detach().clone()
        layer.linear2.weight.data = blk.output.dense.weight.detach().clone()
        layer.linear2.bias.data = blk.output.dense.bias.detach().clone()
        layer.norm2.weight.data = blk.output.LayerNorm.weight.detach().clone()
        layer.norm2.bias.data = blk.output.LayerNorm.bias.detach().clone()
        layers.append(layer.eval())
    return layers


def make_batches(sentences, batch_tokens):
    """Sorted by length, each batch filled while its padded size stays within batch_tokens."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]["ids"]))
    batches, cur = [], []
    for i in order:
        longest = max([len(sentences[j]["ids"]) for j in cur] + [len(sentences[i]["ids"])])
        if cur and longest * (len(cur) + 1) > batch_tokens:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def batched_mode(model, layers, sentences, batch_tokens):
    batches = make_batches(sentences, batch_tokens)
    words = 0
    padded = 0
    with torch.inference_mode():
        for batch in batches:
            seq = max(len(sentences[i]["ids"]) for i in batch)
            padded += seq * len(batch)
            ids = torch.zeros(len(batch), seq, dtype=torch.long)
            pad = torch.ones(len(batch), seq, dtype=torch.bool)
            for r, i in enumerate(batch):
                s = sentences[i]["ids"]
                ids[r, : len(s)] = torch.tensor(s)
                pad[r, : len(s)] = False
            x = model.embeddings(ids, torch.arange(seq).unsqueeze(0).expand_as(ids), torch.zeros_like(ids))
            hidden = [x]
            for layer in layers:
                x = layer(x, src_key_padding_mask=pad)
                if x.is_nested:
                    x = x.to_padded_tensor(0.0, (len(batch), seq, x.size(-1)))
                hidden.append(x)
            stacked = torch.stack(hidden, dim=1)  # [b, L+1, seq, h]
            for r, i in enumerate(batch):
                for (b, e) in sentences[i]["spans"]:
                    stacked[r, :, b:e, :].mean(dim=1)
                    words += 1
    return words, padded, len(batches)


def main():
    model_dir, input_json, threads = sys.argv[1:4]
    torch.set_num_threads(int(threads))
    sentences = json.load(open(input_json))["sentences"]
    model, cfg = load_bert(model_dir)
    layers = encoder_stack(model, cfg)
    print("ready", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        mode, arg = parts[0], int(parts[1])
        t = time.perf_counter()
        if mode == "neurox":
            subset = sentences[:arg]
            words = neurox_mode(model, subset)
            extra = {}
        elif mode == "batched":
            subset = sentences[: int(parts[2])] if len(parts) > 2 else sentences
            words, padded, n_batches = batched_mode(model, layers, subset, arg)
            extra = {"batchTokens": arg, "paddedTokens": padded, "batches": n_batches}
        else:
            raise ValueError(f"unknown request {line!r}")
        seconds = time.perf_counter() - t
        subwords = sum(len(s["ids"]) for s in subset)
        print(json.dumps({"mode": mode, "seconds": seconds, "sentences": len(subset), "words": words,
                          "subwords": subwords, "threads": int(threads), "torch": torch.__version__, **extra}),
              flush=True)


if __name__ == "__main__":
    main()
