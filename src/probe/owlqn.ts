import type { DesignMatrix } from "../linalg/design.js";
import { UserError } from "../util/errors.js";
import { knownFinite, markFinite } from "../util/finite.js";
import { type Matrix, matrix } from "../util/matrix.js";
import { blockAccuracy, type LossFunction } from "./loss.js";

/**
 * OWL-QN (Andrew & Gao 2007, orthant-wise limited-memory quasi-Newton) for
 *   loss(X·W + b) + λ1·Σ|W| + λ2·‖W‖_F      (bias unpenalised; ‖·‖_F not squared, as NeuroX)
 * on full batches, for several problems (λ pairs) at once: their weights sit side by side in one
 * [d × problems·outputs] matrix so that one MatMul over X serves them all (X is memory-bound: 6 problems
 * cost about 2× one). ‖W‖_F is smooth except at W = 0, which is handled exactly: W = 0 is optimal iff
 * ‖soft(∇W loss, λ1)‖_F ≤ λ2, and there the pseudo-gradient is that soft-thresholded gradient shrunk by λ2.
 *
 * Why OWL-QN: probe features are correlated (layers of a residual stream), so XᵀX/n is ill-conditioned,
 * which hurts first-order methods most when the penalty is weak — and the paper's grid picks weak
 * penalties. Measured on the test fixture (scratch comparison, passes over X to reach the reference
 * optimum + 1e-6): OWL-QN 218 / 130 / 366 / 84 / 24 vs FISTA with backtracking and restarts, counted as
 * 2 passes per step without its backtracking passes, 612 / 250 / 386 / 70 / 36 for (λ1, λ2) = (0, 0),
 * (1e-3, 0), (1e-4, 1e-3), (1e-2, 1e-2), (1e-3, 0.1). OWL-QN's sign constraint is applied only to
 * weights at zero (computeDirection) and the line search needs no pass over X (lineSearch).
 */
export interface Penalty {
  lambda1: number;
  lambda2: number;
}

/** L-BFGS curvature pairs, newest last, with rho = 1/(sᵀy); reusable to warm-start a nearby problem. */
export interface LbfgsMemory {
  s: Float64Array[];
  y: Float64Array[];
  rho: number[];
}

export interface WarmStart {
  /** Weights [d × outputs] row-major (feature-major), and bias [outputs]. */
  w: Float64Array;
  b: Float64Array;
  memory?: LbfgsMemory;
}

export interface SolveProblem extends Penalty {
  init?: WarmStart;
}

export interface SolveOptions {
  /** Most iterations per problem (default 500). */
  maxIter?: number;
  /** Converged when the objective fell by less than tol·|F| per iteration over the last 5 (default 1e-6). */
  tol?: number;
  /** L-BFGS memory (default 10 pairs). */
  memory?: number;
  /**
   * Stop a problem when its dev score has not improved for this many iterations (0: off; default 5);
   * see `improves`. The best dev iterate is returned.
   */
  patience?: number;
  /** Called after every iteration of the batch with the number of problems still running. */
  onIteration?: (iteration: number, running: number) => void;
}

export interface DevSet {
  design: DesignMatrix;
  loss: LossFunction;
  /** Class labels, for the dev accuracy of classification problems. */
  labels?: Int32Array;
}

export type StopReason = "converged" | "max-iterations" | "early-stopping" | "zero-weights" | "line-search";

export interface SolveResult extends Penalty {
  w: Float64Array;
  b: Float64Array;
  /** Data loss + penalties at the returned weights, on the training rows. */
  objective: number;
  dataLoss: number;
  iterations: number;
  stop: StopReason;
  /** Dev loss/accuracy at the returned weights, and the iteration they come from. */
  dev?: { loss: number; accuracy?: number; iteration: number };
  memory: LbfgsMemory;
}

/**
 * Passes over the training matrix (each one streams all of X once; a product that reads only some
 * columns counts as that fraction of a pass) and over the dev matrix.
 */
