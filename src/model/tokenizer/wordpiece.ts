import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { type AddedToken, AddedTokenSplitter } from "./added.js";
import type { AddedTokenSpec, TokenizerSettings } from "./settings.js";
import { SPECIAL_ROLES, type SpecialRole, type WordTokenizer } from "./types.js";
import { checkVocabulary } from "./vocab-check.js";

/**
 * BERT's tokenizer built from vocab.txt, as transformers builds BertTokenizerFast from it: BertNormalizer
 * (clean text, pad CJK characters, lower-case and strip accents when do_lower_case), BertPreTokenizer
 * (split on whitespace and punctuation), WordPiece (greedy longest match, "##" continuations, [UNK] for
 * words longer than max_input_chars_per_word or without a match). Then [CLS] … [SEP] around a sentence.
 */

const BERT_DEFAULTS: Record<SpecialRole, string | null> = {
  cls: "[CLS]",
  sep: "[SEP]",
  pad: "[PAD]",
  unk: "[UNK]",
  mask: "[MASK]",
  bos: null,
  eos: null,
};

const MAX_INPUT_CHARS_PER_WORD = 100;
const CONTINUATION = "##";

/** vocab.txt: one token per line, the id is the line number counted from 0. */
export function readVocabTxt(path: string): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) throw new InputError(path, "is empty");
  const vocab = new Map<string, number>();
  lines.forEach((token, id) => {
    vocab.set(token, id);
  });
  return vocab;
}

export interface BertNormalizerOptions {
  lowercase: boolean;
  stripAccents: boolean;
  handleChineseChars: boolean;
}

