import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { AddedTokenSplitter } from "./added.js";
import { readJsonFile } from "./json.js";
import { MAX_VOCAB_ID, type TokenizerSettings } from "./settings.js";
import type { SpecialRole, WordTokenizer } from "./types.js";
import { checkVocabulary } from "./vocab-check.js";
import { idTable, resolveAdded, specialIds } from "./wordpiece.js";

/**
 * Byte-level BPE from vocab.json + merges.txt (GPT-2, RoBERTa, CodeBERT, CodeGPT): the GPT-2
 * pre-tokenizer regex, each piece's UTF-8 bytes mapped to printable characters (bytes_to_unicode), then
 * BPE merges by rank. RoBERTa-style tokenizers put <s> … </s> around a sentence, GPT-2-style ones nothing.
 */

/** GPT-2's pre-tokenizer: contractions, letters, digits, other symbols, each with an optional space. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's map from bytes to printable characters, so that BPE works on strings without spaces. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return out;
})();

export function readVocabJson(path: string): Map<string, number> {
  const json = readJsonFile(path);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(path, "must be a JSON object of token → id");
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json as Record<string, unknown>)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= MAX_VOCAB_ID) {
      throw new InputError(path, `id of '${token}' must be an integer in [0, ${MAX_VOCAB_ID})`, {
        field: token,
      });
    }
    vocab.set(token, id as number);
  }
  if (vocab.size === 0) throw new InputError(path, "is empty");
  return vocab;
}

/** merges.txt: "#version" lines, then one "left right" pair per line, in rank order. */
export function readMerges(path: string, vocab: Map<string, number>): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const ranks = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line === "" || line.startsWith("#version")) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new InputError(path, `expected two tokens separated by one space, got '${line.slice(0, 60)}'`, {
        line: i + 1,
      });
    }
    for (const t of [parts[0], parts[1], parts[0] + parts[1]]) {
      if (!vocab.has(t))
        throw new InputError(path, `merge uses '${t}', which is not in vocab.json`, { line: i + 1 });
    }
    const key = `${parts[0]} ${parts[1]}`;
    if (!ranks.has(key)) ranks.set(key, ranks.size);
  });
  return ranks;
}

const ROBERTA_DEFAULTS: Record<SpecialRole, string | null> = {
  bos: "<s>",
  eos: "</s>",
  sep: "</s>",
  cls: "<s>",
  unk: "<unk>",
  pad: "<pad>",
  mask: "<mask>",
};

const GPT2_DEFAULTS: Record<SpecialRole, string | null> = {
  bos: "<|endoftext|>",
  eos: "<|endoftext|>",
  unk: "<|endoftext|>",
  cls: null,
  sep: null,
  pad: null,
  mask: null,
};

/** Tokenizer classes and model types that wrap a sentence as <s> … </s>. */
const ROBERTA_LIKE =
  /^(roberta|xlm-roberta|bart|mbart|longformer|camembert|led|blenderbot|mvp|markuplm|layoutlmv3)/i;

function isRobertaStyle(settings: TokenizerSettings, vocab: Map<string, number>): boolean {
  if (settings.tokenizerClass) return ROBERTA_LIKE.test(settings.tokenizerClass);
  if (settings.modelType) return ROBERTA_LIKE.test(settings.modelType);
  return vocab.has("<s>") && vocab.has("</s>") && !vocab.has("<|endoftext|>");
}

