import { DesignMatrix } from "../linalg/design.js";
import { Standardizer } from "../linalg/standardize.js";
import { type Matrix, selectColumns } from "../util/matrix.js";
import type { Labels } from "./labels.js";
import type { ProbeOptions } from "./linear-model.js";
import { type LabeledSplit, LogisticProbe } from "./logistic.js";
import type { ClassificationMetrics } from "./metrics.js";

/**
 * Ablation (docs/DESIGN.md, "Rankings"): a probe re-scored, or retrained, with a set of neurons zeroed
 * out or kept. It lives with the probes because it fits them; the orderings it is run with (LCA,
 * probeless, random) are rank/'s.
 */

/**
 * A copy of a fitted probe whose weights are zero for the given input columns (`mode: "zero"`) or for
 * every other column (`mode: "keep"`). On z-scored inputs a zero weight is the same as replacing the
 * neuron by its training mean (NeuroX's zeroing of normalised activations).
 */
export function ablatedProbe(
  probe: LogisticProbe,
  columns: readonly number[],
  mode: "zero" | "keep",
): LogisticProbe {
  if (!probe.weights || !probe.bias || !probe.standardizer) throw new Error("probe is not fitted");
  const k = probe.outputs;
  const d = probe.inputs;
  const chosen = new Uint8Array(d);
  for (const j of columns) {
    if (!(Number.isInteger(j) && j >= 0 && j < d))
      throw new Error(`ablation: column ${j} is outside 0..${d - 1}`);
    chosen[j] = 1;
  }
  const w = Float64Array.from(probe.weights);
  for (let j = 0; j < d; j++) {
    const drop = mode === "zero" ? chosen[j] === 1 : chosen[j] === 0;
    if (drop) w.fill(0, j * k, (j + 1) * k);
  }
  const copy = new LogisticProbe({ lambda1: probe.lambda1, lambda2: probe.lambda2 });
  copy.classes = [...probe.classes];
  copy.standardizer = probe.standardizer;
  copy.weights = w;
  copy.bias = Float64Array.from(probe.bias);
  return copy;
}

/** Metrics of the probe with `columns` zeroed out (or all others zeroed with `keep`), no retraining. */
export async function ablate(
  probe: LogisticProbe,
  x: Matrix | DesignMatrix,
  y: Labels,
  columns: readonly number[],
  mode: "zero" | "keep" = "zero",
): Promise<ClassificationMetrics> {
  return ablatedProbe(probe, columns, mode).evaluate(x, y);
}

export interface RetrainResult {
  probe: LogisticProbe;
  columns: number[];
  valid?: ClassificationMetrics;
  test?: ClassificationMetrics;
}

/**
 * Trains a new probe on only the given columns (gathered once into contiguous matrices) with the same
 * settings, and scores it — the paper's "retrain on the selected neurons".
 */
export async function retrainOn(
  train: { x: Matrix; y: Labels },
  columns: readonly number[],
  opts: ProbeOptions & {
    valid?: { x: Matrix; y: Labels };
    test?: { x: Matrix; y: Labels };
    classes?: readonly string[];
  },
): Promise<RetrainResult> {
  const cols = [...columns];
  const xs = selectColumns(train.x, cols);
  const probe = new LogisticProbe({ ...opts, inPlace: true });
  const std = Standardizer.fit(xs);
  const design = DesignMatrix.build(xs, { standardizer: std, inPlace: true, transposed: opts.transposed });
  const pick = (s?: { x: Matrix; y: Labels }): LabeledSplit | undefined =>
    s
      ? { x: DesignMatrix.wrap(std.apply(selectColumns(s.x, cols), { inPlace: true }), std), y: s.y }
      : undefined;
  const valid = pick(opts.valid);
  const test = pick(opts.test);
  await probe.fit(design, train.y, { valid, classes: opts.classes });
  return {
    probe,
    columns: cols,
    valid: valid ? await probe.evaluate(valid.x, valid.y) : undefined,
    test: test ? await probe.evaluate(test.x, test.y) : undefined,
  };
}
