import { DesignMatrix } from "../linalg/design.js";
import type { ProbeInput } from "./linear-model.js";
import { LogisticProbe } from "./logistic.js";
import { type ClassificationMetrics, selectivity } from "./metrics.js";

/**
 * The control probe and selectivity (Hewitt & Liang 2019; docs/DESIGN.md, "Control task"), one
 * definition for every stage that reports them (`probe --selectivity`, the redundancy pipeline's
 * control step, `codeneurons run`):
 *
 * - the control probe reads the same neurons of the same rows as the real probe, with the same λs and
 *   solver settings, and learns the control task's labels;
 * - its classes are the real task's classes together with every label the control task uses, sorted:
 *   both probes choose among the same classes whatever labels a split happens to draw;
 * - selectivity = real accuracy − control accuracy, on dev (valid) and on test.
 */
export function controlClasses(realClasses: readonly string[], controlLabels: Iterable<string>): string[] {
  return [...new Set([...realClasses, ...controlLabels])].sort();
}

export interface ControlSplit {
  /** Raw activations (standardized with the training rows' statistics here) or a prepared design. */
  x: ProbeInput;
  /** Control labels (names, or indices into `classes`). */
  y: readonly string[] | Int32Array;
}

export interface ControlSettings {
  lambda1: number;
  lambda2: number;
  patience?: number;
  maxIter?: number;
  /** controlClasses(…), in index order when `y` holds indices. */
  classes: readonly string[];
}

export interface ControlFit {
  probe: LogisticProbe;
  valid: ClassificationMetrics;
  test: ClassificationMetrics;
}

/** Fits the control probe on train (dev for early stopping) and scores it on valid and test. */
export async function fitControlProbe(
  data: { train: ControlSplit; valid: ControlSplit; test: ControlSplit },
  settings: ControlSettings,
): Promise<ControlFit> {
  const probe = new LogisticProbe({
    lambda1: settings.lambda1,
    lambda2: settings.lambda2,
    patience: settings.patience,
    maxIter: settings.maxIter,
    // Raw training rows are the caller's fresh copy: standardize them in place.
    inPlace: !(data.train.x instanceof DesignMatrix),
  });
  await probe.fit(data.train.x, data.train.y, {
    valid: { x: data.valid.x, y: data.valid.y },
    classes: settings.classes,
  });
  return {
    probe,
    valid: await probe.evaluate(data.valid.x, data.valid.y),
    test: await probe.evaluate(data.test.x, data.test.y),
  };
}

/** Real-task accuracy minus control-task accuracy, on dev and test. */
export function selectivityOf(
  real: { valid: number; test: number },
  control: { valid: number; test: number },
): { valid: number; test: number } {
  return { valid: selectivity(real.valid, control.valid), test: selectivity(real.test, control.test) };
}
