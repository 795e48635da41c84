"""Checks the saved bundled model the way a user would load it, and writes reference outputs for tests.

Run from the repository root after train_bundled_model.py (which also runs it at its end):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/train/verify_bundled_model.py

1. loads the tokenizer twice, from vocab.json + merges.txt and from tokenizer.json, and checks that both
   give the same ids on every valid.in line;
2. loads config.json and model.safetensors (float16) by hand into scripts/reference/hf_models.py's
   RobertaForMaskedLM (the only keys allowed to be missing are the tied lm_head.decoder.*), re-runs the
   masked-token evaluation and records it in training.json next to the float32 figures;
3. writes test/fixtures/bundled/reference-hidden.safetensors (every layer's hidden states, float32, for
   three Java lines, computed from the float16 weights) with reference.json (the lines, tokens, ids), and
   tokenization.json (ids of 200 test.in lines), so that the TypeScript loader and tokenizer can be
   checked against PyTorch;
4. regenerates the model card README.md from training.json.
"""
import argparse
import json
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
import mlm  # noqa: E402
from mlm import hf_models  # noqa: E402,F401  (re-exported for the training script)

REFERENCE_LINES = [
    "public static void main ( String [ ] args ) {",
    "int total = values . size ( ) * 42 + fastPathOrderedEmit ;",
    'logger . info ( "café├" + userName ) ;',
]
TIED_KEYS = {"lm_head.decoder.weight", "lm_head.decoder.bias"}
# Masked-token accuracy may move by a few argmax flips when the weights are rounded to float16.
FLOAT16_ACCURACY_TOLERANCE = 0.005