export interface PassCount {
  forward: number;
  gradient: number;
  dev: number;
}

interface Point {
  x: Float64Array;
  /** Scores X·W at x (without the bias), [rows × outputs]. */
  z: Float64Array;
  /** Smooth objective (data loss + λ2‖W‖) and its gradient. */
  f: number;
  g: Float64Array;
  loss: number;
  /** Total objective f + λ1‖W‖₁. */
  F: number;
}

interface Trial {
  x: Float64Array;
  z: Float64Array;
  loss: number;
  F: number;
  dz: Float32Array;
  biasGrad: Float64Array;
}

class ProblemState {
  readonly penalty: Penalty;
  readonly d: number;
  readonly k: number;
  readonly nw: number;
  cur!: Point;
  pg: Float64Array;
  dir: Float64Array;
  step = 1;
  mem: LbfgsMemory;
  fHist: number[] = [];
  iterations = 0;
  stop: StopReason | null = null;
  best: {
    x: Float64Array;
    F: number;
    loss: number;
    devLoss: number;
    devAcc?: number;
    iteration: number;
  } | null = null;
  sinceBest = 0;
  /** X·dir of this iteration (W part), a block of a batched MatMul. */
  xd: { data: Float32Array; stride: number; offset: number } | null = null;
  lastDev: { loss: number; accuracy?: number } | null = null;

  /** Directions along which the data loss is flat (softmax: one shift of all classes) are removed. */
  readonly shiftInvariant: boolean;

  constructor(penalty: Penalty, d: number, k: number, shiftInvariant: boolean, memory?: LbfgsMemory) {
    this.penalty = penalty;
    this.shiftInvariant = shiftInvariant;
    this.d = d;
    this.k = k;
    this.nw = d * k;
    this.pg = new Float64Array(this.nw + k);
    this.dir = new Float64Array(this.nw + k);
    this.mem = memory
      ? { s: [...memory.s], y: [...memory.y], rho: [...memory.rho] }
      : { s: [], y: [], rho: [] };
  }

  weightNorms(x: Float64Array): { l1: number; l2: number } {
    let l1 = 0;
    let sq = 0;
    for (let i = 0; i < this.nw; i++) {
      l1 += Math.abs(x[i]);
      sq += x[i] * x[i];
    }
    return { l1, l2: Math.sqrt(sq) };
  }

  /** Smooth value and gradient from the data loss gradient (W part of `g` holds ∇W loss on entry). */
  addFrobenius(loss: number, x: Float64Array, g: Float64Array): { f: number; F: number } {
    const { l1, l2 } = this.weightNorms(x);
    const { lambda1, lambda2 } = this.penalty;
    if (lambda2 > 0 && l2 > 0) for (let i = 0; i < this.nw; i++) g[i] += (lambda2 * x[i]) / l2;
    const f = loss + lambda2 * l2;
    return { f, F: f + lambda1 * l1 };
  }

  objective(loss: number, x: Float64Array): number {
    const { l1, l2 } = this.weightNorms(x);
    return loss + this.penalty.lambda2 * l2 + this.penalty.lambda1 * l1;
  }

  /** OWL-QN pseudo-gradient, with the exact minimum-norm subgradient of λ2‖W‖ at W = 0. */
  computePseudoGradient(): void {
    const { x, g } = this.cur;
    const { lambda1, lambda2 } = this.penalty;
    const pg = this.pg;
    let zero = true;
    for (let i = 0; i < this.nw; i++) {
      const w = x[i];
      const gi = g[i];
      if (w > 0) pg[i] = gi + lambda1;
      else if (w < 0) pg[i] = gi - lambda1;
      else if (gi + lambda1 < 0) pg[i] = gi + lambda1;
      else if (gi - lambda1 > 0) pg[i] = gi - lambda1;
      else pg[i] = 0;
      if (w !== 0) zero = false;
    }
    for (let i = this.nw; i < pg.length; i++) pg[i] = g[i];
    if (zero && lambda2 > 0) {
      let sq = 0;
      for (let i = 0; i < this.nw; i++) sq += pg[i] * pg[i];
      const norm = Math.sqrt(sq);
      const shrink = norm > lambda2 ? 1 - lambda2 / norm : 0;
      for (let i = 0; i < this.nw; i++) pg[i] *= shrink;
    }
  }