/** A min-heap of candidate merges ordered by (rank, position): the order BPE applies them in. */
class MergeQueue {
  private items: [number, number][] = [];
  push(rank: number, pos: number): void {
    const a = this.items;
    a.push([rank, pos]);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): [number, number] | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (r < a.length && less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function less(x: [number, number], y: [number, number]): boolean {
  return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
}

export class ByteLevelBpeTokenizer implements WordTokenizer {
  readonly kind = "byte-level-bpe" as const;
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly padId: number;
  readonly unkId: number | null;
  readonly specialTokens: Readonly<Partial<Record<SpecialRole, number>>>;
  readonly vocabSize: number;
  readonly maxLength: number | null;
  private readonly tokens: string[];
  private readonly splitter: AddedTokenSplitter;
  private readonly addPrefixSpace: boolean;
  private readonly cache = new Map<string, number[]>();
  private readonly wordCache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();

  /** @param vocabPath names vocab.json in errors */
  constructor(
    private readonly vocab: Map<string, number>,
    private readonly ranks: Map<string, number>,
    settings: TokenizerSettings,
    vocabPath = "vocab.json",
  ) {
    const roberta = isRobertaStyle(settings, vocab);
    const added = roberta
      ? resolveAdded(settings, ROBERTA_DEFAULTS, vocab, { mask: { lstrip: true } })
      : resolveAdded(settings, GPT2_DEFAULTS, vocab);
    checkVocabulary(vocabPath, undefined, vocab, specialIds(added, settings, vocab));
    this.specialTokens = added.special;
    this.tokens = idTable(vocab, added.tokens);
    this.vocabSize = this.tokens.length;
    this.splitter = new AddedTokenSplitter(added.tokens);
    this.unkId = this.specialTokens.unk ?? null;
    this.addPrefixSpace = settings.addPrefixSpace ?? false;
    const s = this.specialTokens;
    if (roberta) {
      this.prefixIds = s.cls === undefined ? [] : [s.cls];
      this.suffixIds = s.sep === undefined ? [] : [s.sep];
    } else {
      this.prefixIds = settings.addBosToken && s.bos !== undefined ? [s.bos] : [];
      this.suffixIds = settings.addEosToken && s.eos !== undefined ? [s.eos] : [];
    }
    this.padId = s.pad ?? s.eos ?? this.unkId ?? 0;
    this.maxLength = settings.maxLength;
  }

  static load(dir: string, settings: TokenizerSettings): ByteLevelBpeTokenizer {
    const vocabPath = join(dir, "vocab.json");
    const vocab = readVocabJson(vocabPath);
    return new ByteLevelBpeTokenizer(vocab, readMerges(join(dir, "merges.txt"), vocab), settings, vocabPath);
  }

  tokenizeWord(word: string, isFirst: boolean): number[] {
    // Inside a sentence a word follows a space; the first word gets one only with add_prefix_space.
    const text = isFirst ? word : ` ${word}`;
    const cached = this.wordCache.get(text);
    if (cached) return cached.slice();
    const ids: number[] = [];
    // As in Hugging Face, add_prefix_space applies to every stretch of text between added tokens.
    for (const piece of this.splitter.split(text)) {
      if (typeof piece === "number") ids.push(piece);
      else this.encodeText(piece, this.addPrefixSpace, ids);
    }
    if (this.wordCache.size > 200_000) this.wordCache.clear();
    this.wordCache.set(text, ids);
    return ids.slice();
  }

  idToToken(id: number): string {
    return this.tokens[id] ?? "";
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  private encodeText(text: string, prefixSpace: boolean, out: number[]): void {
    const input = prefixSpace && !text.startsWith(" ") ? ` ${text}` : text;
    for (const m of input.matchAll(GPT2_PATTERN)) {
      let mapped = "";
      for (const b of this.utf8.encode(m[0])) mapped += BYTE_TO_CHAR[b];
      for (const id of this.bpe(mapped)) out.push(id);
    }
  }

  /** BPE of one pre-token: merge the lowest-ranked adjacent pair (leftmost first) until none is left. */
  private bpe(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const symbols = Array.from(piece);
    const next = symbols.map((_, i) => i + 1);
    const prev = symbols.map((_, i) => i - 1);
    const queue = new MergeQueue();
    const consider = (i: number) => {
      const j = next[i];
      if (j >= symbols.length) return;
      const rank = this.ranks.get(`${symbols[i]} ${symbols[j]}`);
      if (rank !== undefined) queue.push(rank, i);
    };
    for (let i = 0; i + 1 < symbols.length; i++) consider(i);
    for (let item = queue.pop(); item; item = queue.pop()) {
      const [rank, i] = item;
      const j = next[i];
      // Stale entries: the left symbol was merged away, or the pair changed since it was queued.
      if (symbols[i] === "" || j >= symbols.length || this.ranks.get(`${symbols[i]} ${symbols[j]}`) !== rank)
        continue;
      symbols[i] += symbols[j];
      symbols[j] = "";
      next[i] = next[j];
      if (next[j] < symbols.length) prev[next[j]] = i;
      if (prev[i] >= 0) consider(prev[i]);
      consider(i);
    }
    const ids: number[] = [];
    for (let i = 0; i < symbols.length; i = next[i]) {
      const id = this.vocab.get(symbols[i]);
      // Without an unknown token, Hugging Face drops pieces missing from the vocabulary.
      if (id !== undefined) ids.push(id);
      else if (this.unkId !== null) ids.push(this.unkId);
    }
    if (this.cache.size > 200_000) this.cache.clear();
    this.cache.set(piece, ids);
    return ids;
  }
}
