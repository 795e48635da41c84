/**
 * The smooth data terms of the probes. Scores for several problems fitted at once sit side by side in
 * one [rows × K] matrix (row stride K); a problem's block starts at column `offset`. Gradients are
 * written compactly ([rows × outputs]). All work here is O(rows · outputs).
 */
export interface ScoreBlock {
  /** Row-major scores, X·W without the bias. */
  z: Float32Array | Float64Array;
  stride: number;
  offset: number;
}

export interface LossFunction {
  /** Outputs per problem (classes, or regression targets). */
  readonly outputs: number;
  readonly rows: number;
  /** Adding one constant to all of a row's scores leaves the loss unchanged (softmax). */
  readonly shiftInvariant: boolean;
  /**
   * Mean loss over rows at scores `block` + `bias`. When `dz` ([rows × outputs]) and `biasGrad` are
   * given, fills them with ∂loss/∂z and ∂loss/∂bias.
   */
  evaluate(block: ScoreBlock, bias: Float64Array, dz?: Float32Array, biasGrad?: Float64Array): number;
  /** The bias that minimises the loss when every weight is zero. */
  interceptOnly(): Float64Array;
}

/** Mean softmax cross-entropy (PyTorch's CrossEntropyLoss with mean reduction). */
export class SoftmaxCrossEntropy implements LossFunction {
  readonly shiftInvariant = true;
  readonly outputs: number;
  readonly rows: number;
  readonly labels: Int32Array;
  private readonly scratch: Float64Array;

  constructor(labels: Int32Array, classes: number) {
    for (let i = 0; i < labels.length; i++)
      if (!(labels[i] >= 0 && labels[i] < classes)) throw new Error(`label ${labels[i]} out of range`);
    this.labels = labels;
    this.outputs = classes;
    this.rows = labels.length;
    this.scratch = new Float64Array(classes);
  }

  evaluate(block: ScoreBlock, bias: Float64Array, dz?: Float32Array, biasGrad?: Float64Array): number {
    const { z, stride, offset } = block;
    const k = this.outputs;
    const n = this.rows;
    const e = this.scratch;
    const withGrad = dz !== undefined && biasGrad !== undefined;
    if (withGrad) biasGrad.fill(0);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const o = i * stride + offset;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const v = z[o + c] + bias[c];
        e[c] = v;
        if (v > max) max = v;
      }
      const y = this.labels[i];
      const shiftedLabelScore = e[y] - max;
      let sum = 0;
      for (let c = 0; c < k; c++) {
        e[c] = Math.exp(e[c] - max);
        sum += e[c];
      }
      total += Math.log(sum) - shiftedLabelScore;
      if (withGrad) {
        const go = i * k;
        for (let c = 0; c < k; c++) {
          const g = (e[c] / sum - (c === y ? 1 : 0)) / n;
          dz[go + c] = g;
          biasGrad[c] += g;
        }
      }
    }
    return total / n;
  }

  interceptOnly(): Float64Array {
    const counts = new Float64Array(this.outputs);
    for (let i = 0; i < this.rows; i++) counts[this.labels[i]]++;
    const b = new Float64Array(this.outputs);
    // A class absent from training gets a very low (finite) score rather than −∞.
    for (let c = 0; c < this.outputs; c++)
      b[c] = Math.log(Math.max(counts[c], 1e-3) / Math.max(1, this.rows));
    return b;
  }
}

/** Mean squared error over rows and outputs (PyTorch's MSELoss with mean reduction). */
export class SquaredError implements LossFunction {
  readonly shiftInvariant = false;
  readonly outputs: number;
  readonly rows: number;
  readonly targets: Float64Array;

  /** `targets` is row-major [rows × outputs]. */
  constructor(targets: ArrayLike<number>, outputs = 1) {
    if (targets.length % outputs !== 0) throw new Error("targets length is not a multiple of outputs");
    this.targets = Float64Array.from(targets);
    this.outputs = outputs;
    this.rows = targets.length / outputs;
  }

  evaluate(block: ScoreBlock, bias: Float64Array, dz?: Float32Array, biasGrad?: Float64Array): number {
    const { z, stride, offset } = block;
    const k = this.outputs;
    const scale = 1 / Math.max(1, this.rows * k);
    const withGrad = dz !== undefined && biasGrad !== undefined;
    if (withGrad) biasGrad.fill(0);
    let total = 0;
    for (let i = 0; i < this.rows; i++) {
      const o = i * stride + offset;
      for (let c = 0; c < k; c++) {
        const r = z[o + c] + bias[c] - this.targets[i * k + c];
        total += r * r;
        if (withGrad) {
          const g = 2 * r * scale;
          dz[i * k + c] = g;
          biasGrad[c] += g;
        }
      }
    }
    return total * scale;
  }

  interceptOnly(): Float64Array {
    const k = this.outputs;
    const b = new Float64Array(k);
    for (let i = 0; i < this.rows; i++) for (let c = 0; c < k; c++) b[c] += this.targets[i * k + c];
    for (let c = 0; c < k; c++) b[c] /= Math.max(1, this.rows);
    return b;
  }
}

/** Fraction of rows whose highest score (with bias) is the label; ties go to the lower class index. */
export function blockAccuracy(block: ScoreBlock, bias: Float64Array, labels: Int32Array): number {
  const k = bias.length;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const o = i * block.stride + block.offset;
    let best = 0;
    let bestV = block.z[o] + bias[0];
    for (let c = 1; c < k; c++) {
      const v = block.z[o + c] + bias[c];
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    if (best === labels[i]) correct++;
  }
  return labels.length ? correct / labels.length : 0;
}
