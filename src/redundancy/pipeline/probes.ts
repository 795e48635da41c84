import { DesignMatrix } from "../../linalg/design.js";
import { Standardizer, transposeBlocked } from "../../linalg/standardize.js";
import { fitControlProbe } from "../../probe/control.js";
import { type GridPoint, gridSearch } from "../../probe/grid.js";
import { LogisticProbe } from "../../probe/logistic.js";
import type { ClassificationMetrics } from "../../probe/metrics.js";
import type { WarmStart } from "../../probe/owlqn.js";
import { neuronOrdering } from "../../rank/lca.js";
import { type Matrix, selectColumns, selectRows } from "../../util/matrix.js";
import type { PipelineData, SplitName } from "./input/index.js";
import type { ProbeRecord, Scores } from "./results.js";

/** How a probe's λs are set: given, or tuned on the dev split over a grid (both λ1 and λ2). */
export type Lambdas = { lambda1: number; lambda2: number } | { grid: readonly number[] };

export interface ProbeSolverSettings {
  patience: number;
  maxIter: number;
}

export interface ProbeRequest {
  /** Columns of the full feature matrix, in the order the probe sees them. */
  columns: readonly number[];
  lambdas: Lambdas;
  /** Which labels: the task's or the control task's. */
  labels: "task" | "control";
  /** Also return the LCA ordering of the fitted probe with this stride (NeuroX's search_stride). */
  orderingStride?: number;
}

export interface ProbeFit {
  record: ProbeRecord;
  /** Full-matrix columns, most important first (LCA on the probe's weights), when asked for. */
  ordering?: number[];
  /** Dev accuracy of every grid point, when the λs were tuned. */
  grid?: { lambda1: number; lambda2: number; devAccuracy: number }[];
}

export function scoresOf(m: ClassificationMetrics): Scores {
  const perClass: Record<string, number> = {};
  for (const c of m.classes) perClass[c] = m.perClass[c].accuracy;
  return { accuracy: m.accuracy, macroF1: m.macroF1, ...(m.f1 !== undefined ? { f1: m.f1 } : {}), perClass };
}

function labelsOf(data: PipelineData, which: "task" | "control", split: SplitName): Int32Array {
  if (which === "task") return data[split].y;
  if (!data.control) throw new Error("no control task");
  return data.control.y[split];
}

/**
 * All splits z-scored once with the training statistics, and the training matrix also transposed. A
 * column's statistics do not depend on the other columns, so the probe on any column subset sees
 * exactly the values it would get from standardizing that subset itself; only the copying of the
 * chosen columns is left per probe (the transposed rows are contiguous: plain copies).
 */
export interface StandardizedData {
  std: Standardizer;
  train: Matrix;
  trainT: Matrix;
  valid: Matrix;
  test: Matrix;
}

/**
 * The splits z-scored with the training statistics. `inPlace` (what the pipeline does) overwrites
 * `data`'s matrices with the z-scores, so that it holds one float32 copy of each split plus the
 * transposed training rows, not two (the raw activations are then read again from the stores where a
 * step needs them); by default `data` keeps the raw values.
 */
export function standardizeData(data: PipelineData, opts: { inPlace?: boolean } = {}): StandardizedData {
  const std = Standardizer.fit(data.train.x);
  const inPlace = opts.inPlace ?? false;
  const train = std.applyWithTransposed(data.train.x, { inPlace });
  return {
    std,
    train: train.x,
    trainT: train.xt,
    valid: std.apply(data.valid.x, { inPlace }),
    test: std.apply(data.test.x, { inPlace }),
  };
}

/**
 * Probes on a subset of the columns copy them out (contiguous rows for the solver's products) up to
 * this many bytes (all splits and the transposed training rows); a larger subset is a view of the full
 * standardized matrices (DesignMatrix.columns), whose products cost as much as the full matrix's but
 * no memory. A fixed size, not the machine's memory, so that a subset is fitted the same way on every
 * machine (the two differ in float32 rounding).
 */
export const SUBSET_COPY_LIMIT_BYTES = 2 * 1024 ** 3;

