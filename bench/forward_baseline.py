"""PyTorch baselines for bench/forward.ts (timing only; never run by tests or CI).

Times a BERT-base-sized random encoder (12 layers, 768 hidden, 12 heads, 3072 intermediate) on
batch × seq token ids with all hidden states kept, two ways, in torch.inference_mode:
  eager       scripts/reference/hf_models.BertModel (transformers' modeling_bert maths, layer by layer)
  transformer nn.TransformerEncoderLayer stack (PyTorch's fused fast path), every layer's output kept
Serves timings so that the caller can interleave them with its own (fairer on a shared, busy machine):
after printing "ready" it reads one mode per line from stdin ("eager" or "transformer"), runs it once
and prints the wall-clock and CPU seconds it took; it exits at end of input. The first run of each mode is a warm-up
that the caller discards.
Usage: forward_baseline.py BATCH SEQ THREADS
Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (see docs/DESIGN.md, Benchmarks).
"""
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "reference"))
import hf_models  # noqa: E402


def seconds(fn):
    """Wall-clock and CPU seconds (all threads of the process) of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def main():
    batch, seq, threads = (int(a) for a in sys.argv[1:4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
           "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512,
           "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    ids = torch.randint(5, cfg["vocab_size"], (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.long)
    eager = hf_models.BertModel(cfg).eval()
    layers = nn.ModuleList([
        nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.0, activation="gelu", batch_first=True,
                                   layer_norm_eps=1e-12) for _ in range(12)]).eval()
    emb = eager.embeddings
    pad = mask == 0

    def run_eager():
        hidden, _ = eager(ids, mask)
        return [h.numpy() for h in hidden]

    def run_transformer():
        x = emb(ids, torch.arange(seq).expand(batch, seq), torch.zeros_like(ids))
        hidden = [x]
        for layer in layers:
            x = layer(x, src_key_padding_mask=pad)
            hidden.append(x)
        return [h.numpy() for h in hidden]

    modes = {"eager": run_eager, "transformer": run_transformer}
    print("ready", flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            wall, cpu = seconds(modes[line.strip()])
            print(f"{wall:.6f} {cpu:.6f}", flush=True)


if __name__ == "__main__":
    main()