def load_tokenizers(model_dir):
    with open(f"{model_dir}/vocab.json", encoding="utf-8") as f:
        vocab = json.load(f)
    with open(f"{model_dir}/merges.txt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    if not lines[0].startswith("#version"):
        raise ValueError(f"{model_dir}/merges.txt: line 1 must be the #version header")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    with open(f"{model_dir}/tokenizer.json", encoding="utf-8") as f:
        tj = json.load(f)
    fast = bpe.ByteLevelBPE(tj["model"]["vocab"], [tuple(m.split(" ")) for m in tj["model"]["merges"]])
    for added in tj["added_tokens"]:
        if vocab.get(added["content"]) != added["id"]:
            raise ValueError(f"tokenizer.json: added token {added['content']} has id {added['id']}, vocab.json says {vocab.get(added['content'])}")
    return bpe.ByteLevelBPE(vocab, merges), fast


def load_model(model_dir):
    with open(f"{model_dir}/config.json", encoding="utf-8") as f:
        cfg = json.load(f)
    model = hf_models.RobertaForMaskedLM(cfg)
    tensors, _ = mlm.read_safetensors(f"{model_dir}/model.safetensors")
    result = model.load_state_dict(tensors, strict=False)
    if set(result.missing_keys) != TIED_KEYS or result.unexpected_keys:
        raise ValueError(f"model.safetensors: missing {result.missing_keys}, unexpected {result.unexpected_keys}")
    if not torch.equal(model.lm_head.decoder.weight, tensors["roberta.embeddings.word_embeddings.weight"]):
        raise ValueError("lm_head.decoder.weight is not tied to the word embeddings")
    model.eval()
    return model, cfg


def write_json_atomic(path, value, indent=2):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=indent, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def verify(model_dir, data_dir, fixtures_dir, seed, eval_lines, threads):
    torch.set_num_threads(threads)
    slow, fast = load_tokenizers(model_dir)
    valid_words = mlm.read_lines(os.path.join(data_dir, "valid.in"))
    for number, words in enumerate(valid_words, start=1):
        a, b = slow.encode(" ".join(words)), fast.encode(" ".join(words))
        if a != b:
            raise ValueError(f"valid.in:{number}: vocab.json+merges.txt and tokenizer.json disagree: {a} vs {b}")
    print(f"tokenizer: vocab.json + merges.txt and tokenizer.json agree on {len(valid_words)} valid lines", flush=True)

    model, cfg = load_model(model_dir)
    valid_ids, valid_kinds = [], []
    for words in valid_words:
        ids, word_of = slow.encode_words(words)
        valid_ids.append(ids)
        valid_kinds.append([mlm.word_kind(words[w]) for w in word_of])
    record_path = f"{model_dir}/training.json"
    with open(record_path, encoding="utf-8") as f:
        record = json.load(f)
    unigram_id = slow.vocab[record["evaluation"]["unigram_token"]]
    items = mlm.eval_set(valid_ids, valid_kinds, seed, eval_lines)
    reloaded = mlm.evaluate(model, items, unigram_id)
    f32 = record["evaluation"]["float32"]["all"]["accuracy"]
    f16 = reloaded["all"]["accuracy"]
    print(f"reloaded float16 model: masked-token accuracy {f16:.4f} (float32 before saving {f32:.4f})", flush=True)
    if abs(f16 - f32) > FLOAT16_ACCURACY_TOLERANCE:
        raise ValueError(f"accuracy after the float16 round trip moved from {f32:.4f} to {f16:.4f}")
    record["evaluation"]["float16_reloaded"] = reloaded
    write_json_atomic(record_path, record)
    write_fixtures(model, slow, fixtures_dir, data_dir, seed)


def write_fixtures(model, tok, fixtures_dir, data_dir, seed):
    os.makedirs(fixtures_dir, exist_ok=True)
    tensors, lines = {}, []
    inverse = {v: k for k, v in tok.vocab.items()}
    with torch.no_grad():
        for i, text in enumerate(REFERENCE_LINES):
            ids, word_of = tok.encode_words(text.split(" "))
            input_ids = torch.tensor([[mlm.BOS] + ids + [mlm.EOS]])
            hidden, _ = model.roberta(input_ids)
            tensors[f"line{i}.input_ids"] = input_ids[0]
            tensors[f"line{i}.hidden_states"] = torch.stack([h[0] for h in hidden])  # [layers + 1, tokens, hidden]
            lines.append({"text": text, "words": text.split(" "), "tokens": [inverse[t] for t in ids], "ids": ids, "word_of_token": word_of})
    tmp = f"{fixtures_dir}/reference-hidden.safetensors.tmp-{os.getpid()}"
    note = "hidden_states[l] of models/codeneurons-java-tiny for <s> line </s> (l = 0 embeddings, l = i block i), float32 from the float16 weights, PyTorch"
    hf_models.save_safetensors(tmp, tensors, metadata={"note": note})
    os.replace(tmp, f"{fixtures_dir}/reference-hidden.safetensors")
    write_json_atomic(f"{fixtures_dir}/reference.json", {"model": "models/codeneurons-java-tiny", "note": note, "lines": lines})

    test_words = mlm.read_lines(os.path.join(data_dir, "test.in"))
    chosen = sorted(random.Random(seed).sample(range(len(test_words)), 200))
    cases = []
    for i in chosen:
        ids, word_of = tok.encode_words(test_words[i])
        cases.append({"line": i + 1, "text": " ".join(test_words[i]), "ids": ids, "word_of_token": word_of})
    write_json_atomic(f"{fixtures_dir}/tokenization.json", {"source": "java-token-lines/test.in", "add_special_tokens": False, "cases": cases}, indent=None)
    print(f"wrote {fixtures_dir}/reference-hidden.safetensors, reference.json, tokenization.json", flush=True)


# ------------------------------------------------------------------------------------------ model card
def pct(x):
    return f"{100 * x:.1f}%"


def write_model_card(model_dir):
    with open(f"{model_dir}/training.json", encoding="utf-8") as f:
        r = json.load(f)
    with open(f"{model_dir}/config.json", encoding="utf-8") as f:
        cfg = json.load(f)
    ev = r["evaluation"]["float16_reloaded"]
    hp = r["hyperparameters"]
    rows = "\n".join(
        f"| {kind} | {ev[kind]['masked']} | {pct(ev[kind]['accuracy'])} | {pct(ev[kind]['top5_accuracy'])} | {pct(ev[kind]['unigram_accuracy'])} |"
        for kind in ("all",) + mlm.KINDS
    )
    size_mb = os.path.getsize(f"{model_dir}/model.safetensors") / 1e6
    card = CARD.format(
        layers=cfg["num_hidden_layers"], hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"], inter=cfg["intermediate_size"],
        vocab=cfg["vocab_size"], params=r["model_parameters"], size_mb=size_mb, positions=cfg["max_position_embeddings"],
        positions_tokens=cfg["max_position_embeddings"] - 2, neurons=(cfg["num_hidden_layers"] + 1) * cfg["hidden_size"],
        train_lines=r["corpus"]["train"]["lines"], train_tokens=r["corpus"]["train"]["tokens"], sha=r["corpus"]["train"]["sha256"],
        steps=hp["steps"], batch=hp["batch_tokens"], lr=hp["lr"], warmup=hp["warmup_steps"], pack=hp["pack_fraction"],
        passes="less than one pass over the data" if r["training"]["epochs_seen"] == 1 else f"{r['training']['epochs_seen']} passes over the data begun",
        seconds=r["training"]["seconds"], threads=r["torch_threads"], seed=r["seed"], torch_version=r["torch_version"],
        first_loss=r["training"]["first_loss"], final_loss=r["training"]["final_loss_mean_last_50"],
        eval_set=r["evaluation"]["set"], unigram=r["evaluation"]["unigram_token"], rows=rows,
        acc32=pct(r["evaluation"]["float32"]["all"]["accuracy"]), acc16=pct(ev["all"]["accuracy"]),
    )
    tmp = f"{model_dir}/README.md.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(card)
    os.replace(tmp, f"{model_dir}/README.md")


CARD = """# codeneurons-java-tiny

A small RoBERTa masked language model trained on Java by codeneurons itself, so that the whole
neuron-analysis method can be shown offline on a model whose neurons learned code. It is a teaching
and testing model, not a useful code model: it is tiny and was trained for about half an hour on two
CPU cores.

Written by `scripts/train/train_bundled_model.py` (this card too; do not edit it by hand).

## Model
- `RobertaForMaskedLM` (Hugging Face layout: `config.json`, `model.safetensors` in float16,
  {size_mb:.1f} MB), {layers} layers, hidden size {hidden}, {heads} heads, intermediate size {inter},
  GELU, post-LayerNorm (eps 1e-5), {params:,} parameters; {positions} positions, i.e. sequences of up to
  {positions_tokens} tokens with `<s>` and `</s>` (RoBERTa's position ids start at 2).
  Layers for codeneurons: 0 (embeddings) to {layers}, so {neurons} neurons.
- The LM head's decoder weight is tied to the word embeddings and, as transformers does, not stored
  (`lm_head.decoder.weight` = `roberta.embeddings.word_embeddings.weight`, `lm_head.decoder.bias` =
  `lm_head.bias`). There is no pooler.
- Tokenizer: byte-level BPE as GPT-2/RoBERTa (`Ġ` marks a leading space; `add_prefix_space` false),
  {vocab} tokens: `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, `<mask>` 4, the 256 byte symbols, then the
  merges. Both `vocab.json` + `merges.txt` (RobertaTokenizer) and `tokenizer.json` (tokenizers) are
  given and encode identically. A line of words is encoded as the words joined by single spaces, so every
  word after the first starts with `Ġ`, as NeuroX feeds RoBERTa models.

## Training
- Data: `java-token-lines/train.in` only ({train_lines:,} lines, {train_tokens:,} BPE tokens;
  sha256 `{sha}`), the deduplicated Java statements of Sharma et al. (2023), one per line, javalang
  tokens separated by spaces. The tokenizer was trained on the same file.
- Objective: masked LM, 15% of tokens (80% `<mask>`, 10% random, 10% unchanged), no dropout.
- {steps} steps of about {batch} padded tokens (lines of similar length batched together, plus a
  {pack} share of chunks of consecutive lines packed up to the full length, so that every position
  is trained); {passes}. AdamW (lr {lr}, betas 0.9/0.98, eps 1e-6,
  weight decay 0.01), {warmup} warm-up steps then linear decay to 0; gradient clipping 1.0.
- Seed {seed}, PyTorch {torch_version} on {threads} CPU threads, {seconds:.0f} s of training.
  Loss {first_loss} at the first step, {final_loss} over the last 50 steps. `training.json` has the
  hyper-parameters, the corpus checksums, the loss curve and every figure below.

## Masked-token accuracy on valid.in
{eval_set}; the model predicts each masked token (argmax over the vocabulary).
The unigram baseline always predicts the most frequent train token, `{unigram}`.
Accuracy of the float32 model before saving: {acc32}; of the saved float16 weights reloaded: {acc16}.
Per kind of the word the masked token belongs to (float16 weights):

| word kind | masked tokens | accuracy | top-5 | unigram baseline |
|---|---|---|---|---|
{rows}

## Reproduce
```
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/train/train_bundled_model.py
```
(Debian's python3 with python3-torch and python3-numpy; the data is expected in
`../shared/data/java-token-lines`, or pass `--data DIR`). The same seed and thread count give the
same files. `scripts/train/verify_bundled_model.py` reloads the saved files and writes the reference
hidden states in `test/fixtures/bundled/`.

## Licence
The model is released with codeneurons (MIT). The training data is the Java corpus published by the
authors of "Redundancy and Concept Analysis for Code-trained Language Models" (Sharma et al., 2023);
no licence is stated with the copy used here, so check theirs before reusing the weights elsewhere.
"""


def main():
    p = argparse.ArgumentParser(description="Verify the bundled model and write its reference fixtures")
    p.add_argument("--model", default=os.path.join(REPO, "models", "codeneurons-java-tiny"))
    p.add_argument("--data", default=os.path.normpath(os.path.join(REPO, "..", "shared", "data", "java-token-lines")))
    p.add_argument("--fixtures", default=os.path.join(REPO, "test", "fixtures", "bundled"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    with open(f"{args.model}/training.json", encoding="utf-8") as f:
        record = json.load(f)
    eval_lines = int(record["evaluation"]["set"].split(" ")[0])
    verify(args.model, args.data, args.fixtures, record["seed"], eval_lines, args.threads)
    write_model_card(args.model)


if __name__ == "__main__":
    main()