/** Bytes of the copies a probe on `columns` columns makes (z train and its transpose, dev, test). */
export function subsetCopyBytes(
  columns: number,
  rows: { train: number; valid: number; test: number },
): number {
  return 4 * columns * (2 * rows.train + rows.valid + rows.test);
}

interface SubsetDesigns {
  std: Standardizer;
  train: DesignMatrix;
  valid: DesignMatrix;
  test: DesignMatrix;
}

/** The designs of a probe on `cols`: the full matrices, copies of the columns, or views of them. */
function subsetDesigns(
  z: StandardizedData,
  cols: readonly number[],
  withTrain: boolean,
  copyLimit = SUBSET_COPY_LIMIT_BYTES,
): SubsetDesigns {
  const all = isIdentity(cols, z.train.cols);
  const std = all ? z.std : subStandardizer(z.std, cols);
  const rows = { train: z.train.rows, valid: z.valid.rows, test: z.test.rows };
  if (all || subsetCopyBytes(cols.length, rows) <= copyLimit) {
    // The probe only reads its design matrices, so all columns need no copy.
    const pick = (m: Matrix) => (all ? m : selectColumns(m, cols));
    // The training columns are rows of the transposed copy (plain copies); the row-major copy is their
    // transpose, the same values as gathering them from the rows at a fraction of the cache misses.
    const trainT = withTrain && !all ? selectRows(z.trainT, cols) : z.trainT;
    return {
      std,
      train: withTrain
        ? DesignMatrix.wrap(all ? z.train : transposeBlocked(trainT), std, trainT)
        : DesignMatrix.wrap(z.train, z.std),
      valid: DesignMatrix.wrap(pick(z.valid), std),
      test: DesignMatrix.wrap(pick(z.test), std),
    };
  }
  const full = fullDesigns(z);
  return {
    std,
    train: DesignMatrix.columns(full.train, cols, std),
    valid: DesignMatrix.columns(full.valid, cols, std),
    test: DesignMatrix.columns(full.test, cols, std),
  };
}

/** The full standardized matrices as designs, made once per StandardizedData. */
const fullDesignCache = new WeakMap<
  StandardizedData,
  { train: DesignMatrix; valid: DesignMatrix; test: DesignMatrix }
>();
function fullDesigns(z: StandardizedData) {
  let d = fullDesignCache.get(z);
  if (!d) {
    d = {
      train: DesignMatrix.wrap(z.train, z.std, z.trainT),
      valid: DesignMatrix.wrap(z.valid, z.std),
      test: DesignMatrix.wrap(z.test, z.std),
    };
    fullDesignCache.set(z, d);
  }
  return d;
}

function subStandardizer(std: Standardizer, cols: readonly number[]): Standardizer {
  return new Standardizer(
    Float64Array.from(cols, (c) => std.mean[c]),
    Float64Array.from(cols, (c) => std.scale[c]),
  );
}

function isIdentity(columns: readonly number[], n: number): boolean {
  return columns.length === n && columns.every((c, i) => c === i);
}

/** Trains one probe on the given columns and scores it on dev and test. */
export async function fitProbe(
  data: PipelineData,
  z: StandardizedData,
  classes: readonly string[],
  req: ProbeRequest,
  solver: ProbeSolverSettings,
  /** Subsets larger than this (copy bytes) are views (tests set it to reach that path on small data). */
  copyLimitBytes = SUBSET_COPY_LIMIT_BYTES,
): Promise<ProbeFit> {
  const { probe, gridPoints, designs } = await trainProbe(data, z, classes, req, solver, copyLimitBytes);
  return probeFitOf(probe, data, z, req, gridPoints, designs);
}

/**
 * A probe with fixed λs on the first `columns` of an ordering, started from the probe on a shorter
 * prefix of it (its weights, zeros for the added columns, its bias): how warm-started minimal-set
 * searches fit each size. Also returns the weights, for the next size.
 */
