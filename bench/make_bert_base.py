"""Builds a BERT-base-sized model with random weights in Hugging Face layout for bench:extract.

12 layers, hidden 768, 12 heads, intermediate 3072, and a WordPiece vocabulary (30,522 entries, like
bert-base) built from the Java training lines, so that tokenization looks like a real code model's.
Random weights: extraction speed does not depend on the values. Run by bench/extract.ts when the
model is missing:  /usr/bin/python3 bench/make_bert_base.py OUT_DIR JAVA_TRAIN_FILE
"""
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "reference"))
import hf_models  # noqa: E402

PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def basic_tokens(word):
    """BERT's basic tokenizer on one (already lower-cased) word: split off punctuation."""
    out, cur = [], ""
    for ch in word:
        if ch in PUNCT:
            if cur:
                out.append(cur)
            out.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def build_vocab(train_file, size=30522):
    counts = collections.Counter()
    chars = collections.Counter()
    with open(train_file, encoding="utf-8") as f:
        for line in f:
            for word in line.split():
                for piece in basic_tokens(word.lower()):
                    counts[piece] += 1
                    chars.update(piece)
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)
    for ch, _ in chars.most_common():
        for tok in (ch, "##" + ch):
            if tok not in seen:
                vocab.append(tok)
                seen.add(tok)
    for piece, _ in counts.most_common():
        if len(vocab) >= size:
            break
        if piece not in seen:
            vocab.append(piece)
            seen.add(piece)
    i = 0
    while len(vocab) < size:
        vocab.append(f"[unused_fill{i}]")
        i += 1
    return vocab


def main(out_dir, train_file):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    cfg = dict(
        model_type="bert", architectures=["BertModel"], vocab_size=30522, hidden_size=768, num_hidden_layers=12,
        num_attention_heads=12, intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512,
        type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0,
    )
    model = hf_models.BertModel(cfg)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    state = {f"bert.{k}": v for k, v in model.state_dict().items()}
    hf_models.save_safetensors(os.path.join(out_dir, "model.safetensors"), state, {"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(build_vocab(train_file)) + "\n")
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
