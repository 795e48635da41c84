import { describe, expect, it } from "vitest";
import { DesignMatrix } from "../../src/linalg/design.js";
import { gridSearch } from "../../src/probe/grid.js";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { SoftmaxCrossEntropy } from "../../src/probe/loss.js";
import { interceptOnlyAccuracy } from "../../src/probe/metrics.js";
import { solveBatch } from "../../src/probe/owlqn.js";
import { LinearRegressionProbe } from "../../src/probe/regression.js";
import type { Matrix } from "../../src/util/matrix.js";
import { decodeMatrix, readFixture } from "./fixture-data.js";

interface Split {
  rows: number;
  x: string;
  y: number[];
}
interface Point {
  lambda1: number;
  lambda2: number;
  adam: { objective: number; min_objective: number; test_acc: number; dev_acc: number };
  optimum: { objective: number; test_acc: number; weights: number[][]; bias: number[]; nonzero: number };
}
interface ProbeFixture {
  classes: number;
  inputs: number;
  train: Split;
  valid: Split;
  test: Split;
  standardizer: { mean: number[]; std: number[] };
  points: Point[];
}

const fx = readFixture<ProbeFixture>("probe_problem");
const d = fx.inputs;
const split = (s: Split): { x: Matrix; y: Int32Array } => ({
  x: decodeMatrix(s.x, s.rows, d),
  y: Int32Array.from(s.y),
});
const train = split(fx.train);
const valid = split(fx.valid);
const test = split(fx.test);
const design = DesignMatrix.build(train.x);

/** The objective recomputed in float64 from the probe's weights (independent of the solver's bookkeeping). */
async function objectiveOf(probe: LogisticProbe): Promise<number> {
  const z = await probe.decisionFunction(design);
  const w = probe.weights ?? new Float64Array();
  let ce = 0;
  const k = probe.outputs;
  for (let i = 0; i < z.rows; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) max = Math.max(max, z.data[i * k + c]);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(z.data[i * k + c] - max);
    ce += Math.log(s) + max - z.data[i * k + train.y[i]];
  }
  let l1 = 0;
  let sq = 0;
  for (const v of w) {
    l1 += Math.abs(v);
    sq += v * v;
  }
  return ce / z.rows + probe.lambda1 * l1 + probe.lambda2 * Math.sqrt(sq);
}

describe("standardization", () => {
  it("matches numpy's train mean and population std", () => {
    const std = design.standardizer;
    for (let j = 0; j < d; j++) {
      // float64 sums of float32 values: numpy's pairwise vs our sequential order, relative 1e-12.
      expect(Math.abs(std.mean[j] - fx.standardizer.mean[j])).toBeLessThan(
        1e-12 * Math.max(1, Math.abs(fx.standardizer.mean[j])),
      );
      expect(Math.abs(std.scale[j] - fx.standardizer.std[j])).toBeLessThan(1e-12 * fx.standardizer.std[j]);
    }
  });
});

