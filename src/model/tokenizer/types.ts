/** The roles special tokens play; `specialTokens` maps the ones a tokenizer has to their ids. */
export const SPECIAL_ROLES = ["cls", "sep", "bos", "eos", "pad", "unk", "mask"] as const;
export type SpecialRole = (typeof SPECIAL_ROLES)[number];

export type TokenizerKind = "tokenizer.json" | "wordpiece" | "byte-level-bpe";

/**
 * A tokenizer seen word by word, which is how extraction uses it: a sentence is a line of
 * whitespace-separated words joined by single spaces, and each word's subwords are aggregated into one
 * vector. Tokenizing the words one by one gives exactly the ids of tokenizing the joined sentence.
 */
export interface WordTokenizer {
  readonly kind: TokenizerKind;
  /**
   * Subword ids of one word as it is tokenized inside a sentence of words joined by single spaces;
   * isFirst: it starts the sentence (no space before it). A word may hold inner whitespace (a string
   * literal); it is tokenized exactly as that text would be inside the sentence. May be empty when
   * normalization removes every character (e.g. a word made only of control or zero-width characters
   * for BERT).
   */
  tokenizeWord(word: string, isFirst: boolean): number[];
  /** Tokens before one sequence: BERT [CLS], RoBERTa <s>, Llama <s>, GPT-2 none. */
  readonly prefixIds: readonly number[];
  /** Tokens after one sequence: BERT [SEP], RoBERTa </s>, GPT-2 none. */
  readonly suffixIds: readonly number[];
  /** Padding id: the pad token, else eos, else unk, else 0 (padded positions are masked anyway). */
  readonly padId: number;
  readonly unkId: number | null;
  readonly specialTokens: Readonly<Partial<Record<SpecialRole, number>>>;
  /** Number of ids (largest id + 1, added tokens included). */
  readonly vocabSize: number;
  /** tokenizer_config.json's model_max_length when it is a real limit, else null. */
  readonly maxLength: number | null;
  idToToken(id: number): string;
  tokenToId(token: string): number | undefined;
}

/** The ids of a sentence given as words, and where each word's ids start (ids exclude prefix/suffix). */
export interface EncodedWords {
  ids: number[];
  /** wordStarts[i] is the index in `ids` of word i's first subword; wordStarts[n] = ids.length. */
  wordStarts: number[];
}

export function encodeWords(tokenizer: WordTokenizer, words: readonly string[]): EncodedWords {
  const ids: number[] = [];
  const wordStarts: number[] = [];
  words.forEach((w, i) => {
    wordStarts.push(ids.length);
    for (const id of tokenizer.tokenizeWord(w, i === 0)) ids.push(id);
  });
  wordStarts.push(ids.length);
  return { ids, wordStarts };
}
