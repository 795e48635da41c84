#!/usr/bin/python3
"""Writes small tokenizer fixtures for codeneurons (test/fixtures/tokenizers).

Run: /usr/bin/python3 scripts/reference/make_tokenizer_fixtures.py

Each tokenizer exists twice: as the old-style vocabulary files (vocab.txt, or vocab.json + merges.txt, with
tokenizer_config.json) and as the equivalent hand-written tokenizer.json, so that codeneurons' own
WordPiece / byte-level BPE can be checked against @huggingface/tokenizers on the same vocabulary.

  lines.txt                   Java lines (a sample of the paper's corpus, every non-ASCII line) + tricky lines
  wordpiece-uncased{,-json}/  BERT uncased (do_lower_case, accent stripping, CJK handling)
  wordpiece-cased{,-json}/    BERT cased
  bpe-roberta{,-json}/        RoBERTa/CodeBERT-style byte-level BPE: <s> … </s>, <mask> with lstrip
  bpe-gpt2{,-json}/           GPT-2/CodeGPT-style byte-level BPE: no special tokens around a sentence
  bpe-prefix{,-json}/         byte-level BPE with add_prefix_space
  metaspace-json/             Llama-2-style: Prepend/Replace normalizer, BPE with byte fallback, <s> prefix
"""

import collections
import json
import os
import random
import re
import shutil
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "test", "fixtures", "tokenizers")
CORPUS = "/work/shared/data/java-token-lines/train.in"

TRICKY = [
    "String s = \"héllo wörld\" ;",
    "Ünïcödé ÀÉÎÕÜ naïve café",
    "int π = 3 ; double Ω = 2.5e-3 ;",
    "String 中文 = \"日本語テキスト\" ;",
    "emoji ( \"😀\" , \"👍🏽\" , \"🇩🇪\" ) ;",
    "tabs\tbetween\twords and  double  spaces",
    "x = '\u00a0' ; y = '\u200b' ; z = '\ufeff' ;",
    "a\u0301 e\u0308 combining marks",
    "NAME_WITH_UNDERSCORES __init__ $dollar @Override",
    "0x1F 0b1010 1_000_000 3.14f 2L .5",
    "s . split ( \"\\\\s+\" ) ; c = '\\n' ;",
    "// comment with punctuation !?.,;:()[]{}<>=+-*/%&|^~",
    "[CLS] [SEP] <s> </s> <mask> <|endoftext|> [MASK]",
    "averyveryveryverylongidentifierthatgoesonandonandonandonandonandonandonandonandonandonandonandonandonx1",
    "Ελληνικά Русский עברית العربية हिन्दी",
    "don't we'll they've I'm she'd it's",
]


def corpus_lines():
    with open(CORPUS, encoding="utf-8", errors="strict", newline="\n") as f:
        lines = [line.rstrip("\n") for line in f]
    rng = random.Random(0)
    sample = rng.sample(lines, 400)
    special = [line for line in lines if re.search(r"[^\x20-\x7e]", line)]
    return sample + [line for line in special if line not in sample]


# ---- BERT-style WordPiece vocabulary ----

PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def basic_words(line, lower):
    text = line.lower() if lower else line
    if lower:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return PUNCT.sub(r" \1 ", text).split()


def camel_parts(word):
    return re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", word)


def wordpiece_vocab(lines, lower):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    counts = collections.Counter(w for line in lines for w in basic_words(line, lower))
    chars = sorted({c for line in lines for w in basic_words(line, lower) for c in w})
    chars += [c for c in "中文日本語πω" if c not in chars]
    pieces = collections.Counter()
    for line in lines:
        for w in line.split():
            for part in camel_parts(w)[1:]:
                pieces["##" + (part.lower() if lower else part)] += 1
    vocab = list(specials)
    vocab += chars + ["##" + c for c in chars]
    vocab += [w for w, _ in counts.most_common(300) if len(w) > 1]
    vocab += [p for p, _ in pieces.most_common(150)]
    seen = set()
    return [t for t in vocab if not (t in seen or seen.add(t))]


