"""A small byte-level BPE tokenizer (GPT-2 / RoBERTa style): trainer, encoder and file writers.

Debian has no `tokenizers` (nor `regex`) package, so this is written out by hand. It reproduces what
Hugging Face's ByteLevelBPETokenizer does, so that the files it writes load unchanged in
`transformers`' RobertaTokenizer (vocab.json + merges.txt) and in `tokenizers` / tokenizers.js
(tokenizer.json):

- pre-tokenization: the GPT-2 split regex
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
  implemented as a scanner over Unicode categories (Python's `re` has no \\p{L}), then every UTF-8 byte
  of a piece is mapped to a printable character with GPT-2's bytes_to_unicode table (a space becomes 'Ġ');
- the model: merges applied by rank (lowest rank first) inside each piece; the initial alphabet is all
  256 byte characters, so no input is ever unknown.

Used only to build the bundled model's tokenizer; codeneurons itself never runs Python.
"""
import heapq
import json
import unicodedata
from collections import Counter, defaultdict

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, as RoBERTa and CodeBERTa have them
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
# Unicode's White_Space property (what \s means in the Oniguruma / Rust regex engines used by `tokenizers`).
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def _kind(ch):
    """'s' whitespace, 'L' letter, 'N' number, 'o' anything else: the classes of the GPT-2 regex."""
    if ch in WHITE_SPACE:
        return "s"
    cat = unicodedata.category(ch)[0]
    return cat if cat in ("L", "N") else "o"


def _run_end(kinds, start, kind):
    end = start
    while end < len(kinds) and kinds[end] == kind:
        end += 1
    return end


def pre_tokenize(text):
    """Splits text exactly as the GPT-2 regex does (alternatives tried in order, each greedy)."""
    kinds = [_kind(ch) for ch in text]
    pieces, i, n = [], 0, len(text)
    while i < n:
        contraction = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if contraction is not None:
            end = i + len(contraction)
        elif kinds[i] in ("L", "N", "o"):
            end = _run_end(kinds, i, kinds[i])
        elif text[i] == " " and i + 1 < n and kinds[i + 1] in ("L", "N", "o"):
            end = _run_end(kinds, i + 1, kinds[i + 1])
        else:
            # \s+(?!\S): the whole whitespace run at the end of the text, else all of it but its last
            # character (which then prefixes the next piece); a single space falls through to \s+.
            run_end = _run_end(kinds, i, "s")
            end = run_end if run_end == n or run_end - i == 1 else run_end - 1
        pieces.append(text[i:end])
        i = end
    return pieces


def to_byte_chars(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def from_byte_chars(chars):
    return bytes(CHAR_TO_BYTE[c] for c in chars).decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------------ training
def count_pieces(lines):
    """Frequency of every byte-mapped pre-token piece over the corpus lines."""
    counts = Counter()
    for line in lines:
        counts.update(to_byte_chars(p) for p in pre_tokenize(line))
    return counts


def train_bpe(piece_counts, vocab_size, progress=None):
    """Learns merges until the vocabulary (specials + 256 bytes + merges) reaches vocab_size.

    Pair counts are updated incrementally (only the pieces containing the merged pair are touched) and
    the best pair is kept in a lazy max-heap, so training takes seconds. Ties between equally frequent
    pairs go to the lexicographically smaller pair, so the result does not depend on hash order.
    """
    words = [list(w) for w in sorted(piece_counts)]
    freqs = [piece_counts["".join(w)] for w in words]
    pair_counts = defaultdict(int)
    pair_words = defaultdict(set)
    for idx, (w, f) in enumerate(zip(words, freqs)):
        for pair in zip(w, w[1:]):
            pair_counts[pair] += f
            pair_words[pair].add(idx)
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)

    alphabet = [BYTE_TO_CHAR[b] for b in range(256)]
    n_merges = vocab_size - len(SPECIAL_TOKENS) - len(alphabet)
    merges = []
    while len(merges) < n_merges and heap:
        neg, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg:
            continue  # stale heap entry
        if -neg < 2:
            break  # nothing left worth merging
        merges.append(pair)
        _apply_merge(pair, words, freqs, pair_counts, pair_words, heap)
        if progress and len(merges) % 1000 == 0:
            progress(f"bpe: {len(merges)}/{n_merges} merges")
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for tok in alphabet + ["".join(m) for m in merges]:
        vocab.setdefault(tok, len(vocab))
    return vocab, merges


def _apply_merge(pair, words, freqs, pair_counts, pair_words, heap):
    a, b = pair
    merged = a + b
    changed = set()
    for idx in pair_words.pop(pair):
        w, f = words[idx], freqs[idx]
        for old in zip(w, w[1:]):
            pair_counts[old] -= f
            changed.add(old)
        out, i = [], 0
        while i < len(w):
            if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                out.append(merged)
                i += 2
            else:
                out.append(w[i])
                i += 1
        words[idx] = out
        for new in zip(out, out[1:]):
            pair_counts[new] += f
            pair_words[new].add(idx)
            changed.add(new)
    pair_counts.pop(pair, None)
    for p in changed:
        c = pair_counts.get(p, 0)
        if c > 0:
            heapq.heappush(heap, (-c, p))
        else:
            pair_counts.pop(p, None)
            pair_words.pop(p, None)


# ------------------------------------------------------------------------------------------------ encoding
class ByteLevelBPE:
    """Encodes text with a trained vocabulary and merge list (GPT-2's `bpe` algorithm)."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.cache = {}

    def bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        word = list(piece)
        while len(word) > 1:
            rank, i = min((self.ranks.get(p, float("inf")), i) for i, p in enumerate(zip(word, word[1:])))
            if rank == float("inf"):
                break
            first, second = word[i], word[i + 1]
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == first and word[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        self.cache[piece] = word
        return word

    def tokenize(self, text):
        return [tok for p in pre_tokenize(text) for tok in self.bpe(to_byte_chars(p))]

    def encode(self, text):
        """Token ids without special tokens."""
        return [self.vocab[t] for t in self.tokenize(text)]

    def encode_words(self, words):
        """Ids of a line given as words joined by single spaces, and the word index of every id.

        Equal to encode(" ".join(words)) because every word after the first starts a new piece with its
        leading space (words contain no whitespace), so pieces never straddle two words.
        """
        ids, word_of = [], []
        for w_index, word in enumerate(words):
            for tok in self.tokenize(word if w_index == 0 else " " + word):
                ids.append(self.vocab[tok])
                word_of.append(w_index)
        return ids, word_of


# ------------------------------------------------------------------------------------------------ files
def write_vocab_and_merges(directory, vocab, merges):
    with open(f"{directory}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(f"{directory}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


def added_token(token_id, content, lstrip=False, normalized=True):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False, "normalized": normalized, "special": True}


def tokenizer_json(vocab, merges):
    """The `tokenizers` serialization of the same tokenizer (what roberta-base's tokenizer.json holds)."""
    specials = [added_token(i, t) for i, t in enumerate(SPECIAL_TOKENS[:4])]
    specials.append(added_token(4, "<mask>", lstrip=True, normalized=False))
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": specials,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


def tokenizer_config(model_max_length):
    mask = {"__type": "AddedToken", "content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False, "single_word": False, "special": True}
    return {
        "tokenizer_class": "RobertaTokenizer",
        "add_prefix_space": False,
        "trim_offsets": True,
        "errors": "replace",
        "model_max_length": model_max_length,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": mask,
    }


def special_tokens_map():
    mask = {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False, "single_word": False}
    return {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": mask}
