/**
 * `npm run bench:probe`: probes on a 12,000 × 9,984 × 6-class problem (bench/probe-data.ts, synthetic
 * with planted structure), ours vs PyTorch Adam with NeuroX / paper settings (batch 128, lr 1e-3,
 * ≤ 100 epochs, patience 2, torch threads = ours) and vs scikit-learn LogisticRegression(saga,
 * elasticnet), all in the same run:
 *   probe-fit    one fit at λ1 = λ2 = 1e-5 (medians of several runs)
 *   probe-grid   the whole 6 × 6 λ grid, λs chosen on dev, test accuracy of the chosen probe
 * Also reports the passes over X and the memory-bandwidth bound (passes × the time of one pass).
 *
 * Options (environment): BENCH_PROBE_RUNS (ours, default 3), BENCH_PROBE_ADAM_RUNS (default 1),
 * BENCH_PROBE_GRID_SUBSET (time only this many Adam grid points, spread over the grid, and extrapolate;
 * default 0 = the whole grid), BENCH_PROBE_SKIP_BASELINES=1.
 */
import { join } from "node:path";
import { DesignMatrix } from "../src/linalg/design.js";
import { threadCount } from "../src/linalg/runtime.js";
import { gridSearch } from "../src/probe/grid.js";
import { LogisticProbe } from "../src/probe/logistic.js";
import { type Matrix, matrix } from "../src/util/matrix.js";
import {
  appendResult,
  benchLine,
  gitCommit,
  machineInfo,
  median,
  pythonHas,
  runPythonBaseline,
  timeRuns,
  WORK_DIR,
} from "./common.js";
import { loadOrMakeProbeProblem } from "./probe-data.js";

const DATA_DIR = join(WORK_DIR, "probe");
const FIT_L1 = 1e-5;
const FIT_L2 = 1e-5;
const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

interface AdamFit {
  seconds: number;
  epochs: number;
  objective: number;
  min_objective: number;
  test_acc: number;
  dev_acc: number;
}
interface AdamGrid {
  seconds: number;
  points: number;
  extrapolated_seconds: number;
  best: { lambda1: number; lambda2: number; dev_acc: number; test_acc: number };
  grid: { lambda1: number; lambda2: number; epochs: number; seconds: number; dev_acc: number }[];
}
interface SklearnFit {
  seconds: number;
  n_iter: number;
  max_iter: number;
  test_acc: number;
}

function copyOf(m: Matrix): Matrix {
  return matrix(m.rows, m.cols, Float32Array.from(m.data));
}

/** The time of one pass over X: X·W for 6 and 36 columns and Xᵀ·G for 6 (medians of 5). */
async function passTimes(design: DesignMatrix): Promise<{ pass6: number; pass36: number; grad6: number }> {
  const w6 = matrix(design.cols, 6).data.fill(0.01);
  const w36 = matrix(design.cols, 36).data.fill(0.01);
  const g6 = matrix(design.rows, 6).data.fill(0.01);
  const t = async (f: () => Promise<unknown>) => (await timeRuns(f, 5, 1)).median;
  return {
    pass6: await t(() => design.times(matrix(design.cols, 6, w6))),
    pass36: await t(() => design.times(matrix(design.cols, 36, w36))),
    grad6: await t(() => design.transposeTimes(matrix(design.rows, 6, g6))),
  };
}

