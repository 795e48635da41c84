import type { ColumnSummary } from "./top-words.js";
import { directedScores, topTypes } from "./top-words.js";
import type { WordTypes } from "./word-types.js";

/**
 * Concept neurons: a neuron whose top-k word types (by mean z-score, in either direction) mostly belong
 * to one concept. Working on word types rather than occurrences means that a neuron firing on one
 * frequent word ("0") is not mistaken for a NUMBER neuron: it must fire on many different numbers.
 */

/** A concept is a set of word types: a class of the labelled corpus, or a user's word list. */
export interface Concept {
  name: string;
  /** members[t] = 1 when word type t belongs to the concept. */
  members: Uint8Array;
}

/** One concept per class: the word types whose majority label is that class. */
export function conceptsFromClasses(types: WordTypes, classes: readonly string[]): Concept[] {
  return classes.map((name, c) => {
    const members = new Uint8Array(types.types.length);
    for (let t = 0; t < members.length; t++) if (types.label[t] === c) members[t] = 1;
    return { name, members };
  });
}

/** A concept from a word list (e.g. a keyword set). */
export function conceptFromWords(types: WordTypes, name: string, words: Iterable<string>): Concept {
  const set = new Set(words);
  const members = new Uint8Array(types.types.length);
  for (let t = 0; t < members.length; t++) if (set.has(types.types[t])) members[t] = 1;
  return { name, members };
}

/** A concept from a pattern over the word text (e.g. numeric literals). */
export function conceptFromPattern(types: WordTypes, name: string, pattern: RegExp): Concept {
  const members = new Uint8Array(types.types.length);
  for (let t = 0; t < members.length; t++) if (pattern.test(types.types[t])) members[t] = 1;
  return { name, members };
}

/**
 * Lexical concepts that need no labels: Java-style number and string literals. They let an unlabelled
 * corpus still find number and string neurons.
 */
export const LEXICAL_PATTERNS: Record<string, RegExp> = {
  "lex:NUMBER": /^(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[lLfFdD]?$|^0[xX][\da-fA-F_]+[lL]?$/,
  "lex:STRING": /^"(?:[^"\\]|\\.)*"$/,
};

export interface ConceptScan {
  concept: number;
  direction: "positive" | "negative";
  hits: number;
  /** Word types drawn for this concept: min(k, the concept's size). */
  drawn: number;
  pValue: number;
  /** The neuron's top-k word types in this direction, best first. */
  words: number[];
}

export interface ConceptScanner {
  readonly concepts: Concept[];
  readonly eligibleTypes: number;
  /** Member counts among eligible types, per concept. */
  readonly baseCounts: number[];
  readonly k: number;
  /** The most significant (concept, direction) of one neuron. */
  scan(summary: ColumnSummary): ConceptScan | null;
  /** Upper tail P(X >= hits) when drawing min(k, size) types: hypergeometric over the eligible types. */
  pValue(concept: number, hits: number): number;
  /** How many of the top types are compared with a concept: min(k, its size). */
  drawnFor(concept: number): number;
}

/**
 * Purity of a concept is measured on the top min(k, K) word types, K the concept's size, so that a
 * concept with few word types (NUMBER in a small corpus holds "0" and "1") can still be pure: a
 * neuron whose top two types are exactly those two numbers is a number neuron. The hypergeometric
 * test (and its Bonferroni correction by the caller) keeps tiny concepts from passing by chance.
 */
export function conceptScanner(
  types: WordTypes,
  concepts: Concept[],
  k: number,
  minCount = 1,
): ConceptScanner {
  const eligible = (t: number): boolean => types.counts[t] >= minCount;
  let n = 0;
  const baseCounts = concepts.map(() => 0);
  for (let t = 0; t < types.types.length; t++) {
    if (!eligible(t)) continue;
    n++;
    concepts.forEach((c, i) => {
      baseCounts[i] += c.members[t];
    });
  }
  const kk = Math.min(k, n);
  const logFact = logFactorials(n);
  const drawnFor = (concept: number): number => Math.min(kk, baseCounts[concept]);
  const pValue = (concept: number, hits: number): number =>
    hypergeometricTail(logFact, n, baseCounts[concept], drawnFor(concept), hits);
  // The most significant (concept, direction) wins, not the most hits: a concept holding most word
  // types (IDENT in raw code) would otherwise win every neuron.
  const scan = (summary: ColumnSummary): ConceptScan | null => {
    let best: ConceptScan | null = null;
    for (const direction of ["positive", "negative"] as const) {
      const words = topTypes(types.types.length, directedScores(summary, direction), kk, eligible);
      concepts.forEach((c, ci) => {
        const drawn = drawnFor(ci);
        if (drawn === 0) return;
        let hits = 0;
        for (let i = 0; i < drawn && i < words.length; i++) hits += c.members[words[i]];
        const p = pValue(ci, hits);
        if (
          best === null ||
          p < best.pValue ||
          (p === best.pValue && hits / drawn > best.hits / best.drawn)
        ) {
          best = { concept: ci, direction, hits, drawn, pValue: p, words };
        }
      });
    }
    return best;
  };
  return { concepts, eligibleTypes: n, baseCounts, k: kk, scan, pValue, drawnFor };
}

function logFactorials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let i = 2; i <= n; i++) out[i] = out[i - 1] + Math.log(i);
  return out;
}

function logChoose(logFact: Float64Array, n: number, k: number): number {
  return logFact[n] - logFact[k] - logFact[n - k];
}

/** P(X >= x) for X ~ Hypergeometric(population n, successes K, draws k). */
export function hypergeometricTail(
  logFact: Float64Array,
  n: number,
  K: number,
  k: number,
  x: number,
): number {
  const hi = Math.min(K, k);
  const lo = Math.max(x, 0, k - (n - K));
  if (lo > hi) return 0;
  const denom = logChoose(logFact, n, k);
  let p = 0;
  for (let i = lo; i <= hi; i++) {
    p += Math.exp(logChoose(logFact, K, i) + logChoose(logFact, n - K, k - i) - denom);
  }
  return Math.min(1, p);
}

/** log-factorial table for callers that test hypergeometricTail directly. */
export function logFactorialTable(n: number): Float64Array {
  return logFactorials(n);
}