def write_wordpiece(name, vocab, lower):
    plain = os.path.join(OUT, name)
    os.makedirs(plain)
    with open(os.path.join(plain, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    config = {"do_lower_case": lower, "tokenizer_class": "BertTokenizer", "model_max_length": 512}
    write_json(os.path.join(plain, "tokenizer_config.json"), config)
    ids = {t: i for i, t in enumerate(vocab)}
    special = lambda t: {"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": False, "special": True}
    template_token = lambda t: {"id": t, "ids": [ids[t]], "tokens": [t]}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(t) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": lower},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": template_token("[CLS]"), "[SEP]": template_token("[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }
    as_json = os.path.join(OUT, name + "-json")
    os.makedirs(as_json)
    write_json(os.path.join(as_json, "tokenizer.json"), tok)
    write_json(os.path.join(as_json, "tokenizer_config.json"), config)


# ---- byte-level BPE ----

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def train_merges(words, count):
    """Plain BPE training on symbol tuples: the most frequent adjacent pair, ties by first appearance."""
    vocab = collections.Counter(tuple(w) for w in words)
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for word, freq in vocab.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += freq
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: kv[1])[0]
        merges.append(best)
        merged = collections.Counter()
        for word, freq in vocab.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        vocab = merged
    return merges


def bpe_model(lines):
    b2u = bytes_to_unicode()
    words = []
    for line in lines:
        for i, w in enumerate(line.split()):
            text = w if i == 0 else " " + w
            words.append("".join(b2u[b] for b in text.encode("utf-8")))
    merges = train_merges(words, 400)
    tokens = [b2u[b] for b in range(256)]
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    return tokens, merges


def write_bpe(name, tokens, merges, style, add_prefix_space):
    if style == "roberta":
        head, tail = ["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"]
    else:
        head, tail = [], ["<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(head + tokens + tail)}
    plain = os.path.join(OUT, name)
    os.makedirs(plain)
    write_json(os.path.join(plain, "vocab.json"), vocab)
    with open(os.path.join(plain, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    if style == "roberta":
        config = {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": add_prefix_space,
                  "model_max_length": 512, "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
                  "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                  "mask_token": {"__type": "AddedToken", "content": "<mask>", "lstrip": True, "rstrip": False,
                                 "normalized": True, "single_word": False}}
        post = {"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]], "cls": ["<s>", vocab["<s>"]],
                "trim_offsets": True, "add_prefix_space": add_prefix_space}
        added = [added_token(vocab, t) for t in head] + [added_token(vocab, "<mask>", lstrip=True)]
    else:
        config = {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": add_prefix_space, "model_max_length": 1024,
                  "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
        post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
        added = [added_token(vocab, "<|endoftext|>")]
    write_json(os.path.join(plain, "tokenizer_config.json"), config)
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }
    as_json = os.path.join(OUT, name + "-json")
    os.makedirs(as_json)
    write_json(os.path.join(as_json, "tokenizer.json"), tok)
    write_json(os.path.join(as_json, "tokenizer_config.json"), config)


def added_token(vocab, content, lstrip=False):
    return {"id": vocab[content], "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": False, "special": True}


# ---- Llama-2-style SentencePiece BPE as tokenizer.json ----

def write_metaspace(lines):
    words = []
    for line in lines:
        for w in line.split():
            words.append(list("\u2581" + w))
    merges = train_merges(words, 300)
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    chars = sorted({c for w in words for c in w if ord(c) < 0x3000})
    tokens = ["<unk>", "<s>", "</s>"] + byte_tokens + chars
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added_token(vocab, t) for t in ["<unk>", "<s>", "</s>"]],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [vocab["<s>"]], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    folder = os.path.join(OUT, "metaspace-json")
    os.makedirs(folder)
    write_json(os.path.join(folder, "tokenizer.json"), tok)
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None, "model_max_length": 4096})


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=None, separators=(",", ":"))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    lines = corpus_lines()
    with open(os.path.join(OUT, "lines.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines + TRICKY))
    train = lines[:300]
    write_wordpiece("wordpiece-uncased", wordpiece_vocab(train, True), True)
    write_wordpiece("wordpiece-cased", wordpiece_vocab(train, False), False)
    tokens, merges = bpe_model(train)
    write_bpe("bpe-roberta", tokens, merges, "roberta", False)
    write_bpe("bpe-gpt2", tokens, merges, "gpt2", False)
    write_bpe("bpe-prefix", tokens, merges, "roberta", True)
    write_metaspace(train)


if __name__ == "__main__":
    main()
