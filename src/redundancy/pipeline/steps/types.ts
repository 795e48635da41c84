import type { StepContext } from "../context.js";
import type { PipelineSettings, RedundancyInput, StepName, StepResults } from "../results.js";

/** A step's result without the fields the pipeline adds (seconds, cache key). */
export type StepOutput<K extends StepName> = Omit<NonNullable<StepResults[K]>, "seconds" | "key">;

export interface StepDef<K extends StepName> {
  name: K;
  /** Steps whose results this one reads (they run first; their results are part of its cache key). */
  deps: readonly StepName[];
  /** The settings this step reads: part of its cache key, so that other settings never invalidate it. */
  settings(s: PipelineSettings, input: RedundancyInput): unknown;
  run(ctx: StepContext, done: StepResults): Promise<StepOutput<K>>;
}

/** The result of a dependency, which the pipeline guarantees has run. */
export function need<K extends StepName>(done: StepResults, name: K): NonNullable<StepResults[K]> {
  const r = done[name];
  if (!r) throw new Error(`redundancy: step '${name}' has not run`);
  return r as NonNullable<StepResults[K]>;
}

/** Solver settings every probe-training step depends on. */
export function probeSettings(s: PipelineSettings): unknown {
  return {
    tune: s.tune,
    lambda1: s.lambda1 ?? null,
    lambda2: s.lambda2 ?? null,
    lambdaGrid: s.lambdaGrid,
    patience: s.patience,
    maxIter: s.maxIter,
  };
}