export async function fitProbeFrom(
  data: PipelineData,
  z: StandardizedData,
  classes: readonly string[],
  req: ProbeRequest,
  solver: ProbeSolverSettings,
  previous: { w: Float64Array; b: Float64Array } | null,
): Promise<ProbeFit & { weights: { w: Float64Array; b: Float64Array } }> {
  const k = classes.length;
  let init: WarmStart | undefined;
  if (previous) {
    const w = new Float64Array(req.columns.length * k);
    w.set(previous.w.subarray(0, Math.min(previous.w.length, w.length)));
    init = { w, b: Float64Array.from(previous.b) };
  }
  const { probe, designs } = await trainProbe(data, z, classes, req, solver, SUBSET_COPY_LIMIT_BYTES, init);
  const fit = await probeFitOf(probe, data, z, req, undefined, designs);
  const weights = { w: probe.weights as Float64Array, b: probe.bias as Float64Array };
  return { ...fit, record: { ...fit.record, ...(init ? { warmStart: true as const } : {}) }, weights };
}

/**
 * The probe itself of a request, trained as the pipeline trains it (compress/ refits a selected set's
 * probe this way and gets the pipeline's probe, weight for weight).
 */
export async function trainProbe(
  data: PipelineData,
  z: StandardizedData,
  classes: readonly string[],
  req: ProbeRequest,
  solver: ProbeSolverSettings,
  copyLimitBytes = SUBSET_COPY_LIMIT_BYTES,
  /** A start for a probe with fixed λs (weights [columns × classes] feature-major, bias). */
  init?: WarmStart,
): Promise<{
  probe: LogisticProbe;
  gridPoints?: GridPoint[];
  /** The dev and test designs it was scored with, for probeFitOf. */
  designs: { valid: DesignMatrix; test: DesignMatrix };
}> {
  const cols = [...req.columns];
  const { train: design, valid, test } = subsetDesigns(z, cols, true, copyLimitBytes);
  const y = labelsOf(data, req.labels, "train");
  const yValid = labelsOf(data, req.labels, "valid");
  const yTest = labelsOf(data, req.labels, "test");
  if (req.labels === "control" && !("grid" in req.lambdas)) {
    // The one control probe (probe/control.ts): the real probe's λs and solver, the control labels.
    const fit = await fitControlProbe(
      { train: { x: design, y }, valid: { x: valid, y: yValid }, test: { x: test, y: yTest } },
      { ...req.lambdas, ...solver, classes },
    );
    return { probe: fit.probe, designs: { valid, test } };
  }
  if ("grid" in req.lambdas) {
    const r = await gridSearch(
      design,
      y,
      { x: valid, y: yValid },
      { lambda1s: req.lambdas.grid, lambda2s: req.lambdas.grid, classes, ...solver },
    );
    return { probe: r.probe, gridPoints: r.points, designs: { valid, test } };
  }
  const probe = new LogisticProbe({ ...req.lambdas, ...solver });
  await probe.fit(design, y, { valid: { x: valid, y: yValid }, classes, warmStart: init });
  return { probe, designs: { valid, test } };
}

/**
 * What the pipeline keeps of a fitted probe on the request's columns: its λs and iterations, dev and
 * test scores on this pipeline's rows, the LCA ordering when asked, and the grid's dev accuracies.
 */
export async function probeFitOf(
  probe: LogisticProbe,
  data: PipelineData,
  z: StandardizedData,
  req: ProbeRequest,
  gridPoints?: readonly GridPoint[],
  designs?: { valid: DesignMatrix; test: DesignMatrix },
): Promise<ProbeFit> {
  const cols = [...req.columns];
  const { valid, test } = designs ?? subsetDesigns(z, cols, false);
  const dev = scoresOf(await probe.evaluate(valid, labelsOf(data, req.labels, "valid")));
  const testScores = scoresOf(await probe.evaluate(test, labelsOf(data, req.labels, "test")));
  const ordering =
    req.orderingStride !== undefined
      ? neuronOrdering(probe.weightsByOutput(), req.orderingStride).ordering.map((j) => cols[j])
      : undefined;
  const record: ProbeRecord = {
    neurons: cols.length,
    lambda1: probe.lambda1,
    lambda2: probe.lambda2,
    dev,
    test: testScores,
    iterations: probe.fitInfo?.iterations ?? 0,
  };
  const grid = gridPoints?.map((p) => ({
    lambda1: p.lambda1,
    lambda2: p.lambda2,
    devAccuracy: p.dev.accuracy,
  }));
  return { record, ...(ordering ? { ordering } : {}), ...(grid ? { grid } : {}) };
}
