"""Builds the tiny random models under test/fixtures/models/ and their reference outputs.

Run with Debian's python (torch 1.13, no transformers):  /usr/bin/python3 scripts/reference/make_tiny_models.py

Each model directory is in Hugging Face layout:
  config.json, model.safetensors (or shards + model.safetensors.index.json), pytorch_model.bin
  (torch.save of the state dict, as transformers saves it), tokenizer files, and
  reference.safetensors: padded batches of token ids with the hidden states of every layer
  (hidden.0 = embedding output ... hidden.L, GPT-2's last one after ln_f, as transformers returns them)
  and the feed-forward activations of every block (intermediate.1 ... intermediate.L), computed with the
  PyTorch modules of hf_models.py in float32.

Models (hidden 16, 2 heads of 8, so that heads != head size catches transposition mistakes):
  tiny-bert            bert, 2 layers, WordPiece vocab.txt (lower-cased), names prefixed 'bert.' plus an
                       MLM head, a pooler and the position_ids buffer (all to be ignored)
  tiny-roberta         roberta, 3 layers, byte-level BPE, 'roberta.' prefix + lm_head
  tiny-gpt2            gpt2, 2 layers, n_inner 32, 'transformer.' prefix + tied lm_head + attn.bias buffers
  tiny-roberta-fp16    tiny-roberta's weights stored as float16 (reference computed from the rounded
                       weights); pytorch_model.bin in torch's legacy (pre-1.6, non-zip) format, as old hub
                       checkpoints such as microsoft/codebert-base are
  tiny-roberta-sharded tiny-roberta saved as RobertaModel (no prefix, pooler) in two safetensors shards
                       with model.safetensors.index.json; no .bin, and no reference of its own: the
                       weights are tiny-roberta's, so tiny-roberta/reference.safetensors applies

Weights are drawn with fixed seeds at sizes that keep activations O(1) (PyTorch's default Linear init,
N(0,1) embeddings, random layer-norm gains and biases), so that a 1e-4 absolute tolerance is meaningful.
"""
import collections
import json
import os
import re
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_models  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "models")
JAVA = "/work/shared/data/java-token-lines/train.in"
FALLBACK_JAVA = [
    "public static void main ( String [ ] args ) {",
    'System . out . println ( "Hello" + 42 ) ;',
    "for ( int i = 0 ; i < n ; i ++ ) { sum += values [ i ] ; }",
    "private final List < String > names = new ArrayList < > ( ) ;",
    "if ( value == null ) return false ;",
]
HIDDEN, HEADS, MAX_LEN = 16, 2, 16


def java_lines(n=40):
    if os.path.exists(JAVA):
        with open(JAVA, encoding="utf-8") as f:
            lines = [line.strip() for _, line in zip(range(n), f)]
        return [line for line in lines if line]
    return FALLBACK_JAVA


# ------------------------------------------------------------------------------------------ tokenizers
def wordpiece_vocab(lines, size=180):
    """A small but real WordPiece vocabulary: specials, every character (whole-word and ## forms), then
    the most frequent lower-cased words of BERT's basic tokenization (punctuation split off)."""
    words = collections.Counter()
    for line in lines:
        for w in re.findall(r"\w+|[^\w\s]", line.lower()):
            words[w] += 1
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for w in words for c in w})
    vocab += chars + ["##" + c for c in chars if c.isalnum()]
    for w, _ in words.most_common():
        if len(vocab) >= size:
            break
        if w not in vocab:
            vocab.append(w)
    return vocab


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# GPT-2's pre-tokenizer with \p{L} / \p{N} spelled for Python's re (exact on the ASCII training text).
PRETOKENIZE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+""")


def train_bpe(lines, merges=32):
    """Byte-level BPE (the algorithm of GPT-2/RoBERTa tokenizers) trained on a few lines."""
    b2u = bytes_to_unicode()
    words = collections.Counter()
    for line in lines:
        for piece in PRETOKENIZE.findall(line):
            words[tuple(b2u[b] for b in piece.encode("utf-8"))] += 1
    learned = []
    for _ in range(merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        learned.append((a, b))
        merged = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += c
        words = merged
    symbols = [b2u[b] for b in range(256)] + [a + b for a, b in learned]
    return symbols, learned


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_bert_tokenizer(d, vocab):
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_LEN,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    })
    write_json(os.path.join(d, "special_tokens_map.json"), {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    })


def write_bpe_tokenizer(d, vocab_list, merges, kind):
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab_list)}, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    if kind == "roberta":
        special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                   "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
        cfg = {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": False, "model_max_length": MAX_LEN, **special}
    else:
        special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
        cfg = {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": False, "model_max_length": MAX_LEN, **special}
    write_json(os.path.join(d, "tokenizer_config.json"), cfg)
    write_json(os.path.join(d, "special_tokens_map.json"), special)


# ---------------------------------------------------------------------------------------------- models
def randomize(model, seed):
    """O(1) activations: Linear/Conv1D weights and biases U(±1/sqrt(fan_in)), N(0,1) embeddings, layer-norm
    gains 1 + N(0, 0.2²) and biases N(0, 0.2²)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1.0 + 0.2 * torch.randn(module.weight.shape, generator=g))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=g))
            elif isinstance(module, torch.nn.Embedding):
                module.weight.copy_(torch.randn(module.weight.shape, generator=g))
            elif isinstance(module, (torch.nn.Linear, hf_models.Conv1D)):
                # nn.Linear stores [out, in]; transformers' Conv1D stores [in, out].
                fan_in = module.weight.shape[1] if isinstance(module, torch.nn.Linear) else module.weight.shape[0]
                bound = fan_in ** -0.5
                for p in (module.weight, module.bias):
                    p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
    return model


