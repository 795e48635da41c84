import { DesignMatrix } from "../linalg/design.js";
import type { Matrix } from "../util/matrix.js";
import { type ProbeFile, parseProbeFile } from "./format.js";
import { encodeLabels, type Labels } from "./labels.js";
import { LinearModel, type ProbeInput, type ProbeOptions } from "./linear-model.js";
import { SoftmaxCrossEntropy } from "./loss.js";
import { type ClassificationMetrics, classificationMetrics } from "./metrics.js";
import { checkFiniteMatrix, type DevSet, type PassCount, solveBatch, type WarmStart } from "./owlqn.js";

export interface LabeledSplit {
  x: ProbeInput;
  y: Labels;
}

export interface LogisticFitOptions {
  /** Dev rows: early stopping watches their loss (see ProbeOptions.patience). */
  valid?: LabeledSplit;
  /** Class names in index order (default: sorted names, or "0".."k−1" for index labels). */
  classes?: readonly string[];
  warmStart?: WarmStart;
}

/**
 * Multinomial logistic regression probe with NeuroX's objective:
 *   mean cross-entropy + λ1·Σ|W| + λ2·‖W‖_F   (bias unpenalised), on z-scored features.
 * scikit-learn style: `await new LogisticProbe({lambda1, lambda2}).fit(X, y, {valid})`, then
 * predict / predictProba / score; toJSON()/fromJSON() keep the standardization and class names.
 */
export class LogisticProbe extends LinearModel {
  classes: string[] = [];

  constructor(options: ProbeOptions = {}) {
    super(options);
  }

  get outputs(): number {
    return this.classes.length;
  }

  async fit(x: ProbeInput, y: Labels, opts: LogisticFitOptions = {}): Promise<this> {
    const enc = encodeLabels(y, opts.classes);
    if (enc.classes.length < 2) throw new Error("a classification probe needs at least two classes");
    const design = this.trainDesign(x);
    if (design.rows !== enc.codes.length)
      throw new Error(`probe: ${design.rows} rows but ${enc.codes.length} labels`);
    this.classes = enc.classes;
    const dev = opts.valid ? devSet(design, opts.valid, enc.classes) : undefined;
    const passes: PassCount = { forward: 0, gradient: 0, dev: 0 };
    const [r] = await solveBatch(
      { design, loss: new SoftmaxCrossEntropy(enc.codes, enc.classes.length) },
      [{ lambda1: this.lambda1, lambda2: this.lambda2, init: opts.warmStart }],
      { ...this.solverOptions(), dev, passes },
    );
    this.adoptSolution(r, design.standardizer, passes, opts.warmStart === undefined);
    return this;
  }

  /** Class probabilities [rows × classes]. */
  async predictProba(x: ProbeInput): Promise<Matrix> {
    const z = await this.decisionFunction(x);
    const k = z.cols;
    for (let i = 0; i < z.rows; i++) {
      const o = i * k;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) max = Math.max(max, z.data[o + c]);
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp(z.data[o + c] - max);
        z.data[o + c] = e;
        sum += e;
      }
      for (let c = 0; c < k; c++) z.data[o + c] /= sum;
    }
    return z;
  }

  /** Predicted class indices (ties: the lower index). */
  async predict(x: ProbeInput): Promise<Int32Array> {
    return argmaxRows(await this.decisionFunction(x));
  }

  /** Predicted class names. */
  async predictLabels(x: ProbeInput): Promise<string[]> {
    return Array.from(await this.predict(x), (c) => this.classes[c]);
  }

  /** Accuracy on (x, y). */
  async score(x: ProbeInput, y: Labels): Promise<number> {
    return (await this.evaluate(x, y)).accuracy;
  }

  /** All classification metrics on (x, y). */
  async evaluate(x: ProbeInput, y: Labels): Promise<ClassificationMetrics> {
    const { codes } = encodeLabels(y, this.classes);
    return classificationMetrics(codes, await this.predict(x), this.classes);
  }

  toJSON(): ProbeFile {
    return { ...this.baseJSON("logistic"), classes: this.classes };
  }

  /** A probe from probe.json (any version; checked by probe/format.ts). */
  static fromJSON(value: unknown, file = "<probe>"): LogisticProbe {
    return LogisticProbe.fromFile(parseProbeFile(value, file), file);
  }

  static fromFile(p: ProbeFile, file: string): LogisticProbe {
    const probe = new LogisticProbe();
    probe.loadBase(p, file, "logistic");
    probe.classes = [...(p.classes ?? [])];
    return probe;
  }
}

export function argmaxRows(z: Matrix): Int32Array {
  const out = new Int32Array(z.rows);
  for (let i = 0; i < z.rows; i++) {
    const o = i * z.cols;
    let best = 0;
    for (let c = 1; c < z.cols; c++) if (z.data[o + c] > z.data[o + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** The dev split standardized with the training statistics. */
export function devSet(train: DesignMatrix, valid: LabeledSplit, classes: readonly string[]): DevSet {
  const { codes } = encodeLabels(valid.y, classes);
  if (!(valid.x instanceof DesignMatrix)) checkFiniteMatrix(valid.x, "dev");
  const design =
    valid.x instanceof DesignMatrix
      ? valid.x
      : DesignMatrix.wrap(train.standardizer.apply(valid.x), train.standardizer);
  if (design.rows !== codes.length) throw new Error(`dev: ${design.rows} rows but ${codes.length} labels`);
  return { design, loss: new SoftmaxCrossEntropy(codes, classes.length), labels: codes };
}
