import { DesignMatrix } from "../linalg/design.js";
import { Standardizer } from "../linalg/standardize.js";
import { InputError, UserError } from "../util/errors.js";
import { type Matrix, matrix } from "../util/matrix.js";
import { type FitInfo, PROBE_FORMAT, PROBE_VERSION, type ProbeFile, WEIGHTS_LAYOUT } from "./format.js";
import {
  checkFiniteMatrix,
  type PassCount,
  type SolveOptions,
  type SolveResult,
  unmovedFit,
} from "./owlqn.js";

export type { FitInfo };

/** Settings shared by the probes; λ1 (Σ|W|) and λ2 (‖W‖_F, not squared) as NeuroX. */
export interface ProbeOptions extends Omit<SolveOptions, "onIteration"> {
  lambda1?: number;
  lambda2?: number;
  /** Accepted for a uniform API: the full-batch solver makes no random choices. */
  seed?: number;
  /** Standardize the training matrix in place instead of copying it (it is overwritten). */
  inPlace?: boolean;
  /** Keep a transposed copy of the training matrix for faster gradients (default true). */
  transposed?: boolean;
  onIteration?: (iteration: number) => void;
}

/** Input of predict/score: raw rows (standardized here) or a DesignMatrix standardized like the probe. */
export type ProbeInput = Matrix | DesignMatrix;

/** A fitted linear map on z-scored inputs: scores = standardize(X)·W + b, W [inputs × outputs]. */
export abstract class LinearModel {
  lambda1: number;
  lambda2: number;
  protected readonly options: ProbeOptions;
  standardizer: Standardizer | null = null;
  /** Feature-major weights [inputs × outputs] on standardized inputs. */
  weights: Float64Array | null = null;
  bias: Float64Array | null = null;
  fitInfo: FitInfo | null = null;

  constructor(options: ProbeOptions = {}) {
    this.options = options;
    this.lambda1 = options.lambda1 ?? 0;
    this.lambda2 = options.lambda2 ?? 0;
    if (!(this.lambda1 >= 0) || !(this.lambda2 >= 0)) throw new Error("lambda1 and lambda2 must be >= 0");
  }

  abstract get outputs(): number;

  get inputs(): number {
    return this.standardizer?.cols ?? 0;
  }

  get fitted(): boolean {
    return this.weights !== null;
  }

  protected requireFitted(): { std: Standardizer; w: Float64Array; b: Float64Array } {
    if (!this.standardizer || !this.weights || !this.bias) throw new Error("probe is not fitted");
    return { std: this.standardizer, w: this.weights, b: this.bias };
  }

  /** The training design matrix for `x` (built unless given). */
  protected trainDesign(x: ProbeInput): DesignMatrix {
    if (x instanceof DesignMatrix) return x;
    // Checked before standardizing: a NaN would spread over its whole column.
    checkFiniteMatrix(x, "training");
    return DesignMatrix.build(x, { inPlace: this.options.inPlace, transposed: this.options.transposed });
  }

  /** Standardized rows for evaluation (a DesignMatrix passes through after a shape check). */
  design(x: ProbeInput): DesignMatrix {
    const { std } = this.requireFitted();
    if (x instanceof DesignMatrix) {
      if (x.cols !== std.cols) throw new Error(`probe expects ${std.cols} inputs, got ${x.cols}`);
      return x;
    }
    if (x.cols !== std.cols) throw new Error(`probe expects ${std.cols} inputs, got ${x.cols}`);
    return DesignMatrix.wrap(std.apply(x), std);
  }

  /** Scores [rows × outputs] = standardized X · W + b (float32). */
  async decisionFunction(x: ProbeInput): Promise<Matrix> {
    const { w, b } = this.requireFitted();
    const k = this.outputs;
    const z = await this.design(x).times(matrix(w.length / k, k, Float32Array.from(w)));
    for (let i = 0; i < z.rows; i++) for (let c = 0; c < k; c++) z.data[i * k + c] += b[c];
    return z;
  }