def batches(cfg, seed):
    """Right-padded batches of token ids: (lengths, seq, with_token_types)."""
    g = torch.Generator().manual_seed(seed)
    mt = cfg["model_type"]
    vocab = cfg["vocab_size"]
    if mt == "bert":
        first, pad, cls, sep = 5, 0, 2, 3
    elif mt == "roberta":
        first, pad, cls, sep = 4, 1, 0, 2
    else:
        first, pad, cls, sep = 0, vocab - 1, None, None  # GPT-2 pads with <|endoftext|>, masked out
    shapes = [([7, 4, 2], 7), ([5, 3], 5), ([MAX_LEN], MAX_LEN)]
    if mt == "gpt2":
        shapes[0] = ([7, 3, 1], 7)
    out = []
    for b, (lengths, seq) in enumerate(shapes):
        ids = torch.full((len(lengths), seq), pad, dtype=torch.long)
        mask = torch.zeros((len(lengths), seq), dtype=torch.long)
        types = torch.zeros((len(lengths), seq), dtype=torch.long)
        for r, n in enumerate(lengths):
            ids[r, :n] = torch.randint(first, vocab - 1, (n,), generator=g)
            if cls is not None:
                ids[r, 0], ids[r, n - 1] = cls, sep
            mask[r, :n] = 1
            if b == 1 and mt == "bert":
                types[r, n // 2:n] = 1  # a second segment, so that token-type embeddings are exercised
        out.append((ids, mask, types))
    return out


def reference(model, cfg, seed):
    tensors = {}
    with torch.inference_mode():
        for b, (ids, mask, types) in enumerate(batches(cfg, seed)):
            if cfg["model_type"] == "gpt2":
                hidden, inter = model(ids, mask)
            else:
                hidden, inter = model(ids, mask, types)
            tensors[f"batch{b}.input_ids"] = ids
            tensors[f"batch{b}.attention_mask"] = mask
            if cfg["model_type"] == "bert":
                tensors[f"batch{b}.token_type_ids"] = types
            for i, h in enumerate(hidden):
                tensors[f"batch{b}.hidden.{i}"] = h.float()
            for i, x in enumerate(inter):
                tensors[f"batch{b}.intermediate.{i + 1}"] = x.float()
    return tensors


def fresh_dir(name):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


# transformers leaves tied copies out of safetensors files (they share memory) but torch.save keeps them.
TIED = ("lm_head.decoder.weight", "lm_head.decoder.bias", "lm_head.weight")


def save_model_files(d, cfg, state, legacy_bin=False):
    write_json(os.path.join(d, "config.json"), cfg)
    untied = {k: v for k, v in state.items() if k not in TIED}
    hf_models.save_safetensors(os.path.join(d, "model.safetensors"), untied, {"format": "pt"})
    torch.save(collections.OrderedDict(state), os.path.join(d, "pytorch_model.bin"),
               _use_new_zipfile_serialization=not legacy_bin)


def save_reference(d, model, cfg, seed):
    hf_models.save_safetensors(os.path.join(d, "reference.safetensors"), reference(model, cfg, seed),
                               {"generator": "scripts/reference/make_tiny_models.py"})


def bert_config(vocab_size):
    return {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": HIDDEN,
        "num_hidden_layers": 2, "num_attention_heads": HEADS, "intermediate_size": 20, "hidden_act": "gelu",
        "max_position_embeddings": MAX_LEN, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute", "vocab_size": vocab_size, "torch_dtype": "float32",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    }


def roberta_config(vocab_size):
    return {
        "architectures": ["RobertaForMaskedLM"], "model_type": "roberta", "hidden_size": HIDDEN,
        "num_hidden_layers": 3, "num_attention_heads": HEADS, "intermediate_size": 24, "hidden_act": "gelu",
        "max_position_embeddings": MAX_LEN + 2, "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1,
        "bos_token_id": 0, "eos_token_id": 2, "vocab_size": vocab_size, "torch_dtype": "float32",
    }


def gpt2_config(vocab_size):
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": HIDDEN, "n_layer": 2,
        "n_head": HEADS, "n_inner": 32, "n_positions": MAX_LEN, "n_ctx": MAX_LEN,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "vocab_size": vocab_size,
        "bos_token_id": vocab_size - 1, "eos_token_id": vocab_size - 1, "scale_attn_weights": True,
        "torch_dtype": "float32",
    }


def make_bert(lines):
    d = fresh_dir("tiny-bert")
    vocab = wordpiece_vocab(lines)
    cfg = bert_config(len(vocab))
    torch.manual_seed(1)
    model = randomize(hf_models.BertModel(cfg), 11).eval()
    state = {f"bert.{k}": v for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(12)
    # Tensors a BertForMaskedLM checkpoint also holds; the loader must ignore them.
    state["bert.embeddings.position_ids"] = torch.arange(MAX_LEN).unsqueeze(0)
    state["bert.pooler.dense.weight"] = torch.randn(HIDDEN, HIDDEN, generator=g)
    state["bert.pooler.dense.bias"] = torch.randn(HIDDEN, generator=g)
    state["cls.predictions.bias"] = torch.randn(len(vocab), generator=g)
    state["cls.predictions.transform.dense.weight"] = torch.randn(HIDDEN, HIDDEN, generator=g)
    save_model_files(d, cfg, state)
    write_bert_tokenizer(d, vocab)
    save_reference(d, model, cfg, 13)


def bpe_vocab(lines, kind):
    symbols, merges = train_bpe(lines)
    if kind == "roberta":
        return ["<s>", "<pad>", "</s>", "<unk>"] + symbols + ["<mask>"], merges
    return symbols + ["<|endoftext|>"], merges


def make_roberta_family(lines):
    vocab, merges = bpe_vocab(lines, "roberta")
    cfg = roberta_config(len(vocab))
    torch.manual_seed(2)
    mlm = hf_models.RobertaForMaskedLM(cfg)
    randomize(mlm, 21).eval()
    model = mlm.roberta

    d = fresh_dir("tiny-roberta")
    save_model_files(d, cfg, mlm.state_dict())
    write_bpe_tokenizer(d, vocab, merges, "roberta")
    save_reference(d, model, cfg, 23)

    # float16 storage: the reference is computed from the rounded weights (the loader widens to float32).
    d = fresh_dir("tiny-roberta-fp16")
    half = {k: v.half() for k, v in mlm.state_dict().items()}
    cfg16 = {**cfg, "torch_dtype": "float16"}
    save_model_files(d, cfg16, half, legacy_bin=True)
    write_bpe_tokenizer(d, vocab, merges, "roberta")
    rounded = hf_models.BertModel(cfg)
    rounded.load_state_dict({k[len("roberta."):]: v.float() for k, v in half.items() if k.startswith("roberta.")})
    save_reference(d, rounded.eval(), cfg16, 23)

    # Sharded RobertaModel checkpoint: no name prefix, a pooler, two shards and an index.
    d = fresh_dir("tiny-roberta-sharded")
    cfg_sh = {**cfg, "architectures": ["RobertaModel"]}
    write_json(os.path.join(d, "config.json"), cfg_sh)
    state = dict(model.state_dict())
    g = torch.Generator().manual_seed(24)
    state["pooler.dense.weight"] = torch.randn(HIDDEN, HIDDEN, generator=g)
    state["pooler.dense.bias"] = torch.randn(HIDDEN, generator=g)
    names = sorted(state)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        hf_models.save_safetensors(os.path.join(d, file), {k: state[k] for k in part}, {"format": "pt"})
        for k in part:
            weight_map[k] = file
            total += state[k].numel() * state[k].element_size()
    write_json(os.path.join(d, "model.safetensors.index.json"), {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_bpe_tokenizer(d, vocab, merges, "roberta")


def make_gpt2(lines):
    d = fresh_dir("tiny-gpt2")
    vocab, merges = bpe_vocab(lines, "gpt2")
    cfg = gpt2_config(len(vocab))
    torch.manual_seed(3)
    model = randomize(hf_models.GPT2Model(cfg), 31).eval()
    state = {f"transformer.{k}": v for k, v in model.state_dict().items()}
    causal = torch.tril(torch.ones(MAX_LEN, MAX_LEN)).view(1, 1, MAX_LEN, MAX_LEN)
    for i in range(cfg["n_layer"]):
        # Buffers that GPT-2 checkpoints carry (gpt2's own model.safetensors has attn.bias); ignored.
        state[f"transformer.h.{i}.attn.bias"] = causal
        state[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    state["lm_head.weight"] = state["transformer.wte.weight"]  # tied, as GPT2LMHeadModel saves it in .bin
    save_model_files(d, cfg, state)
    write_bpe_tokenizer(d, vocab, merges, "gpt2")
    save_reference(d, model, cfg, 33)


def main():
    torch.set_num_threads(1)
    lines = java_lines()
    make_bert(lines)
    make_roberta_family(lines)
    make_gpt2(lines)
    for name in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, name)
        if os.path.isdir(d):
            size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            print(f"{name}: {size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
