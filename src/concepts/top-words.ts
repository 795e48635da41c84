import type { Direction, TopWord, WordExample } from "./types.js";
import type { WordTypes } from "./word-types.js";

/**
 * Per-neuron statistics over word types. A neuron's column (its activation on every corpus row) is
 * z-scored with its own mean and population std; a word type's score is the mean z over its
 * occurrences (signed, for "positive"/"negative"), or the mean |z| (NeuroX's get_top_words).
 */
export interface ColumnSummary {
  mean: number;
  std: number;
  /** Mean z-score per word type. */
  typeZ: Float64Array;
  /** Mean |z| per word type. */
  typeAbsZ: Float64Array;
}

export function meanStd(column: Float32Array): { mean: number; std: number } {
  const n = column.length;
  if (n === 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += column[i];
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = column[i] - mean;
    sq += d * d;
  }
  return { mean, std: Math.sqrt(sq / n) };
}

/** `into` lets a caller reuse the two per-type buffers across thousands of neurons. */
export function summarizeColumn(column: Float32Array, types: WordTypes, into?: ColumnSummary): ColumnSummary {
  const { mean, std } = meanStd(column);
  const nt = types.types.length;
  const typeZ = into && into.typeZ.length === nt ? into.typeZ.fill(0) : new Float64Array(nt);
  const typeAbsZ = into && into.typeAbsZ.length === nt ? into.typeAbsZ.fill(0) : new Float64Array(nt);
  // A constant neuron has no preference: all z-scores are 0.
  const inv = std > 0 ? 1 / std : 0;
  const typeOf = types.typeOf;
  for (let r = 0; r < column.length; r++) {
    const z = (column[r] - mean) * inv;
    typeZ[typeOf[r]] += z;
    typeAbsZ[typeOf[r]] += Math.abs(z);
  }
  for (let t = 0; t < nt; t++) {
    typeZ[t] /= types.counts[t];
    typeAbsZ[t] /= types.counts[t];
  }
  return { mean, std, typeZ, typeAbsZ };
}

/** The score a word type is ranked by in `direction` (higher is better). */
export function directedScores(summary: ColumnSummary, direction: Direction): (t: number) => number {
  if (direction === "abs") return (t) => summary.typeAbsZ[t];
  if (direction === "positive") return (t) => summary.typeZ[t];
  return (t) => -summary.typeZ[t];
}

/**
 * The k best types by `score` among those with at least `minCount` occurrences; ties keep the type seen
 * first in the corpus. A bounded insertion list: O(types × small) instead of sorting every type.
 */
export function topTypes(
  numTypes: number,
  score: (t: number) => number,
  k: number,
  eligible: (t: number) => boolean = () => true,
): number[] {
  const best: number[] = [];
  const bestScore: number[] = [];
  for (let t = 0; t < numTypes; t++) {
    if (!eligible(t)) continue;
    const s = score(t);
    if (best.length === k && !(s > bestScore[k - 1])) continue;
    let i = best.length;
    while (i > 0 && s > bestScore[i - 1]) i--;
    best.splice(i, 0, t);
    bestScore.splice(i, 0, s);
    if (best.length > k) {
      best.pop();
      bestScore.pop();
    }
  }
  return best;
}

export interface TopWordsOptions {
  k?: number;
  direction?: Direction;
  minCount?: number;
  /** Occurrences to keep per word as examples. */
  examples?: number;
  classes?: readonly string[];
  /** Sentence and position of each row, for the examples. */
  sentence?: Int32Array;
  position?: Int32Array;
}

/** A neuron's top words with counts, classes and example occurrences. */
export function topWords(column: Float32Array, types: WordTypes, opts: TopWordsOptions = {}): TopWord[] {
  return topWordsFromSummary(column, summarizeColumn(column, types), types, opts);
}

export function topWordsFromSummary(
  column: Float32Array,
  summary: ColumnSummary,
  types: WordTypes,
  opts: TopWordsOptions = {},
): TopWord[] {
  const direction = opts.direction ?? "positive";
  const minCount = opts.minCount ?? 1;
  const score = directedScores(summary, direction);
  const chosen = topTypes(types.types.length, score, opts.k ?? 10, (t) => types.counts[t] >= minCount);
  const top = chosen.length > 0 ? score(chosen[0]) : 0;
  return chosen.map((t) => ({
    word: types.types[t],
    score: direction === "negative" ? -score(t) : score(t),
    relative: top !== 0 ? score(t) / top : 0,
    count: types.counts[t],
    label: types.label[t] >= 0 && opts.classes ? (opts.classes[types.label[t]] ?? null) : null,
    examples: examplesOf(column, types, t, direction, summary.mean, opts),
  }));
}

function examplesOf(
  column: Float32Array,
  types: WordTypes,
  t: number,
  direction: Direction,
  mean: number,
  opts: TopWordsOptions,
): WordExample[] {
  const m = opts.examples ?? 3;
  if (m <= 0 || !opts.sentence || !opts.position) return [];
  const rows = types.rowsOfType.subarray(types.offsets[t], types.offsets[t + 1]);
  const key = (r: number): number =>
    direction === "positive" ? column[r] : direction === "negative" ? -column[r] : Math.abs(column[r] - mean);
  const picked = topTypes(rows.length, (i) => key(rows[i]), m);
  return picked.map((i) => ({
    sentence: opts.sentence![rows[i]],
    position: opts.position![rows[i]],
    activation: column[rows[i]],
  }));
}