describe("LogisticProbe vs the reference optimum and a NeuroX Adam probe", () => {
  for (const pt of fx.points) {
    it(`λ1=${pt.lambda1} λ2=${pt.lambda2}: objective at the optimum, not above Adam's; accuracy`, async () => {
      const probe = new LogisticProbe({
        lambda1: pt.lambda1,
        lambda2: pt.lambda2,
        patience: 0,
        tol: 1e-9,
        maxIter: 3000,
      });
      await probe.fit(design, train.y);
      const obj = await objectiveOf(probe);
      // Reported objective = recomputed one (float32 scores: 1e-6 relative).
      expect(Math.abs(obj - (probe.fitInfo?.objective ?? Number.NaN))).toBeLessThan(1e-6 * Math.max(1, obj));
      // The exact float64 optimum: we may not be above it by more than 2e-6 (float32 GEMM and stopping
      // tolerance), nor below it by more than 1e-6 (that would mean a wrong objective).
      expect(obj).toBeLessThanOrEqual(pt.optimum.objective + 2e-6);
      expect(obj).toBeGreaterThanOrEqual(pt.optimum.objective - 1e-6);
      // docs/DESIGN.md: at least as low as the Adam probe's best epoch.
      expect(obj).toBeLessThanOrEqual(pt.adam.min_objective);
      const acc = await probe.score(test.x, test.y);
      // Same minimiser: test accuracy within 0.3 points of the reference optimum's (rows on the boundary).
      expect(Math.abs(acc - pt.optimum.test_acc)).toBeLessThanOrEqual(0.003);
      expect(acc).toBeGreaterThanOrEqual(pt.adam.test_acc - 0.005);
    });
  }

  it("with early stopping on the dev set: accuracy not below Adam's by more than 0.5 points", async () => {
    for (const pt of fx.points) {
      const probe = new LogisticProbe({ lambda1: pt.lambda1, lambda2: pt.lambda2 });
      await probe.fit(design, train.y, { valid });
      expect(await probe.score(test.x, test.y)).toBeGreaterThanOrEqual(pt.adam.test_acc - 0.005);
    }
  });

  it("λ2 large enough gives exactly zero weights and the intercept-only bias", async () => {
    const probe = await new LogisticProbe({ lambda1: 0, lambda2: 10 }).fit(design, train.y);
    expect(probe.nonZeroWeights()).toBe(0);
    expect(probe.fitInfo?.stop).toBe("zero-weights");
    const counts = [0, 0, 0, 0];
    for (const c of train.y) counts[c]++;
    // Bias = log class priors (exact up to float64 rounding).
    const bias = probe.bias ?? new Float64Array(4).fill(Number.NaN);
    for (let c = 0; c < 4; c++)
      expect(Math.abs(bias[c] - Math.log(counts[c] / train.y.length))).toBeLessThan(1e-12);
    const acc = await probe.score(test.x, test.y);
    expect(acc).toBeCloseTo(interceptOnlyAccuracy(train.y, test.y, 4), 12);
  });

  it("solving several λ pairs in one batch gives the same optima as one at a time", async () => {
    const loss = new SoftmaxCrossEntropy(train.y, fx.classes);
    const problems = fx.points.slice(1, 4).map((p) => ({ lambda1: p.lambda1, lambda2: p.lambda2 }));
    const batch = await solveBatch({ design, loss }, problems, { patience: 0, tol: 1e-9, maxIter: 3000 });
    for (let i = 0; i < problems.length; i++) {
      const [alone] = await solveBatch({ design, loss }, [problems[i]], {
        patience: 0,
        tol: 1e-9,
        maxIter: 3000,
      });
      // Both converged to the optimum: objectives agree to 2e-6 (float32 GEMM blocking differs).
      expect(Math.abs(batch[i].objective - alone.objective)).toBeLessThan(2e-6);
    }
  });
});

describe("probe API", () => {
  it("predictProba rows sum to 1, predict is their argmax, labels can be names", async () => {
    const names = ["IDENT", "KEYWORD", "NUMBER", "STRING"];
    const probe = await new LogisticProbe({ lambda1: 1e-3 }).fit(
      train.x,
      Array.from(train.y, (c) => names[c]),
      { valid: { x: valid.x, y: Array.from(valid.y, (c) => names[c]) } },
    );
    expect(probe.classes).toEqual(names);
    const p = await probe.predictProba(test.x);
    const pred = await probe.predict(test.x);
    for (let i = 0; i < p.rows; i++) {
      let s = 0;
      let best = 0;
      for (let c = 0; c < 4; c++) {
        s += p.data[i * 4 + c];
        if (p.data[i * 4 + c] > p.data[i * 4 + best]) best = c;
      }
      expect(Math.abs(s - 1)).toBeLessThan(1e-5); // float32 probabilities
      expect(pred[i]).toBe(best);
    }
    const labels = await probe.predictLabels(test.x);
    expect(labels[0]).toBe(names[pred[0]]);
    const m = await probe.evaluate(
      test.x,
      Array.from(test.y, (c) => names[c]),
    );
    expect(m.accuracy).toBe(await probe.score(test.x, test.y));
  });

  it("round-trips through JSON with identical predictions", async () => {
    const probe = await new LogisticProbe({ lambda1: 1e-4, lambda2: 1e-3 }).fit(train.x, train.y, { valid });
    const text = JSON.stringify(probe.toJSON());
    const back = LogisticProbe.fromJSON(JSON.parse(text), "probe.json");
    expect(back.classes).toEqual(probe.classes);
    expect(Array.from(back.weights ?? [])).toEqual(Array.from(probe.weights ?? []));
    expect(Array.from(await back.predict(test.x))).toEqual(Array.from(await probe.predict(test.x)));
    expect(JSON.stringify(back.toJSON())).toBe(text);
  });

  it("is deterministic: the same fit twice gives identical weights", async () => {
    const a = await new LogisticProbe({ lambda1: 1e-3, lambda2: 1e-2 }).fit(train.x, train.y, { valid });
    const b = await new LogisticProbe({ lambda1: 1e-3, lambda2: 1e-2 }).fit(train.x, train.y, { valid });
    expect(Array.from(a.weights ?? [])).toEqual(Array.from(b.weights ?? []));
  });
});

