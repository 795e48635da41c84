"""PyTorch baseline of `codeneurons intervene` for bench/intervene.ts and the intervention test fixture.

Never run by the tool, by tests or by CI: bench/intervene.ts runs it for timing, and
test/fixtures/intervene/ was made with it (`npm run bench:intervene -- --fixture`), so that our
intervened predictions are checked against PyTorch forward hooks, not against ourselves.

The model is a RoBERTa / BERT masked LM (scripts/reference/hf_models.py: transformers' maths with
Hugging Face parameter names) read from a safetensors checkpoint. Interventions are forward hooks:
- hidden layer 0: the embedding module's output (what block 1 receives);
- hidden layer l (1 ≤ l < L): a forward pre-hook on block l + 1 (what it receives);
- hidden layer L: a forward hook on block L's output (what the LM head receives);
- mlp layer l: a forward hook on block l's intermediate (the input of its output dense).
A unit is replaced (zero / set / a neuron's mean) or scaled, as codeneurons' model/intervention.ts.

Input (JSON file, argv[1]): {"model": DIR, "threads": N, "batches": [{"ids": [[...]], "mask": [[...]],
"items": [[batch_row, position, target], ...]}], "experiments": [[{"site", "layer", "units", "replace":
[0|1...], "values": [...], "scales": [...]}], ...]}.
Output (JSON on stdout): {"seconds": wall-clock seconds of all experiments, "cpu_seconds": CPU seconds
of the process (all threads) over them, "load_seconds": ...,
"experiments": [{"log_prob": [...], "correct": [...]}]} with one entry per item, in input order.
Run it with OPENBLAS_CORETYPE set as bench/common.ts does (Debian's OpenBLAS misdetects the CPU).
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "reference"))
import hf_models  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        raw = data[8 + n + begin : 8 + n + end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype=np.float32)
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype={"I64": np.int64}[e["dtype"]])
        out[name] = torch.tensor(a.reshape(e["shape"]).copy())
    return out


def load_masked_lm(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = hf_models.RobertaForMaskedLM(cfg) if cfg["model_type"] == "roberta" else None
    if model is None:
        raise SystemExit(f"baseline: {cfg['model_type']} is not a masked LM this baseline knows")
    state = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    state["lm_head.decoder.weight"] = state["roberta.embeddings.word_embeddings.weight"]
    state["lm_head.decoder.bias"] = state["lm_head.bias"]
    model.load_state_dict(state, strict=False)
    model.eval()
    return model


def apply(t, edit):
    """A changed copy of t [..., width]: replace where asked, else scale."""
    out = t.clone()
    units = torch.tensor(edit["units"], dtype=torch.long)
    replace = torch.tensor(edit["replace"], dtype=torch.bool)
    values = torch.tensor(edit["values"], dtype=torch.float32)
    scales = torch.tensor(edit["scales"], dtype=torch.float32)
    cols = out[..., units]
    out[..., units] = torch.where(replace, values, cols * scales)
    return out


def install(model, edits):
    """Registers the hooks of one experiment; returns their handles."""
    handles = []
    layers = model.roberta.encoder.layer
    num_layers = len(layers)
    for e in edits:
        layer = e["layer"]
        if e["site"] == "mlp":
            handles.append(layers[layer - 1].intermediate.register_forward_hook(lambda m, i, o, e=e: apply(o, e)))
        elif layer == 0:
            handles.append(model.roberta.embeddings.register_forward_hook(lambda m, i, o, e=e: apply(o, e)))
        elif layer < num_layers:
            def pre(m, args, e=e):
                return (apply(args[0], e),) + tuple(args[1:])

            handles.append(layers[layer].register_forward_pre_hook(pre))
        else:
            def post(m, i, o, e=e):
                return (apply(o[0], e),) + tuple(o[1:])

            handles.append(layers[layer - 1].register_forward_hook(post))
    return handles


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    t0 = time.perf_counter()
    model = load_masked_lm(spec["model"])
    batches = [
        (torch.tensor(b["ids"], dtype=torch.long), torch.tensor(b["mask"], dtype=torch.long), b["items"])
        for b in spec["batches"]
    ]
    load_seconds = time.perf_counter() - t0
    results = []
    t1 = time.perf_counter()
    c1 = time.process_time()
    with torch.inference_mode():
        for edits in spec["experiments"]:
            handles = install(model, edits)
            log_prob, correct = [], []
            for ids, mask, items in batches:
                hidden, _ = model.roberta(ids, mask)
                rows = torch.tensor([b for b, _, _ in items], dtype=torch.long)
                positions = torch.tensor([p for _, p, _ in items], dtype=torch.long)
                targets = torch.tensor([t for _, _, t in items], dtype=torch.long)
                # The LM head on the scored positions only, as codeneurons does.
                logits = model.lm_head(hidden[-1][rows, positions])
                lp = torch.log_softmax(logits, dim=-1)
                log_prob.extend(lp[torch.arange(len(items)), targets].tolist())
                correct.extend((torch.argmax(logits, dim=-1) == targets).int().tolist())
            for h in handles:
                h.remove()
            results.append({"log_prob": log_prob, "correct": correct})
    seconds = time.perf_counter() - t1
    cpu_seconds = time.process_time() - c1
    json.dump(
        {"seconds": seconds, "cpu_seconds": cpu_seconds, "load_seconds": load_seconds, "experiments": results},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