  /** Weights as [outputs × inputs] (NeuroX / PyTorch layout): what LCA rankings read. */
  weightsByOutput(): Matrix {
    const { w } = this.requireFitted();
    const k = this.outputs;
    const d = w.length / k;
    const out = matrix(k, d);
    for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) out.data[c * d + j] = w[j * k + c];
    return out;
  }

  /** Number of non-zero weights. */
  nonZeroWeights(): number {
    const { w } = this.requireFitted();
    let n = 0;
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) n++;
    return n;
  }

  /**
   * Takes a solver result as this probe's fitted state. `cold`: the fit started from the default start
   * (no warm start), so a result that never left it is no fit: an error when the line search failed
   * at once, a warning in fitInfo when early stopping kept the start (probe/owlqn.ts unmovedFit).
   */
  adoptSolution(r: SolveResult, std: Standardizer, passes: PassCount, cold = false): void {
    const unmoved = cold ? unmovedFit(r) : null;
    if (unmoved?.error) throw new UserError(unmoved.error);
    this.standardizer = std;
    this.weights = r.w;
    this.bias = r.b;
    this.fitInfo = {
      iterations: r.iterations,
      stop: r.stop,
      objective: r.objective,
      trainLoss: r.dataLoss,
      devLoss: r.dev?.loss,
      devAccuracy: r.dev?.accuracy,
      passes: roundPasses(passes),
      ...(unmoved?.warning ? { warnings: [unmoved.warning] } : {}),
    };
  }

  protected solverOptions(): SolveOptions {
    const o = this.options;
    return {
      maxIter: o.maxIter,
      tol: o.tol,
      memory: o.memory,
      patience: o.patience,
      onIteration: o.onIteration ? (i) => o.onIteration?.(i) : undefined,
    };
  }

  /** The fields of probe.json (probe/format.ts) that describe the fitted model. */
  protected baseJSON(kind: ProbeFile["kind"]): ProbeFile {
    const { std, w, b } = this.requireFitted();
    const k = this.outputs;
    const d = std.cols;
    // WEIGHTS_LAYOUT, [outputs × inputs] as PyTorch's Linear.weight; float64 values round-trip exactly.
    const weights = Array.from({ length: k }, (_, c) => Array.from({ length: d }, (_, j) => w[j * k + c]));
    return {
      format: PROBE_FORMAT,
      version: PROBE_VERSION,
      weightsLayout: WEIGHTS_LAYOUT,
      kind,
      inputs: d,
      lambda1: this.lambda1,
      lambda2: this.lambda2,
      standardizer: std.toJSON(),
      weights,
      bias: Array.from(b),
      fit: this.fitInfo,
    };
  }

  /** Restores the fields written by baseJSON from a checked probe file of this kind. */
  protected loadBase(p: ProbeFile, file: string, kind: ProbeFile["kind"]): void {
    if (p.kind !== kind) throw new InputError(file, `expected a ${kind} probe`, { field: "kind" });
    const outputs = p.weights.length;
    const d = p.inputs;
    const w = new Float64Array(d * outputs);
    p.weights.forEach((row, c) => {
      for (let j = 0; j < d; j++) w[j * outputs + c] = row[j];
    });
    this.lambda1 = p.lambda1;
    this.lambda2 = p.lambda2;
    this.standardizer = new Standardizer(
      Float64Array.from(p.standardizer.mean),
      Float64Array.from(p.standardizer.scale),
    );
    this.weights = w;
    this.bias = Float64Array.from(p.bias);
    this.fitInfo = p.fit ?? null;
  }
}

/** Pass counts for people: products that read part of X count fractionally; two decimals are enough. */
export function roundPasses(p: PassCount): PassCount {
  const r = (v: number) => Math.round(v * 100) / 100;
  return { forward: r(p.forward), gradient: r(p.gradient), dev: r(p.dev) };
}
