/**
 * Probe metrics (docs/DESIGN.md, "Probe"): accuracy overall and per class (NeuroX's per-class score is the
 * accuracy on that class's rows, i.e. its recall), macro-F1 over all of the probe's classes (a class with
 * no predictions and no rows counts as F1 0, as scikit-learn with zero_division=0), the confusion
 * matrix (rows: true class, columns: predicted), F1 of class index 1 for binary tasks (scikit-learn's
 * pos_label=1), and the zero-input baseline and selectivity.
 */
export interface ClassMetrics {
  /** Rows of this class. */
  support: number;
  /** Accuracy on this class's rows (= recall). */
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationMetrics {
  rows: number;
  accuracy: number;
  macroF1: number;
  /** Binary tasks only: F1 of the second class (index 1). */
  f1?: number;
  classes: string[];
  perClass: Record<string, ClassMetrics>;
  /** confusion[true][predicted]. */
  confusion: number[][];
}

export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number[][] {
  if (yTrue.length !== yPred.length)
    throw new Error(`metrics: ${yTrue.length} labels vs ${yPred.length} predictions`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]]++;
  return m;
}

export function classificationMetrics(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classes: readonly string[],
): ClassificationMetrics {
  const k = classes.length;
  const confusion = confusionMatrix(yTrue, yPred, k);
  const perClass: Record<string, ClassMetrics> = {};
  let correct = 0;
  let f1Sum = 0;
  const f1s: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    correct += tp;
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < k; j++) {
      support += confusion[c][j];
      predicted += confusion[j][c];
    }
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    f1s.push(f1);
    f1Sum += f1;
    perClass[classes[c]] = { support, accuracy: recall, precision, recall, f1 };
  }
  const rows = yTrue.length;
  return {
    rows,
    accuracy: rows ? correct / rows : 0,
    macroF1: k ? f1Sum / k : 0,
    ...(k === 2 ? { f1: f1s[1] } : {}),
    classes: [...classes],
    perClass,
    confusion,
  };
}

/**
 * Accuracy of the intercept-only probe (the paper's "zero input" baseline): it always predicts the most
 * frequent training class (ties: the lower class index).
 */
export function interceptOnlyAccuracy(
  trainY: ArrayLike<number>,
  evalY: ArrayLike<number>,
  k: number,
): number {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < trainY.length; i++) counts[trainY[i]]++;
  let majority = 0;
  for (let c = 1; c < k; c++) if (counts[c] > counts[majority]) majority = c;
  let hit = 0;
  for (let i = 0; i < evalY.length; i++) if (evalY[i] === majority) hit++;
  return evalY.length ? hit / evalY.length : 0;
}

/** Selectivity (Hewitt & Liang 2019): accuracy on the real task minus accuracy on its control task. */
export function selectivity(taskAccuracy: number, controlAccuracy: number): number {
  return taskAccuracy - controlAccuracy;
}

export interface RegressionMetrics {
  rows: number;
  mse: number;
  /** Coefficient of determination (1 − SSE/SST; 0 when the targets are constant and the fit exact). */
  r2: number;
  pearson: number;
}

export function regressionMetrics(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): RegressionMetrics {
  const n = yTrue.length;
  if (n !== yPred.length) throw new Error(`metrics: ${n} targets vs ${yPred.length} predictions`);
  let mt = 0;
  let mp = 0;
  for (let i = 0; i < n; i++) {
    mt += yTrue[i];
    mp += yPred[i];
  }
  mt /= Math.max(1, n);
  mp /= Math.max(1, n);
  let sse = 0;
  let sst = 0;
  let spp = 0;
  let stp = 0;
  for (let i = 0; i < n; i++) {
    const r = yTrue[i] - yPred[i];
    const dt = yTrue[i] - mt;
    const dp = yPred[i] - mp;
    sse += r * r;
    sst += dt * dt;
    spp += dp * dp;
    stp += dt * dp;
  }
  return {
    rows: n,
    mse: n ? sse / n : 0,
    r2: sst > 0 ? 1 - sse / sst : sse === 0 ? 1 : 0,
    pearson: sst > 0 && spp > 0 ? stp / Math.sqrt(sst * spp) : 0,
  };
}
