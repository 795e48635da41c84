import { DesignMatrix } from "../linalg/design.js";
import { Standardizer } from "../linalg/standardize.js";
import { gridSearch } from "../probe/grid.js";
import { LogisticProbe } from "../probe/logistic.js";
import type { ClassificationMetrics } from "../probe/metrics.js";
import { neuronOrdering } from "../rank/lca.js";
import { type Matrix, selectColumns } from "../util/matrix.js";
import type { LabelledRows, PipelineData, Split } from "./pipeline-data.js";
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

function labelsOf(data: PipelineData, which: "task" | "control", split: Split): Int32Array {
  if (which === "task") return data[split].y;
  if (!data.control) throw new Error("no control task");
  return data.control.y[split];
}

/** Rows of `split` restricted to `columns`, standardized with the training statistics. */
function evalDesign(
  rows: LabelledRows,
  columns: readonly number[],
  std: Standardizer,
  all: boolean,
): DesignMatrix {
  const x: Matrix = all ? rows.x : selectColumns(rows.x, columns);
  return DesignMatrix.wrap(std.apply(x, { inPlace: !all }), std);
}

function isIdentity(columns: readonly number[], n: number): boolean {
  if (columns.length !== n) return false;
  for (let i = 0; i < n; i++) if (columns[i] !== i) return false;
  return true;
}

/**
 * Trains one probe on the given columns (z-scored with train statistics) and scores it on dev and test.
 * The training rows are copied once (the copy is standardized in place), dev/test likewise.
 */
export async function fitProbe(
  data: PipelineData,
  classes: readonly string[],
  req: ProbeRequest,
  solver: ProbeSolverSettings,
): Promise<ProbeFit> {
  const t0 = performance.now();
  const cols = [...req.columns];
  const all = isIdentity(cols, data.train.x.cols);
  const xs = selectColumns(data.train.x, cols);
  const std = Standardizer.fit(xs);
  const design = DesignMatrix.build(xs, { standardizer: std, inPlace: true });
  const valid = evalDesign(data.valid, cols, std, all);
  const test = evalDesign(data.test, cols, std, all);
  const y = labelsOf(data, req.labels, "train");
  const yValid = labelsOf(data, req.labels, "valid");
  const yTest = labelsOf(data, req.labels, "test");
  let probe: LogisticProbe;
  let grid: ProbeFit["grid"];
  if ("grid" in req.lambdas) {
    const r = await gridSearch(
      design,
      y,
      { x: valid, y: yValid },
      { lambda1s: req.lambdas.grid, lambda2s: req.lambdas.grid, classes, ...solver },
    );
    probe = r.probe;
    grid = r.points.map((p) => ({ lambda1: p.lambda1, lambda2: p.lambda2, devAccuracy: p.dev.accuracy }));
  } else {
    probe = new LogisticProbe({ ...req.lambdas, ...solver });
    await probe.fit(design, y, { valid: { x: valid, y: yValid }, classes });
  }
  const dev = scoresOf(await probe.evaluate(valid, yValid));
  const testScores = scoresOf(await probe.evaluate(test, yTest));
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
    seconds: (performance.now() - t0) / 1000,
  };
  return { record, ...(ordering ? { ordering } : {}), ...(grid ? { grid } : {}) };
}
