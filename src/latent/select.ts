import type { ActivationStore } from "../store/index.js";
import { UserError } from "../util/errors.js";
import { Rng } from "../util/rng.js";

/**
 * ConceptX's token sample (Dalvi et al., 2022): contextual representations of word tokens, each word
 * type kept at most `maxPerType` times so that frequent tokens (`(`, `.`, `;`) do not fill the
 * clusters, up to `maxTokens` tokens. Which occurrences are kept is a seeded random choice: the store's
 * rows are visited in a random order (one permutation for the seed) and an occurrence is kept while
 * its type has fewer than `maxPerType`. Every layer is clustered over the same tokens.
 */
export interface SelectionOptions {
  maxTokens: number;
  maxPerType: number;
  seed: number;
}

/** The chosen tokens in store order. */
export interface TokenSelection {
  /** Store rows, ascending. */
  rows: Int32Array;
  /** The input line (store sentence) and word position of each token. */
  sentence: Int32Array;
  position: Int32Array;
  words: string[];
  /** Word types in the store, and how many of them reached maxPerType. */
  types: number;
  cappedTypes: number;
}

export function selectTokens(store: ActivationStore, opts: SelectionOptions): TokenSelection {
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1)
    throw new UserError(`the number of tokens must be a positive integer, got ${opts.maxTokens}`);
  if (!Number.isInteger(opts.maxPerType) || opts.maxPerType < 1)
    throw new UserError(`the occurrences per word type must be a positive integer, got ${opts.maxPerType}`);
  const n = store.meta.numRows;
  const order = new Rng(opts.seed).permutation(n);
  const seen = new Map<string, number>();
  const kept: number[] = [];
  for (const row of order) {
    const { sentence, word } = store.locate(row);
    const text = store.words(sentence)[word];
    const count = seen.get(text) ?? 0;
    if (count < opts.maxPerType) {
      kept.push(row);
      if (kept.length === opts.maxTokens) break;
    }
    seen.set(text, count + 1);
  }
  kept.sort((a, b) => a - b);
  const sentence = new Int32Array(kept.length);
  const position = new Int32Array(kept.length);
  const words: string[] = [];
  kept.forEach((row, i) => {
    const at = store.locate(row);
    sentence[i] = at.sentence;
    position[i] = at.word;
    words.push(store.words(at.sentence)[at.word]);
  });
  const all = new Map<string, number>();
  for (let s = 0; s < store.numLines; s++) for (const w of store.words(s)) all.set(w, (all.get(w) ?? 0) + 1);
  let capped = 0;
  for (const c of all.values()) if (c > opts.maxPerType) capped++;
  return { rows: Int32Array.from(kept), sentence, position, words, types: all.size, cappedTypes: capped };
}
