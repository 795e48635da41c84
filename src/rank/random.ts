import { Rng } from "../util/rng.js";

/** A seeded random ordering of n neurons (the paper's random baseline). */
export function randomOrdering(n: number, seed: number): number[] {
  return new Rng(seed).permutation(n);
}