describe("grid search", () => {
  it("covers the 6×6 grid, picks the best dev accuracy, reports dev and test metrics", async () => {
    const r = await gridSearch(design, train.y, valid, { test });
    expect(r.points).toHaveLength(36);
    const bestDev = Math.max(...r.points.map((p) => p.dev.accuracy));
    expect(r.best.dev.accuracy).toBe(bestDev);
    expect(r.probe.lambda1).toBe(r.best.lambda1);
    expect(r.probe.lambda2).toBe(r.best.lambda2);
    for (const p of r.points) expect(p.test?.accuracy).toBeGreaterThan(0);
    // The chosen probe scores what the grid reported for it (same weights, same test rows).
    expect(await r.probe.score(test.x, test.y)).toBe(r.best.test?.accuracy);
    // Not worse on test than the Adam probe at any of the reference λs, by more than 0.5 points.
    const adamBest = Math.max(...fx.points.map((p) => p.adam.test_acc));
    expect(r.best.test?.accuracy ?? 0).toBeGreaterThanOrEqual(adamBest - 0.005);
    const again = await gridSearch(design, train.y, valid, { test });
    expect(again.points.map((p) => p.objective)).toEqual(r.points.map((p) => p.objective));
  });
});

interface RegressionFixture {
  rows: number;
  inputs: number;
  x: string;
  y: number[];
  points: { lambda1: number; lambda2: number; objective: number; weights: number[]; bias: number }[];
}

describe("LinearRegressionProbe", () => {
  const rf = readFixture<RegressionFixture>("regression");
  const x = decodeMatrix(rf.x, rf.rows, rf.inputs);
  for (const pt of rf.points) {
    it(`λ1=${pt.lambda1} λ2=${pt.lambda2}: reaches the reference optimum`, async () => {
      const probe = await new LinearRegressionProbe({
        lambda1: pt.lambda1,
        lambda2: pt.lambda2,
        patience: 0,
        tol: 1e-12,
        maxIter: 3000,
      }).fit(x, rf.y);
      const obj = probe.fitInfo?.objective ?? Number.NaN;
      // float32 scores on targets of size ~10: 1e-5 relative.
      expect(obj).toBeLessThanOrEqual(pt.objective * (1 + 1e-5) + 1e-7);
      expect(obj).toBeGreaterThanOrEqual(pt.objective * (1 - 1e-5) - 1e-7);
      // Weights of a well-conditioned least-squares problem: within 1e-3.
      for (let j = 0; j < pt.weights.length; j++)
        expect(Math.abs((probe.weights?.[j] ?? Number.NaN) - pt.weights[j])).toBeLessThan(1e-3);
      expect(Math.abs((probe.bias?.[0] ?? 0) - pt.bias)).toBeLessThan(1e-3);
      expect(await probe.score(x, rf.y)).toBeGreaterThan(0.9);
    });
  }
});