  /** Two-loop recursion on the pseudo-gradient, then OWL-QN's sign constraint. Returns false at a stationary point. */
  computeDirection(): boolean {
    const pg = this.pg;
    const q = twoLoop(this.mem, pg);
    const dir = this.dir;
    const x = this.cur.x;
    const nw = this.l1Weights();
    let pgNormSq = 0;
    let descent = 0;
    for (let i = 0; i < dir.length; i++) {
      const v = -q[i];
      // OWL-QN's sign constraint (the direction must agree in sign with −pg), applied only to weights
      // at zero (Andrew & Gao apply it to all: on correlated features that discards the quasi-Newton
      // coupling and took 5× more iterations here). Non-zero weights are kept in their orthant by the
      // projection of the trial point instead.
      const d = i < nw && x[i] === 0 && v * pg[i] >= 0 ? 0 : v;
      dir[i] = d;
      pgNormSq += pg[i] * pg[i];
      descent += d * pg[i];
    }
    if (!(Math.sqrt(pgNormSq) > 1e-12)) return false;
    if (descent >= 0) {
      // Curvature pairs gave no descent direction: restart from steepest descent.
      this.mem = { s: [], y: [], rho: [] };
      for (let i = 0; i < dir.length; i++) dir[i] = -pg[i];
    }
    if (this.shiftInvariant) this.removeFlatDirections();
    this.step = this.mem.s.length > 0 ? 1 : Math.min(1, 1 / Math.sqrt(pgNormSq));
    return true;
  }

  /** Number of leading coordinates under OWL-QN's orthant rules: the weights when λ1 > 0, else none. */
  private l1Weights(): number {
    return this.penalty.lambda1 > 0 ? this.nw : 0;
  }

  /**
   * Softmax scores are invariant to a common shift, so the loss has zero curvature along "same change
   * for every class"; L-BFGS would amplify rounding noise there without bound (seen: biases drifting to
   * 1e11). The bias is unpenalised, so its direction is always centred; the weights only when nothing
   * penalises them (otherwise the penalty pins that direction down and centring would change the step).
   */
  private removeFlatDirections(): void {
    const k = this.k;
    const dir = this.dir;
    centre(dir, this.nw, k);
    if (this.penalty.lambda1 === 0 && this.penalty.lambda2 === 0)
      for (let j = 0; j < this.d; j++) centre(dir, j * k, k);
  }

  /**
   * x + step·dir, projected onto the orthant of the current point (OWL-QN), and the weights the
   * projection moved: `crossed` holds their indices, whose unprojected values were x + step·dir.
   */
  trialPoint(): { x: Float64Array; crossed: number[] } {
    const { x } = this.cur;
    const out = new Float64Array(x.length);
    const crossed: number[] = [];
    const t = this.step;
    const dir = this.dir;
    const pg = this.pg;
    const nw = this.l1Weights();
    for (let i = 0; i < x.length; i++) {
      const v = x[i] + t * dir[i];
      if (i < nw) {
        const orthant = x[i] !== 0 ? Math.sign(x[i]) : -Math.sign(pg[i]);
        if (Math.sign(v) === orthant || v === 0) out[i] = v;
        else {
          out[i] = 0;
          crossed.push(i);
        }
      } else out[i] = v;
    }
    return { x: out, crossed };
  }

