import { DesignMatrix } from "../linalg/design.js";
import { matmul } from "../linalg/products.js";
import { Standardizer } from "../linalg/standardize.js";
import { InputError } from "../util/errors.js";
import { type Matrix, matrix } from "../util/matrix.js";
import type { PassCount, SolveOptions, SolveResult, StopReason } from "./owlqn.js";

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

export interface FitInfo {
  iterations: number;
  stop: StopReason;
  objective: number;
  trainLoss: number;
  devLoss?: number;
  devAccuracy?: number;
  /** Passes over the training matrix (forward + gradient) and over the dev matrix. */
  passes: PassCount;
  seconds: number;
}

/** Input of predict/score: raw rows (standardized here) or a DesignMatrix standardized like the probe. */
export type ProbeInput = Matrix | DesignMatrix;

export const PROBE_FORMAT = "codeneurons-probe";
/**
 * 2: `codeneurons probe` records the neuron site (`site`, `width`) beside the neuron ids, which are ids
 * of that site. Version 1 files are read too: they hold hidden-site ids.
 */
export const PROBE_VERSION = 2;
export const PROBE_VERSIONS_READ: readonly number[] = [1, 2];

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
    const z = await matmul(this.design(x).x, matrix(w.length / k, k, Float32Array.from(w)));
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

  /** Takes a solver result as this probe's fitted state. */
  adoptSolution(r: SolveResult, std: Standardizer, passes: PassCount, seconds: number): void {
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
      seconds,
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

  protected baseJSON(kind: string): Record<string, unknown> {
    const { std, w, b } = this.requireFitted();
    const k = this.outputs;
    const d = std.cols;
    // [outputs × inputs] as PyTorch's Linear.weight; float64 values round-trip exactly through JSON.
    const weights = Array.from({ length: k }, (_, c) => Array.from({ length: d }, (_, j) => w[j * k + c]));
    return {
      format: PROBE_FORMAT,
      version: PROBE_VERSION,
      kind,
      inputs: d,
      lambda1: this.lambda1,
      lambda2: this.lambda2,
      standardizer: std.toJSON(),
      weights,
      bias: Array.from(b),
      // Without the wall time, so that the same data and settings give the same file.
      fit: this.fitInfo ? { ...this.fitInfo, seconds: undefined } : null,
    };
  }

  /** Restores the fields written by baseJSON; `outputs` is the expected number of weight rows. */
  protected loadBase(obj: Record<string, unknown>, file: string, kind: string, outputs: number): void {
    if (obj.format !== PROBE_FORMAT)
      throw new InputError(file, `not a ${PROBE_FORMAT} file`, { field: "format" });
    if (!PROBE_VERSIONS_READ.includes(obj.version as number))
      throw new InputError(file, `unsupported version ${String(obj.version)}`, { field: "version" });
    if (obj.kind !== kind) throw new InputError(file, `expected a ${kind} probe`, { field: "kind" });
    const std = Standardizer.fromJSON(obj.standardizer, file);
    const d = std.cols;
    if (obj.inputs !== d)
      throw new InputError(file, `inputs ${String(obj.inputs)} != ${d}`, { field: "inputs" });
    for (const f of ["lambda1", "lambda2"] as const) {
      const v = obj[f];
      if (typeof v !== "number" || !(v >= 0))
        throw new InputError(file, "expected a number >= 0", { field: f });
    }
    const rows = obj.weights;
    if (!Array.isArray(rows) || rows.length !== outputs)
      throw new InputError(file, `expected ${outputs} rows of weights`, { field: "weights" });
    const w = new Float64Array(d * outputs);
    rows.forEach((row: unknown, c) => {
      if (!Array.isArray(row) || row.length !== d)
        throw new InputError(file, `expected ${d} weights`, { field: `weights[${c}]` });
      row.forEach((v: unknown, j) => {
        if (typeof v !== "number" || !Number.isFinite(v))
          throw new InputError(file, `weight ${j} is not a finite number`, { field: `weights[${c}]` });
        w[j * outputs + c] = v;
      });
    });
    const bias = obj.bias;
    if (
      !Array.isArray(bias) ||
      bias.length !== outputs ||
      !bias.every((v) => typeof v === "number" && Number.isFinite(v))
    )
      throw new InputError(file, `expected ${outputs} finite numbers`, { field: "bias" });
    this.lambda1 = obj.lambda1 as number;
    this.lambda2 = obj.lambda2 as number;
    this.standardizer = std;
    this.weights = w;
    this.bias = Float64Array.from(bias as number[]);
    // Fit statistics are informational only; kept when they look like an object.
    this.fitInfo = obj.fit && typeof obj.fit === "object" ? (obj.fit as FitInfo) : null;
  }
}

export function asObject(value: unknown, file: string): Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new InputError(file, "expected a JSON object");
  return value as Record<string, unknown>;
}

/** Pass counts for people: products that read part of X count fractionally; two decimals are enough. */
export function roundPasses(p: PassCount): PassCount {
  const r = (v: number) => Math.round(v * 100) / 100;
  return { forward: r(p.forward), gradient: r(p.gradient), dev: r(p.dev) };
}
