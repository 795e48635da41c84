import type { Rng } from "../util/rng.js";

/**
 * One representative per flat cluster. "random" is NeuroX's rule (a uniformly drawn member, here
 * from a seeded Rng so that the same seed gives the same neurons); "medoid" is the member with the
 * smallest summed distance to the other members (ties: the lowest index), which needs the original
 * distances.
 */
export type RepresentativeRule = "random" | "medoid";

/** members[c] lists the (column) indices of cluster c+1 in increasing order. */
export function randomRepresentatives(members: readonly (readonly number[])[], rng: Rng): number[] {
  return members.map((m) => m[rng.int(m.length)]);
}

/**
 * Medoids over condensed distances `d` of `n` observations (float64 sums, members visited in
 * increasing order). Cost Σ|cluster|².
 */
export function medoidRepresentatives(
  members: readonly (readonly number[])[],
  d: Float64Array,
  n: number,
): number[] {
  return members.map((m) => {
    let best = m[0];
    let bestSum = Number.POSITIVE_INFINITY;
    for (const i of m) {
      let sum = 0;
      const rowI = n * i - (i * (i + 1)) / 2 - i - 1;
      for (const j of m) {
        if (j < i) sum += d[n * j - (j * (j + 1)) / 2 - j - 1 + i];
        else if (j > i) sum += d[rowI + j];
      }
      if (sum < bestSum) {
        bestSum = sum;
        best = i;
      }
    }
    return best;
  });
}