  /** Armijo condition on the total objective along the projected step (γ = 1e-4). */
  accepts(trial: Trial): boolean {
    let decrease = 0;
    for (let i = 0; i < trial.x.length; i++) decrease += this.pg[i] * (trial.x[i] - this.cur.x[i]);
    return trial.F <= this.cur.F + 1e-4 * decrease;
  }

  /** Moves to the accepted point and records the curvature pair. */
  advance(next: Point, memorySize: number): void {
    const s = new Float64Array(next.x.length);
    const y = new Float64Array(next.x.length);
    for (let i = 0; i < s.length; i++) {
      s[i] = next.x[i] - this.cur.x[i];
      y[i] = next.g[i] - this.cur.g[i];
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(y, y) * dot(s, s))) {
      this.mem.s.push(s);
      this.mem.y.push(y);
      this.mem.rho.push(1 / sy);
      if (this.mem.s.length > memorySize) {
        this.mem.s.shift();
        this.mem.y.shift();
        this.mem.rho.shift();
      }
    }
    this.cur = next;
    this.iterations++;
    this.fHist.push(next.F);
  }

  converged(tol: number): boolean {
    const h = this.fHist;
    const window = 5;
    if (h.length <= window) return false;
    const drop = h[h.length - 1 - window] - h[h.length - 1];
    return drop <= tol * window * Math.max(Math.abs(h[h.length - 1]), 1e-12);
  }
}

/**
 * L-BFGS two-loop recursion H·v (Nocedal & Wright, Alg. 7.4) with the initial scaling sᵀy/yᵀy of the
 * newest pair. Each update of v is fused with the next pair's dot product, so that every pair costs two
 * sweeps over its vectors instead of four (bench/RESULTS.md, "Design choices").
 */
function twoLoop(mem: LbfgsMemory, v: Float64Array): Float64Array {
  const q = v.slice();
  const m = mem.s.length;
  if (m === 0) return q;
  const n = q.length;
  const alpha = new Float64Array(m);
  let acc = dot(mem.s[m - 1], q);
  for (let i = m - 1; i >= 0; i--) {
    const a = mem.rho[i] * acc;
    alpha[i] = a;
    const y = mem.y[i];
    const next = i > 0 ? mem.s[i - 1] : null;
    acc = 0;
    if (next)
      for (let e = 0; e < n; e++) {
        const u = q[e] - a * y[e];
        q[e] = u;
        acc += next[e] * u;
      }
    else for (let e = 0; e < n; e++) q[e] -= a * y[e];
  }
  const yl = mem.y[m - 1];
  const gamma = 1 / (mem.rho[m - 1] * dot(yl, yl));
  for (let e = 0; e < n; e++) q[e] *= gamma;
  acc = dot(mem.y[0], q);
  for (let i = 0; i < m; i++) {
    const c = alpha[i] - mem.rho[i] * acc;
    const s = mem.s[i];
    const next = i + 1 < m ? mem.y[i + 1] : null;
    acc = 0;
    if (next)
      for (let e = 0; e < n; e++) {
        const u = q[e] + c * s[e];
        q[e] = u;
        acc += next[e] * u;
      }
    else for (let e = 0; e < n; e++) q[e] += c * s[e];
  }
  return q;
}

