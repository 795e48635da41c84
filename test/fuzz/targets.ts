import type { FuzzTarget } from "./harness.js";
import { type FuzzReport, fuzz } from "./harness.js";
import { configTarget, tokenizerTarget } from "./targets-model.js";
import { neuroxTarget, storeJsonTarget, taskTsvTarget } from "./targets-store.js";
import { pickleTarget, safetensorsTarget, zipTarget } from "./targets-weights.js";

/** A target with its input type erased: its name, its CI size, and a way to run a round. */
export interface TargetEntry {
  name: string;
  /** Cases in `npm test`: about 1–3 s each on a shared 2-core machine. */
  ci: number;
  fuzz(cases: number, seed: number): Promise<FuzzReport>;
}

function entry<I>(target: FuzzTarget<I>, ci: number): TargetEntry {
  return { name: target.name, ci, fuzz: (cases, seed) => fuzz(target, cases, seed) };
}

/** Every fuzz target, one per parser of user input. */
export const TARGETS: readonly TargetEntry[] = [
  entry(safetensorsTarget(), 800),
  entry(pickleTarget(), 1000),
  entry(zipTarget(), 600),
  entry(configTarget(), 800),
  entry(tokenizerTarget(), 200),
  entry(neuroxTarget(), 250),
  entry(storeJsonTarget(), 300),
  entry(taskTsvTarget(), 2000),
];