// Categories as BERT defines them: control = Unicode "C*" except \t \n \r; punctuation = ASCII
// punctuation or "P*".
const CONTROL = /\p{C}/u;
const PUNCTUATION = /[\p{P}!-/:-@[-`{-~]/u;
const WHITESPACE = /\s/u;
const NONSPACING_MARKS = /\p{Mn}/gu;

export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** BertNormalizer: removes control characters, maps whitespace to spaces, pads CJK, lower-cases. */
export function bertNormalize(text: string, opts: BertNormalizerOptions): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (cp === 0 || cp === 0xfffd || (CONTROL.test(ch) && ch !== "\t" && ch !== "\n" && ch !== "\r"))
      continue;
    if (WHITESPACE.test(ch)) out += " ";
    else if (opts.handleChineseChars && isChineseChar(cp)) out += ` ${ch} `;
    else out += ch;
  }
  // transformers' BasicTokenizer lower-cases, then strips accents (NFD, drop non-spacing marks).
  if (opts.lowercase) out = out.toLowerCase();
  if (opts.stripAccents) out = out.normalize("NFD").replace(NONSPACING_MARKS, "");
  return out;
}

/** BertPreTokenizer: whitespace separates, each punctuation character stands alone. */
export function bertPreTokenize(text: string): string[] {
  const out: string[] = [];
  let word = "";
  for (const ch of text) {
    if (WHITESPACE.test(ch)) {
      if (word) out.push(word);
      word = "";
    } else if (PUNCTUATION.test(ch)) {
      if (word) out.push(word);
      out.push(ch);
      word = "";
    } else word += ch;
  }
  if (word) out.push(word);
  return out;
}

export class WordPieceTokenizer implements WordTokenizer {
  readonly kind = "wordpiece" as const;
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly padId: number;
  readonly unkId: number;
  readonly specialTokens: Readonly<Partial<Record<SpecialRole, number>>>;
  readonly vocabSize: number;
  readonly maxLength: number | null;
  private readonly vocab: Map<string, number>;
  private readonly tokens: string[];
  private readonly splitter: AddedTokenSplitter;
  private readonly normalizer: BertNormalizerOptions;
  private readonly cache = new Map<string, number[]>();

  constructor(vocab: Map<string, number>, settings: TokenizerSettings, vocabPath: string) {
    this.vocab = vocab;
    const lowercase = settings.doLowerCase ?? true;
    this.normalizer = {
      lowercase,
      stripAccents: settings.stripAccents ?? lowercase,
      handleChineseChars: settings.tokenizeChineseChars,
    };
    const added = resolveAdded(settings, BERT_DEFAULTS, vocab);
    checkVocabulary(vocabPath, undefined, vocab, specialIds(added, settings, vocab));
    this.specialTokens = added.special;
    const unk = this.specialTokens.unk;
    if (unk === undefined) throw new InputError(vocabPath, `has no unknown token '${added.unkContent}'`);
    this.unkId = unk;
    this.tokens = idTable(vocab, added.tokens);
    this.vocabSize = this.tokens.length;
    this.splitter = new AddedTokenSplitter(added.tokens);
    this.prefixIds = this.specialTokens.cls === undefined ? [] : [this.specialTokens.cls];
    this.suffixIds = this.specialTokens.sep === undefined ? [] : [this.specialTokens.sep];
    this.padId = this.specialTokens.pad ?? this.unkId;
    this.maxLength = settings.maxLength;
  }

  static load(dir: string, settings: TokenizerSettings): WordPieceTokenizer {
    const path = join(dir, "vocab.txt");
    return new WordPieceTokenizer(readVocabTxt(path), settings, path);
  }

  tokenizeWord(word: string, _isFirst: boolean): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached.slice();
    const ids: number[] = [];
    for (const piece of this.splitter.split(word)) {
      if (typeof piece === "number") ids.push(piece);
      else for (const w of bertPreTokenize(bertNormalize(piece, this.normalizer))) this.wordPiece(w, ids);
    }
    if (this.cache.size > 200_000) this.cache.clear();
    this.cache.set(word, ids);
    return ids.slice();
  }

  idToToken(id: number): string {
    return this.tokens[id] ?? "";
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** Greedy longest-match-first over code points. */
  private wordPiece(word: string, out: number[]): void {
    const chars = Array.from(word);
    if (chars.length > MAX_INPUT_CHARS_PER_WORD) {
      out.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let found: number | undefined;
      for (; end > start; end--) {
        const sub = (start > 0 ? CONTINUATION : "") + chars.slice(start, end).join("");
        found = this.vocab.get(sub);
        if (found !== undefined) break;
      }
      if (found === undefined) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const id of pieces) out.push(id);
  }
}

export interface ResolvedAdded {
  special: Partial<Record<SpecialRole, number>>;
  tokens: AddedToken[];
  unkContent: string | null;
}

/**
 * The special tokens (configured, else the family's defaults) and added tokens, with ids: from the
 * vocabulary, else from the added token's own id. Tokens that have neither are left out.
 */
export function resolveAdded(
  settings: TokenizerSettings,
  defaults: Record<SpecialRole, string | null>,
  vocab: Map<string, number>,
  extraDefaults: Partial<Record<SpecialRole, Partial<AddedTokenSpec>>> = {},
): ResolvedAdded {
  const tokens = new Map<string, AddedToken>();
  const idOf = (spec: AddedTokenSpec) => vocab.get(spec.content) ?? spec.id;
  const add = (spec: AddedTokenSpec): number | undefined => {
    const id = idOf(spec);
    if (id === undefined) return undefined;
    const known = tokens.get(spec.content);
    tokens.set(spec.content, {
      content: spec.content,
      id,
      lstrip: spec.lstrip || (known?.lstrip ?? false),
      rstrip: spec.rstrip || (known?.rstrip ?? false),
      singleWord: spec.singleWord,
    });
    return id;
  };
  for (const spec of settings.addedTokens) add(spec);
  const special: Partial<Record<SpecialRole, number>> = {};
  for (const role of SPECIAL_ROLES) {
    const fallback = defaults[role];
    const spec =
      settings.special[role] ??
      (fallback === null
        ? null
        : {
            content: fallback,
            lstrip: false,
            rstrip: false,
            singleWord: false,
            special: true,
            ...extraDefaults[role],
          });
    if (!spec) continue;
    const id = add(spec);
    if (id !== undefined) special[role] = id;
  }
  const unkContent = settings.special.unk?.content ?? defaults.unk;
  return { special, tokens: [...tokens.values()], unkContent };
}

/** The ids of the special tokens: the roles' and those of added tokens marked special. */
export function specialIds(
  added: ResolvedAdded,
  settings: TokenizerSettings,
  vocab: ReadonlyMap<string, number>,
): number[] {
  const ids = Object.values(added.special);
  for (const spec of settings.addedTokens) {
    const id = vocab.get(spec.content) ?? spec.id;
    if (spec.special && id !== undefined) ids.push(id);
  }
  return ids;
}

/** id → token for the vocabulary and the added tokens. */
export function idTable(vocab: Map<string, number>, added: readonly AddedToken[]): string[] {
  let size = 0;
  for (const id of vocab.values()) size = Math.max(size, id + 1);
  for (const t of added) size = Math.max(size, t.id + 1);
  const table = new Array<string>(size).fill("");
  for (const [token, id] of vocab) table[id] = token;
  for (const t of added) table[t.id] = t.content;
  return table;
}