function centre(v: Float64Array, start: number, k: number): void {
  let mean = 0;
  for (let c = 0; c < k; c++) mean += v[start + c];
  mean /= k;
  for (let c = 0; c < k; c++) v[start + c] -= mean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Packs the weight parts of several problems into one float32 [d × problems·k] matrix. */
function packWeights(xs: Float64Array[], d: number, k: number): Matrix {
  const K = xs.length * k;
  const out = matrix(d, K);
  xs.forEach((x, p) => {
    copyBlock(x, k, 0, out.data, K, p * k, d, k);
  });
  return out;
}

/** Copies a rows × cols block between row-major arrays of different strides (and number types). */
function copyBlock(
  src: Float32Array | Float64Array,
  srcStride: number,
  srcOffset: number,
  dst: Float32Array | Float64Array,
  dstStride: number,
  dstOffset: number,
  rows: number,
  cols: number,
): void {
  for (let i = 0; i < rows; i++) {
    const a = i * srcStride + srcOffset;
    const b = i * dstStride + dstOffset;
    for (let c = 0; c < cols; c++) dst[b + c] = src[a + c];
  }
}

/** Batched training-set evaluation: one forward pass for all trial points. */
async function evaluateTrials(
  design: DesignMatrix,
  loss: LossFunction,
  states: ProblemState[],
  points: Float64Array[],
  passes: PassCount,
): Promise<Trial[]> {
  const k = loss.outputs;
  const d = design.cols;
  const { z, fraction } = await design.timesSparse(packWeights(points, d, k));
  passes.forward += fraction;
  return states.map((st, p) => {
    const scores = new Float64Array(loss.rows * k);
    copyBlock(z.data, z.cols, p * k, scores, k, 0, loss.rows, k);
    return scoreTrial(st, loss, points[p], scores);
  });
}

/** Loss, objective and score gradient of a trial point whose scores are known. */
function scoreTrial(st: ProblemState, loss: LossFunction, x: Float64Array, z: Float64Array): Trial {
  const k = loss.outputs;
  const dz = new Float32Array(loss.rows * k);
  const biasGrad = new Float64Array(k);
  const value = loss.evaluate({ z, stride: k, offset: 0 }, x.subarray(st.nw), dz, biasGrad);
  return { x, z, loss: value, F: st.objective(value, x), dz, biasGrad };
}

/** One forward pass for the directions of all moving problems: X·D (W parts). */
async function directionScores(
  design: DesignMatrix,
  states: ProblemState[],
  k: number,
  passes: PassCount,
): Promise<void> {
  if (states.length === 0) return;
  const xd = await design.times(
    packWeights(
      states.map((st) => st.dir),
      design.cols,
      k,
    ),
  );
  passes.forward++;
  states.forEach((st, p) => {
    st.xd = { data: xd.data, stride: xd.cols, offset: p * k };
  });
}

/**
 * Scores of a trial point from this iteration's products: X·π(x + t·d) = X·x + t·X·d − X·m, where m
 * holds the values that the orthant projection zeroed (`xm`: its block of a batched sparse product, or
 * null when nothing was zeroed).
 */
function trialScores(
  st: ProblemState,
  xm: { data: Float32Array; stride: number; offset: number } | null,
): Float64Array {
  if (!st.xd) throw new Error("trialScores: no X·dir for this iteration");
  const z = st.cur.z;
  const k = st.k;
  const n = z.length / k;
  const t = st.step;
  const { data, stride, offset } = st.xd;
  const out = new Float64Array(z.length);
  for (let i = 0; i < n; i++) {
    const o = i * stride + offset;
    const r = i * k;
    for (let c = 0; c < k; c++) out[r + c] = z[r + c] + t * data[o + c];
  }
  if (xm) {
    const m = xm.data;
    for (let i = 0; i < n; i++) {
      const o = i * xm.stride + xm.offset;
      const r = i * k;
      for (let c = 0; c < k; c++) out[r + c] -= m[o + c];
    }
  }
  return out;
}

/**
 * X·m for the values the projection zeroed in each trial (one batched product that reads only the
 * columns of X of those weights' features), or null when no trial zeroed anything.
 */
async function movedScores(
  design: DesignMatrix,
  states: ProblemState[],
  points: { crossed: number[] }[],
  passes: PassCount,
): Promise<Matrix | null> {
  if (points.every((pt) => pt.crossed.length === 0)) return null;
  const k = states[0].k;
  const K = states.length * k;
  const m = matrix(design.cols, K);
  states.forEach((st, p) => {
    for (const w of points[p].crossed) {
      const j = Math.floor(w / k);
      m.data[j * K + p * k + (w - j * k)] = st.cur.x[w] + st.step * st.dir[w];
    }
  });
  const { z, fraction } = await design.timesSparse(m);
  passes.forward += fraction;
  return z;
}

/** Batched gradient: one pass of Xᵀ·[dz_1 … dz_m]. */
async function gradients(
  design: DesignMatrix,
  states: ProblemState[],
  trials: Trial[],
  k: number,
  passes: PassCount,
): Promise<Point[]> {
  const n = design.rows;
  const K = trials.length * k;
  const G = matrix(n, K);
  trials.forEach((t, p) => {
    copyBlock(t.dz, k, 0, G.data, K, p * k, n, k);
  });
  const grad = await design.transposeTimes(G);
  passes.gradient++;
  return trials.map((t, p) => {
    const st = states[p];
    const g = new Float64Array(t.x.length);
    copyBlock(grad.data, K, p * k, g, k, 0, st.d, k);
    g.set(t.biasGrad, st.nw);
    const { f, F } = st.addFrobenius(t.loss, t.x, g);
    return { x: t.x, z: t.z, f, g, loss: t.loss, F };
  });
}

/** Loss (and accuracy) of several weight sets on a labelled split, in one pass over its matrix. */
export async function evaluateWeights(
  set: DevSet,
  points: readonly { w: Float64Array; b: Float64Array }[],
): Promise<{ loss: number; accuracy?: number }[]> {
  const k = set.loss.outputs;
  const z = await set.design.times(
    packWeights(
      points.map((p) => p.w),
      set.design.cols,
      k,
    ),
  );
  return points.map((pt, p) => {
    const block = { z: z.data, stride: z.cols, offset: p * k };
    const loss = set.loss.evaluate(block, pt.b);
    return { loss, accuracy: set.labels ? blockAccuracy(block, pt.b, set.labels) : undefined };
  });
}

async function evaluateDev(
  dev: DevSet,
  states: ProblemState[],
  passes: PassCount,
): Promise<{ loss: number; accuracy?: number }[]> {
  passes.dev++;
  return evaluateWeights(
    dev,
    states.map((st) => ({ w: st.cur.x.subarray(0, st.nw), b: st.cur.x.subarray(st.nw) })),
  );
}

async function recordDevAll(
  dev: DevSet,
  states: ProblemState[],
  passes: PassCount,
  patience: number,
): Promise<void> {
  const results = await evaluateDev(dev, states, passes);
  for (let p = 0; p < states.length; p++) recordDev(states[p], results[p], patience);
}

/**
 * Early stopping's notion of progress. Classification: a higher dev accuracy, or the same accuracy at a
 * lower dev loss — on nearly separable data the dev loss of a weakly regularised probe rises (its
 * predictions grow confident) long before its accuracy stops improving, so the loss alone stops far too
 * early (measured: 79% instead of 94% test accuracy at λ = 1e-5). Regression: a lower dev loss.
 */
function improves(
  r: { loss: number; accuracy?: number },
  best: { devLoss: number; devAcc?: number },
): boolean {
  if (r.accuracy === undefined || best.devAcc === undefined) return r.loss < best.devLoss;
  return r.accuracy > best.devAcc || (r.accuracy === best.devAcc && r.loss < best.devLoss);
}

function recordDev(st: ProblemState, r: { loss: number; accuracy?: number }, patience: number): void {
  st.lastDev = r;
  if (!st.best || improves(r, st.best)) {
    st.best = {
      x: Float64Array.from(st.cur.x),
      F: st.cur.F,
      loss: st.cur.loss,
      devLoss: r.loss,
      devAcc: r.accuracy,
      iteration: st.iterations,
    };
    st.sinceBest = 0;
  } else {
    st.sinceBest++;
    if (patience > 0 && st.sinceBest >= patience && !st.stop) st.stop = "early-stopping";
  }
}

function initialPoint(problem: SolveProblem, loss: LossFunction, d: number): Float64Array {
  const k = loss.outputs;
  const x = new Float64Array(d * k + k);
  if (problem.init) {
    if (problem.init.w.length !== d * k || problem.init.b.length !== k)
      throw new Error("warm start has the wrong shape");
    x.set(problem.init.w, 0);
    x.set(problem.init.b, d * k);
  } else x.set(loss.interceptOnly(), d * k);
  return x;
}

/**
 * Fits one probe per problem on the same training data, all at once. Deterministic: full-batch
 * steps from a fixed start (zero weights, intercept-only bias, or the given warm start).
 */
export async function solveBatch(
  train: { design: DesignMatrix; loss: LossFunction },
  problems: SolveProblem[],
  opts: SolveOptions & { dev?: DevSet; passes?: PassCount } = {},
): Promise<SolveResult[]> {
  const { design, loss } = train;
  if (design.rows !== loss.rows) throw new Error(`solveBatch: ${design.rows} rows but ${loss.rows} targets`);
  const d = design.cols;
  const k = loss.outputs;
  const maxIter = opts.maxIter ?? 500;
  const tol = opts.tol ?? 1e-6;
  const memorySize = opts.memory ?? 10;
  const patience = opts.patience ?? 5;
  const passes = opts.passes ?? { forward: 0, gradient: 0, dev: 0 };
  const dev = opts.dev;

  checkFiniteMatrix(design.source, "training");
  if (dev) checkFiniteMatrix(dev.design.source, "dev");
  const states = problems.map((p) => new ProblemState(p, d, k, loss.shiftInvariant, p.init?.memory));
  const starts = problems.map((p) => initialPoint(p, loss, d));
  const first = await evaluateTrials(design, loss, states, starts, passes);
  const points = await gradients(design, states, first, k, passes);
  points.forEach((pt, p) => {
    // A start whose objective is not a number gives no descent direction and no line search: the
    // solver would stop at once and return its start as if it were a fit.
    if (!Number.isFinite(pt.F))
      throw new UserError(
        `probe: the objective at the start (λ1=${problems[p].lambda1}, λ2=${problems[p].lambda2}) is ${pt.F}, so the fit cannot start: check the inputs and the warm start for extreme values`,
      );
  });
  states.forEach((st, p) => {
    st.cur = points[p];
    st.fHist.push(points[p].F);
    st.computePseudoGradient();
  });
  if (dev) await recordDevAll(dev, states, passes, patience);

  for (let iter = 0; iter < maxIter; iter++) {
    const running = states.filter((s) => !s.stop);
    if (running.length === 0) break;
    const moving = running.filter((st) => {
      if (st.computeDirection()) return true;
      st.stop = isZero(st.cur.x, st.nw) ? "zero-weights" : "converged";
      return false;
    });
    const accepted = await lineSearch(design, loss, moving, passes);
    const acceptedStates = accepted.map((a) => a.state);
    const next = await gradients(
      design,
      acceptedStates,
      accepted.map((a) => a.trial),
      k,
      passes,
    );
    acceptedStates.forEach((st, p) => {
      st.advance(next[p], memorySize);
      st.computePseudoGradient();
      if (st.converged(tol)) st.stop = "converged";
      else if (st.iterations >= maxIter) st.stop = "max-iterations";
    });
    if (dev && acceptedStates.length > 0) await recordDevAll(dev, acceptedStates, passes, patience);
    opts.onIteration?.(iter + 1, states.filter((s) => !s.stop).length);
  }
  return states.map((st) => finish(st));
}

/**
 * Probe inputs must be finite: one NaN makes every objective NaN, and the solver would stop at its
 * start as if it had converged. The error names the row and the column of the matrix.
 */
export function checkFiniteMatrix(x: Matrix, what: string): void {
  if (knownFinite(x.data)) return;
  const data = x.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v − v is 0 for every finite v, NaN for NaN and ±Infinity.
    if (v - v !== 0)
      throw new UserError(
        `probe: the ${what} matrix holds ${v} at row ${Math.floor(i / x.cols)}, column ${i % x.cols}: probe inputs must be finite numbers`,
      );
  }
  markFinite(data);
}

