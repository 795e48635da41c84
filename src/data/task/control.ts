import { Rng } from "../../util/rng.js";
import { type PerSplit, SPLITS } from "../splits.js";
import type { Candidate } from "./select.js";

/**
 * Control task (Hewitt & Liang 2019): every word type (token text) gets one fixed random label, drawn
 * from the class distribution of the real task's train rows ("distribution") or uniformly over the
 * classes ("uniform"); the rows are the real task's rows. A probe that does well on the control task
 * memorises word identity; selectivity = accuracy(real) − accuracy(control).
 */
export type ControlMode = "distribution" | "uniform" | "none";

export interface ControlTask {
  rows: PerSplit<Candidate[]>;
  mode: Exclude<ControlMode, "none">;
  /** The probabilities labels were drawn with. */
  distribution: Record<string, number>;
  /** Number of word types that got a label. */
  types: number;
}

/** A separate stream from the selection's, so that adding a control task does not change the selection. */
const CONTROL_STREAM = 0x5bd1e995;

export function controlTask(
  rows: PerSplit<Candidate[]>,
  classes: readonly string[],
  mode: Exclude<ControlMode, "none">,
  seed: number,
): ControlTask {
  const weights = classes.map((cls) =>
    mode === "uniform" ? 1 : rows.train.reduce((n, r) => n + (r.label === cls ? 1 : 0), 0),
  );
  const total = weights.reduce((a, b) => a + b, 0);
  const distribution = Object.fromEntries(classes.map((c, i) => [c, total > 0 ? weights[i] / total : 0]));
  const rng = new Rng((seed ^ CONTROL_STREAM) >>> 0);
  const labelOf = new Map<string, string>();
  // Types in order of first appearance (train, valid, test rows in file order): deterministic.
  for (const split of SPLITS)
    for (const r of rows[split])
      if (!labelOf.has(r.token))
        labelOf.set(r.token, total > 0 ? classes[rng.categorical(weights)] : classes[0]);
  const out = {} as PerSplit<Candidate[]>;
  for (const split of SPLITS) out[split] = rows[split].map((r) => ({ ...r, label: labelOf.get(r.token)! }));
  return { rows: out, mode, distribution, types: labelOf.size };
}
