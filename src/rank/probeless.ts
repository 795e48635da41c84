import { classMeans } from "../linalg/class-means.js";
import type { Matrix } from "../util/matrix.js";

/**
 * Probeless ranking (Antverg & Belinkov 2022; NeuroX's probeless.get_overall_ranking): neuron j scores
 * Σ over pairs of classes a < b of |mean_a(j) − mean_b(j)| (class means of the activations over the
 * rows of that class), ranked by score descending (ties: ascending index). Classes without rows are
 * left out, as NeuroX builds means only for labels that occur. O(rows · neurons + classes² · neurons).
 */
export interface ProbelessRanking {
  /** Column indices, highest score first. */
  ordering: number[];
  scores: Float64Array;
  /** Per class c: Σ over other classes c' of |mean_c − mean_c'|, and its ordering (tag-wise ranking). */
  perClass: { scores: Float64Array; ordering: number[] }[];
}

export function rankDescending(scores: Float64Array): number[] {
  return Array.from({ length: scores.length }, (_, j) => j).sort((a, b) =>
    scores[a] !== scores[b] ? scores[b] - scores[a] : a - b,
  );
}

export function probelessRanking(x: Matrix, labels: ArrayLike<number>, classes: number): ProbelessRanking {
  const { means, counts } = classMeans(x, labels, classes);
  const present = means.filter((_, c) => counts[c] > 0);
  const d = x.cols;
  const scores = new Float64Array(d);
  for (let a = 0; a < present.length; a++)
    for (let b = a + 1; b < present.length; b++)
      for (let j = 0; j < d; j++) scores[j] += Math.abs(present[a][j] - present[b][j]);
  const perClass = means.map((mc, c) => {
    const s = new Float64Array(d);
    if (counts[c] > 0)
      for (let o = 0; o < classes; o++)
        if (o !== c && counts[o] > 0) for (let j = 0; j < d; j++) s[j] += Math.abs(mc[j] - means[o][j]);
    return { scores: s, ordering: rankDescending(s) };
  });
  return { ordering: rankDescending(scores), scores, perClass };
}