/**
 * What is wrong with a fit from a cold start (no warm start) that never left it: an error when the
 * line search failed before a single step (nothing was fitted), a warning when early stopping kept
 * the start (the dev score never improved on the intercept-only probe). Null when it moved.
 */
export function unmovedFit(r: SolveResult): { error?: string; warning?: string } | null {
  const at = `λ1=${r.lambda1}, λ2=${r.lambda2}`;
  if (r.stop === "line-search" && r.iterations === 0)
    return {
      error: `probe (${at}): the line search found no step that lowers the objective at the start, so the probe did not move from it (the result would be the intercept-only probe): check the inputs for extreme values`,
    };
  if (r.stop === "early-stopping" && r.dev?.iteration === 0)
    return {
      warning: `probe (${at}) did not move from its start: no iteration improved the dev score on the intercept-only start, which early stopping kept (its predictions are the most frequent training class)`,
    };
  return null;
}

function isZero(x: Float64Array, nw: number): boolean {
  for (let i = 0; i < nw; i++) if (x[i] !== 0) return false;
  return true;
}

/**
 * Backtracking (Armijo) for all moving problems. Scores of trial points come from X·dir (one batched
 * pass per iteration) minus X·(what the projection zeroed), a product that reads only the columns of
 * the zeroed weights' features: backtracking costs a fraction of a pass over X, not a pass.
 */