async function main(): Promise<void> {
  // The code measured is the checkout at the start (the working tree may change during a long run).
  const commit = gitCommit();
  const threads = threadCount();
  process.stderr.write(`bench:probe: ${threads} threads, load ${JSON.stringify(machineInfo())}\n`);
  const problem = await loadOrMakeProbeProblem(DATA_DIR);
  const { train, valid, test } = problem;
  process.stderr.write(`problem: ${train.x.rows} × ${train.x.cols}, ${problem.classNames.length} classes\n`);

  // --- ours: one fit (includes standardization and the transposed copy, as a user would wait for)
  const fitRuns = env("BENCH_PROBE_RUNS", 3);
  const fit = await timeRuns(async () => {
    const probe = new LogisticProbe({ lambda1: FIT_L1, lambda2: FIT_L2 });
    await probe.fit(copyOf(train.x), train.y, { valid, classes: problem.classNames });
    return probe;
  }, fitRuns);
  const fitProbe = fit.result;
  const fitTest = await fitProbe.score(test.x, test.y);
  const fitInfo = fitProbe.fitInfo;
  process.stderr.write(`ours fit: ${fit.times.map((t) => t.toFixed(2)).join(", ")} s, test ${fitTest}\n`);

  // --- ours: the 6 × 6 grid
  const grid = await timeRuns(async () => {
    const design = DesignMatrix.build(copyOf(train.x), { inPlace: true });
    return gridSearch(design, train.y, valid, { test, classes: problem.classNames });
  }, fitRuns);
  const g = grid.result;
  process.stderr.write(
    `ours grid: ${grid.times.map((t) => t.toFixed(2)).join(", ")} s, best λ1=${g.best.lambda1} λ2=${g.best.lambda2} test ${g.best.test?.accuracy}\n`,
  );

  const design = DesignMatrix.build(copyOf(train.x), { inPlace: true });
  const pass = await passTimes(design);
  const fitPasses = fitInfo ? fitInfo.passes.forward + fitInfo.passes.gradient : 0;
  const gridPasses = g.passes.forward + g.passes.gradient;

  // --- baselines
  const skip = process.env.BENCH_PROBE_SKIP_BASELINES === "1" || !pythonHas(["torch", "numpy", "sklearn"]);
  const script = join(import.meta.dirname, "probe_baseline.py");
  const common = ["--data", DATA_DIR, "--threads", String(threads)];
  let adamFit: AdamFit[] = [];
  let adamGrid: AdamGrid | null = null;
  let sk: SklearnFit | null = null;
  if (!skip) {
    for (let r = 0; r < env("BENCH_PROBE_ADAM_RUNS", 1); r++)
      adamFit.push(
        await runPythonBaseline<AdamFit>(script, [
          "fit",
          ...common,
          "--l1",
          String(FIT_L1),
          "--l2",
          String(FIT_L2),
        ]),
      );
    sk = await runPythonBaseline<SklearnFit>(script, ["sklearn", ...common, "--l1", String(FIT_L1)]);
    const subset = env("BENCH_PROBE_GRID_SUBSET", 0);
    adamGrid = await runPythonBaseline<AdamGrid>(script, ["grid", ...common, "--subset", String(subset)]);
  } else adamFit = [];

  const adamFitSec = adamFit.length ? median(adamFit.map((a) => a.seconds)) : null;
  const fitLine = benchLine("probe-fit", fit.median, adamFitSec, {
    test_acc_ours: fitTest,
    test_acc_adam: adamFit[0]?.test_acc ?? "skipped",
    objective_ours: fitInfo?.objective ?? Number.NaN,
    objective_adam_min: adamFit[0]?.min_objective ?? "skipped",
    adam_epochs: adamFit[0]?.epochs ?? "skipped",
    iterations: fitInfo?.iterations ?? 0,
    passes: fitPasses,
    pass_s: (pass.pass6 + pass.grad6) / 2,
    bound_s: fitPasses * ((pass.pass6 + pass.grad6) / 2),
    lambda1: FIT_L1,
    lambda2: FIT_L2,
    runs: fitRuns,
    threads,
  });
  const skLine = benchLine("probe-fit-sklearn", fit.median, sk ? sk.seconds : null, {
    test_acc_ours: fitTest,
    test_acc_sklearn: sk?.test_acc ?? "skipped",
    saga_epochs: sk?.n_iter ?? "skipped",
    saga_max_iter: sk?.max_iter ?? "skipped",
  });
  const gridBaseline = adamGrid ? adamGrid.extrapolated_seconds : null;
  // The machine is shared: a neighbour can slow an epoch tenfold. The conservative figure charges every
  // epoch of the timed points at the fastest per-epoch rate seen in any of them (favours the baseline).
  const epochs = adamGrid ? adamGrid.grid.reduce((a, r) => a + r.epochs, 0) : 0;
  const fastestEpoch = adamGrid ? Math.min(...adamGrid.grid.map((r) => r.seconds / r.epochs)) : Number.NaN;
  const conservative = adamGrid ? ((epochs * fastestEpoch) / adamGrid.points) * 36 : Number.NaN;
  const gridLine = benchLine("probe-grid", grid.median, gridBaseline, {
    test_acc_ours: g.best.test?.accuracy ?? Number.NaN,
    test_acc_adam: adamGrid?.best.test_acc ?? "skipped",
    lambda_ours: `${g.best.lambda1}/${g.best.lambda2}`,
    lambda_adam: adamGrid ? `${adamGrid.best.lambda1}/${adamGrid.best.lambda2}` : "skipped",
    adam_points_timed: adamGrid ? adamGrid.points : "skipped",
    adam_epochs: adamGrid ? epochs : "skipped",
    adam_fastest_epoch_s: adamGrid ? fastestEpoch : "skipped",
    ratio_conservative: adamGrid ? conservative / grid.median : "skipped",
    adam_extrapolated: adamGrid ? adamGrid.points < 36 : "skipped",
    passes: gridPasses,
    pass36_s: pass.pass36,
    bound_s: gridPasses * pass.pass36,
    runs: fitRuns,
    threads,
  });
  await appendResult("probe", {
    commit,
    loadAtEnd: machineInfo(),
    lines: [fitLine, skLine, gridLine],
    ours: {
      fitSeconds: fit.times,
      fitInfo,
      fitTestAccuracy: fitTest,
      gridSeconds: grid.times,
      gridPasses: g.passes,
      gridBest: g.best,
      grid: g.points,
      pass,
    },
    baseline: { adamFit, sklearn: sk, adamGrid },
  });
}

await main();
