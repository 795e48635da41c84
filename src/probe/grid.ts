import { DesignMatrix } from "../linalg/design.js";
import { UserError } from "../util/errors.js";
import { encodeLabels, type Labels } from "./labels.js";
import { type ProbeInput, type ProbeOptions, roundPasses } from "./linear-model.js";
import { devSet, type LabeledSplit, LogisticProbe } from "./logistic.js";
import { SoftmaxCrossEntropy } from "./loss.js";
import {
  checkFiniteMatrix,
  type DevSet,
  evaluateWeights,
  type PassCount,
  type SolveProblem,
  type SolveResult,
  type StopReason,
  solveBatch,
  unmovedFit,
} from "./owlqn.js";

/** The paper's λ values for both λ1 and λ2 (docs/DESIGN.md, "Probe"). */
export const LAMBDA_GRID: readonly number[] = [0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1];

export interface GridSearchOptions extends Omit<ProbeOptions, "lambda1" | "lambda2" | "onIteration"> {
  lambda1s?: readonly number[];
  lambda2s?: readonly number[];
  classes?: readonly string[];
  /** Scored for every grid point (reported, never used for the choice). */
  test?: LabeledSplit;
  /** Fit the next λ1 from the previous λ1's solution with the same λ2 (default true). */
  warmStart?: boolean;
  /** Grid points fitted together in one pass over X (default: all λ2 values of one λ1). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface GridPoint {
  lambda1: number;
  lambda2: number;
  iterations: number;
  stop: StopReason;
  objective: number;
  trainLoss: number;
  nonZeroWeights: number;
  dev: { loss: number; accuracy: number };
  test?: { loss: number; accuracy: number };
}

export interface GridSearchResult {
  points: GridPoint[];
  best: GridPoint;
  /** The probe of the best point. */
  probe: LogisticProbe;
  passes: PassCount;
  seconds: number;
}

/**
 * Tunes λ1, λ2 on the dev split. The grid is walked from strong to weak L1 (glmnet's path order), each
 * λ1 fitting all λ2 values together (one MatMul over X serves the whole batch), each point warm-started
 * from the previous λ1's point with the same λ2 (weights and L-BFGS memory). The best point has the
 * highest dev accuracy; ties go to the lower dev loss, then to the stronger regularisation.
 */
export async function gridSearch(
  x: ProbeInput,
  y: Labels,
  valid: LabeledSplit,
  opts: GridSearchOptions = {},
): Promise<GridSearchResult> {
  const t0 = performance.now();
  const enc = encodeLabels(y, opts.classes);
  const k = enc.classes.length;
  if (k < 2) throw new Error("a classification probe needs at least two classes");
  if (!(x instanceof DesignMatrix)) checkFiniteMatrix(x, "training");
  const design =
    x instanceof DesignMatrix
      ? x
      : DesignMatrix.build(x, { inPlace: opts.inPlace, transposed: opts.transposed });
  if (design.rows !== enc.codes.length)
    throw new Error(`grid: ${design.rows} rows but ${enc.codes.length} labels`);
  const dev = devSet(design, valid, enc.classes);
  const test = opts.test ? devSet(design, opts.test, enc.classes) : undefined;
  const loss = new SoftmaxCrossEntropy(enc.codes, k);
  const l1s = [...new Set(opts.lambda1s ?? LAMBDA_GRID)].sort((a, b) => b - a);
  const l2s = [...new Set(opts.lambda2s ?? LAMBDA_GRID)].sort((a, b) => b - a);
  const batchSize = Math.max(1, opts.batchSize ?? l2s.length);
  const passes: PassCount = { forward: 0, gradient: 0, dev: 0 };
  const total = l1s.length * l2s.length;
  // Only the best point's solution is kept (the others' weights and L-BFGS memory would be 36 copies
  // of the probe's size); `isBetter` folds in grid order, as chooseBest does.
  const kept: { best: { index: number; result: SolveResult; cold: boolean } | null } = { best: null };
  const points: GridPoint[] = [];
  const previous = new Map<number, SolveResult>();

  for (const l1 of l1s) {
    for (let start = 0; start < l2s.length; start += batchSize) {
      const problems: SolveProblem[] = l2s.slice(start, start + batchSize).map((l2) => {
        const prev = opts.warmStart === false ? undefined : previous.get(l2);
        return { lambda1: l1, lambda2: l2, init: prev && { w: prev.w, b: prev.b, memory: prev.memory } };
      });
      const results = await solveBatch({ design, loss }, problems, {
        maxIter: opts.maxIter,
        tol: opts.tol,
        memory: opts.memory,
        patience: opts.patience,
        dev,
        passes,
      });
      const tested = test ? await scoreAll(test, results) : undefined;
      results.forEach((r, i) => {
        const fromStart = problems[i].init === undefined;
        // A cold fit that could not take one step is no fit at all, whichever point wins.
        const error = fromStart ? unmovedFit(r)?.error : undefined;
        if (error) throw new UserError(error);
        previous.set(r.lambda2, r);
        const point = gridPoint(r, tested?.[i]);
        points.push(point);
        if (!kept.best || isBetter(point, points[kept.best.index]))
          kept.best = { index: points.length - 1, result: r, cold: fromStart };
      });
      opts.onProgress?.(points.length, total);
    }
  }
  const best = kept.best;
  if (!best) throw new Error("grid: no points");
  const chosen = points[best.index];
  const probe = new LogisticProbe({ lambda1: chosen.lambda1, lambda2: chosen.lambda2 });
  probe.classes = enc.classes;
  const seconds = (performance.now() - t0) / 1000;
  probe.adoptSolution(best.result, design.standardizer, passes, best.cold);
  return { points, best: chosen, probe, passes: roundPasses(passes), seconds };
}

async function scoreAll(set: DevSet, results: SolveResult[]): Promise<{ loss: number; accuracy: number }[]> {
  const scored = await evaluateWeights(set, results);
  return scored.map((s) => ({ loss: s.loss, accuracy: s.accuracy ?? 0 }));
}

function gridPoint(r: SolveResult, test?: { loss: number; accuracy: number }): GridPoint {
  let nonZero = 0;
  for (let i = 0; i < r.w.length; i++) if (r.w[i] !== 0) nonZero++;
  return {
    lambda1: r.lambda1,
    lambda2: r.lambda2,
    iterations: r.iterations,
    stop: r.stop,
    objective: r.objective,
    trainLoss: r.dataLoss,
    nonZeroWeights: nonZero,
    dev: { loss: r.dev?.loss ?? Number.NaN, accuracy: r.dev?.accuracy ?? 0 },
    ...(test ? { test } : {}),
  };
}

/** Whether point a beats b: dev accuracy, then dev loss, then larger λ1, then larger λ2. */
function isBetter(a: GridPoint, b: GridPoint): boolean {
  return a.dev.accuracy !== b.dev.accuracy
    ? a.dev.accuracy > b.dev.accuracy
    : a.dev.loss !== b.dev.loss
      ? a.dev.loss < b.dev.loss
      : a.lambda1 !== b.lambda1
        ? a.lambda1 > b.lambda1
        : a.lambda2 > b.lambda2;
}

/** Index of the best point: dev accuracy, then dev loss, then larger λ1, then larger λ2. */
export function chooseBest(points: readonly GridPoint[]): number {
  let best = 0;
  for (let i = 1; i < points.length; i++) if (isBetter(points[i], points[best])) best = i;
  return best;
}