async function lineSearch(
  design: DesignMatrix,
  loss: LossFunction,
  moving: ProblemState[],
  passes: PassCount,
): Promise<{ state: ProblemState; trial: Trial }[]> {
  await directionScores(design, moving, loss.outputs, passes);
  const accepted: { state: ProblemState; trial: Trial }[] = [];
  let pending = moving;
  for (let round = 0; round < 40 && pending.length > 0; round++) {
    const points = pending.map((st) => st.trialPoint());
    const xm = await movedScores(design, pending, points, passes);
    const k = loss.outputs;
    const trials = pending.map((st, p) =>
      scoreTrial(
        st,
        loss,
        points[p].x,
        trialScores(st, xm && { data: xm.data, stride: xm.cols, offset: p * k }),
      ),
    );
    const failing: ProblemState[] = [];
    pending.forEach((st, p) => {
      if (st.accepts(trials[p])) accepted.push({ state: st, trial: trials[p] });
      else {
        st.step *= round === 0 && st.mem.s.length === 0 ? 0.1 : 0.5;
        failing.push(st);
      }
    });
    pending = failing;
  }
  for (const st of pending) st.stop = "line-search";
  for (const st of moving) st.xd = null;
  return accepted;
}

/**
 * The returned point: after early stopping, the iterate with the best dev loss (Keras'
 * restore_best_weights); otherwise the last iterate (the λ-optimum when converged).
 */
function finish(st: ProblemState): SolveResult {
  const best = st.stop === "early-stopping" ? st.best : null;
  const x = best ? best.x : st.cur.x;
  const last = st.lastDev;
  return {
    lambda1: st.penalty.lambda1,
    lambda2: st.penalty.lambda2,
    w: x.slice(0, st.nw),
    b: x.slice(st.nw),
    objective: best ? best.F : st.cur.F,
    dataLoss: best ? best.loss : st.cur.loss,
    iterations: st.iterations,
    stop: st.stop ?? "max-iterations",
    dev: best
      ? { loss: best.devLoss, accuracy: best.devAcc, iteration: best.iteration }
      : last
        ? { loss: last.loss, accuracy: last.accuracy, iteration: st.iterations }
        : undefined,
    memory: st.mem,
  };
}
