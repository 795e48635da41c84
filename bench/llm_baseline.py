"""PyTorch baseline for bench:llm: the same Llama blocks, token ids, batches and word vectors as ours.

A plain float32 PyTorch implementation of a Llama checkpoint (RMSNorm, RoPE, grouped-query attention
with a causal + padding mask, SwiGLU MLP) under torch.inference_mode: the bf16 safetensors are loaded
into float32 tensors (timed), the sentences written by bench/llm.ts (token ids as our tokenizer makes
them, BOS included, and each word's [begin, end) span) are sorted by length and batched under the same
padded-token budget as ours, every layer's hidden states are collected (the last one after the final
RMSNorm, as transformers returns it) and each word's subword vectors averaged, as `extract` stores them.

The q / k / v and gate / up weights are concatenated when loaded, so each block runs two fewer (and
larger) GEMMs, as our block graph does: the baseline is not handicapped by the plain layout.

Output: one JSON line with the timings ("seconds" = load + forward + word vectors) and counts. With
DUMP_FILE, the word vectors of the first DUMP_LINES sentences, float32 [words, layers, hidden]
(layer-major rows, as our store's readRows returns them), so that bench/llm.ts can check both sides
compute the same thing.
Usage: python3 llm_baseline.py MODEL_DIR INPUT_JSON THREADS REPEATS [DUMP_FILE DUMP_LINES]
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import torch


def load_safetensors_f32(path):
    """Every tensor of a safetensors file as a float32 torch tensor (bf16 / f16 / f32 on disk)."""
    dtypes = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        start = 8 + n
        for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
            if name == "__metadata__":
                continue
            b, end = e["data_offsets"]
            buf = bytearray(end - b)
            f.seek(start + b)
            f.readinto(buf)
            t = torch.frombuffer(buf, dtype=dtypes[e["dtype"]]).view(*e["shape"])
            out[name] = t.float() if t.dtype != torch.float32 else t.clone()
    return out


class Llama:
    def __init__(self, model_dir):
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.cfg = cfg
        self.H = cfg["hidden_size"]
        self.nH = cfg["num_attention_heads"]
        self.kv = cfg.get("num_key_value_heads") or self.nH
        self.d = cfg.get("head_dim") or self.H // self.nH
        self.I = cfg["intermediate_size"]
        self.eps = cfg["rms_norm_eps"]
        theta = cfg.get("rope_theta") or cfg.get("rope_parameters", {}).get("rope_theta", 10000.0)
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.d, 2, dtype=torch.int64).float() / self.d))
        # transformers builds the model in the checkpoint's dtype, which rounds the inv_freq buffer
        # (and the rounded frequencies stay when it then runs in float32).
        dtype = cfg.get("dtype") or cfg.get("torch_dtype")
        if dtype == "bfloat16":
            inv_freq = inv_freq.to(torch.bfloat16).float()
        elif dtype == "float16":
            inv_freq = inv_freq.to(torch.float16).float()
        self.inv_freq = inv_freq
        w = load_safetensors_f32(os.path.join(model_dir, "model.safetensors"))
        p = "model." if "model.embed_tokens.weight" in w else ""
        self.embed = w.pop(p + "embed_tokens.weight")
        self.norm = w.pop(p + "norm.weight")
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            q = f"{p}layers.{i}."
            take = lambda n: w.pop(q + n + ".weight")  # noqa: E731
            qkv = torch.cat([take("self_attn.q_proj"), take("self_attn.k_proj"), take("self_attn.v_proj")])
            gate_up = torch.cat([take("mlp.gate_proj"), take("mlp.up_proj")])
            self.layers.append({
                "ln1": take("input_layernorm"),
                "qkv": qkv,
                "o": take("self_attn.o_proj"),
                "ln2": take("post_attention_layernorm"),
                "gate_up": gate_up,
                "down": take("mlp.down_proj"),
            })
        w.clear()

    def rms(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rotary(self, seq):
        freqs = torch.arange(seq, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos(), emb.sin()  # [S, d]

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin

    def block(self, lw, x, B, S, mask, cos, sin):
        H, nH, kv, d = self.H, self.nH, self.kv, self.d
        rep = nH // kv
        h = self.rms(x, lw["ln1"])
        qkv = torch.nn.functional.linear(h, lw["qkv"])
        q, k, v = qkv.split([nH * d, kv * d, kv * d], dim=-1)
        q = self.rotate(q.view(B, S, nH, d).transpose(1, 2), cos, sin)  # [B, nH, S, d]
        k = self.rotate(k.view(B, S, kv, d).transpose(1, 2), cos, sin)  # [B, kv, S, d]
        v = v.view(B, S, kv, d).transpose(1, 2)
        # Grouped-query attention without repeating K and V: the rep query heads sharing a key/value
        # head are consecutive (transformers' repeat_kv), so [B, nH, S, d] reads as [B, kv, rep·S, d].
        scores = torch.matmul(q.reshape(B, kv, rep * S, d), k.transpose(2, 3)).view(B, nH, S, S)
        scores = scores * (1.0 / math.sqrt(d)) + mask
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs.view(B, kv, rep * S, S), v).view(B, nH, S, d)
        attn = torch.nn.functional.linear(ctx.transpose(1, 2).reshape(B * S, nH * d), lw["o"])
        x = x + attn
        h = self.rms(x, lw["ln2"])
        gate, up = torch.nn.functional.linear(h, lw["gate_up"]).split([self.I, self.I], dim=-1)
        return x + torch.nn.functional.linear(torch.nn.functional.silu(gate) * up, lw["down"])


def make_batches(sentences, batch_tokens):
    """As our extraction batches: sorted by length (stable), at most batch_tokens padded tokens each."""
    order = sorted(range(len(sentences)), key=lambda i: (len(sentences[i]["ids"]), i))
    batches, cur, longest = [], [], 0
    for i in order:
        n = len(sentences[i]["ids"])
        if cur and max(longest, n) * (len(cur) + 1) > batch_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    return batches


def word_vectors(model, sentences, batch_tokens):
    """[words, layers + 1, hidden] word vectors (subword averages) of every layer, in sentence order."""
    L = len(model.layers)
    first_word = [0]
    for s in sentences:
        first_word.append(first_word[-1] + len(s["spans"]))
    out = torch.empty(first_word[-1], L + 1, model.H)
    min_value = torch.finfo(torch.float32).min
    for batch in make_batches(sentences, batch_tokens):
        B = len(batch)
        S = max(len(sentences[i]["ids"]) for i in batch)
        ids = torch.zeros(B, S, dtype=torch.long)
        lengths = torch.tensor([len(sentences[i]["ids"]) for i in batch])
        for r, i in enumerate(batch):
            ids[r, : lengths[r]] = torch.tensor(sentences[i]["ids"])
        pos = torch.arange(S)
        visible = (pos[None, :] <= pos[:, None])[None] & (pos[None, None, :] < lengths[:, None, None])
        mask = torch.zeros(B, 1, S, S).masked_fill_(~visible[:, None], min_value)
        cos, sin = model.rotary(S)
        # Each word's subwords are summed by index_add_ (in float64, then averaged), as our store averages.
        tok, local, rows, sizes = [], [], [], []
        for r, i in enumerate(batch):
            for w, (b, e) in enumerate(sentences[i]["spans"]):
                tok.extend(range(r * S + b, r * S + e))
                local.extend([len(rows)] * (e - b))
                rows.append(first_word[i] + w)
                sizes.append(e - b)
        tok, local, rows = torch.tensor(tok), torch.tensor(local), torch.tensor(rows)
        inv = 1.0 / torch.tensor(sizes, dtype=torch.float64)

        def collect(layer, x):
            sums = torch.zeros(len(rows), model.H, dtype=torch.float64)
            sums.index_add_(0, local, x[tok].double())
            out[rows, layer] = (sums * inv[:, None]).float()

        x = model.embed[ids.view(-1)]  # [B·S, H]
        collect(0, x)
        for layer, lw in enumerate(model.layers, start=1):
            x = model.block(lw, x, B, S, mask, cos, sin)
            collect(layer, model.rms(x, model.norm) if layer == L else x)
    return out


def main():
    model_dir, input_json, threads, repeats = sys.argv[1:5]
    dump_file = sys.argv[5] if len(sys.argv) > 5 else None
    dump_lines = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    torch.set_num_threads(int(threads))
    data = json.load(open(input_json))
    sentences = data["sentences"]
    times, loads, forwards = [], [], []
    vectors = None
    for _ in range(int(repeats)):
        vectors = None
        t0 = time.perf_counter()
        with torch.inference_mode():
            model = Llama(model_dir)
            t1 = time.perf_counter()
            vectors = word_vectors(model, sentences, data["batchTokens"])
        t2 = time.perf_counter()
        del model
        times.append(t2 - t0)
        loads.append(t1 - t0)
        forwards.append(t2 - t1)
    if dump_file:
        n = sum(len(s["spans"]) for s in sentences[:dump_lines])
        vectors[:n].contiguous().numpy().tofile(dump_file)
    print(json.dumps({
        "seconds": statistics.median(times),
        "times": times,
        "load_s": statistics.median(loads),
        "forward_s": statistics.median(forwards),
        "sentences": len(sentences),
        "words": int(vectors.shape[0]),
        "layers": int(vectors.shape[1]),
        "threads": int(threads),
        "torch": torch.__version__,
        "peak_mb": _peak_mb(),
        "blas": _blas_library(),
    }))


def _peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _blas_library():
    """The BLAS library torch's matrix products went through: Debian's torch links libblas.so.3, which
    is the reference BLAS (about 20x slower) unless an OpenBLAS package provides that alternative."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return sorted(paths)


if __name__ == "__main__":
    main()
