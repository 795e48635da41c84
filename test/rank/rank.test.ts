import { describe, expect, it } from "vitest";
import { DesignMatrix } from "../../src/linalg/design.js";
import { ablate, retrainOn } from "../../src/probe/ablation.js";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { interceptOnlyAccuracy } from "../../src/probe/metrics.js";
import { bottomNeurons, neuronOrdering, topNeurons } from "../../src/rank/lca.js";
import { probelessRanking } from "../../src/rank/probeless.js";
import { randomOrdering } from "../../src/rank/random.js";
import { decodeMatrix, readFixture } from "../probe/fixture-data.js";

interface Selection {
  p: number;
  union: number[];
  perClass: number[][];
}
interface LcaFixture {
  classes: number;
  neurons: number;
  weights: string;
  top: Selection[];
  bottom: Selection[];
  orderings: {
    stride: number;
    ordering: number[];
    cutoffs: number[];
    bottomOrdering: number[];
    bottomCutoffs: number[];
  }[];
}

describe("LCA rankings vs a direct numpy implementation", () => {
  const fx = readFixture<LcaFixture>("lca");
  const w = decodeMatrix(fx.weights, fx.classes, fx.neurons);

  it("topNeurons / bottomNeurons per class and union (ties, an all-zero class)", () => {
    for (const s of fx.top) expect(topNeurons(w, s.p)).toEqual({ union: s.union, perClass: s.perClass });
    for (const s of fx.bottom)
      expect(bottomNeurons(w, s.p)).toEqual({ union: s.union, perClass: s.perClass });
  });

  it("neuronOrdering and its cut-offs, top and bottom", () => {
    for (const o of fx.orderings) {
      expect(neuronOrdering(w, o.stride)).toEqual({ ordering: o.ordering, cutoffs: o.cutoffs });
      expect(neuronOrdering(w, o.stride, { bottom: true })).toEqual({
        ordering: o.bottomOrdering,
        cutoffs: o.bottomCutoffs,
      });
      expect([...o.ordering].sort((a, b) => a - b)).toEqual(Array.from({ length: fx.neurons }, (_, i) => i));
    }
  });

  it("rejects a mass fraction outside [0, 1] and a bad stride", () => {
    expect(() => topNeurons(w, 1.5)).toThrow(/\[0, 1\]/);
    expect(() => neuronOrdering(w, 0)).toThrow(/stride/);
  });
});

interface ProbelessFixture {
  rows: number;
  cols: number;
  classes: number;
  x: string;
  y: number[];
  scores: number[];
  ordering: number[];
  perClass: { scores: number[]; ordering: number[] }[];
}

describe("probeless ranking vs numpy", () => {
  it("scores and orderings, overall and per class (absent class left out)", () => {
    const fx = readFixture<ProbelessFixture>("probeless");
    const r = probelessRanking(decodeMatrix(fx.x, fx.rows, fx.cols), fx.y, fx.classes);
    expect(r.ordering).toEqual(fx.ordering);
    // float64 means of float32 values; numpy sums pairwise: 1e-12 absolute.
    r.scores.forEach((s, j) => {
      expect(Math.abs(s - fx.scores[j])).toBeLessThan(1e-12);
    });
    r.perClass.forEach((pc, c) => {
      expect(pc.ordering).toEqual(fx.perClass[c].ordering);
    });
  });
});

describe("random ordering and ablation", () => {
  it("random orderings are seeded permutations", () => {
    const a = randomOrdering(50, 7);
    expect(randomOrdering(50, 7)).toEqual(a);
    expect(randomOrdering(50, 8)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  interface Split {
    rows: number;
    x: string;
    y: number[];
  }
  const fx = readFixture<{ inputs: number; train: Split; valid: Split; test: Split }>("probe_problem");
  const get = (s: Split) => ({ x: decodeMatrix(s.x, s.rows, fx.inputs), y: Int32Array.from(s.y) });
  const train = get(fx.train);
  const valid = get(fx.valid);
  const test = get(fx.test);

  it("zeroing nothing keeps the metrics; zeroing everything leaves the intercept-only probe", async () => {
    const probe = await new LogisticProbe({ lambda1: 1e-3 }).fit(train.x, train.y, { valid });
    const testDesign = DesignMatrix.wrap(probe.design(test.x).x, probe.standardizer ?? undefined!);
    const full = await probe.evaluate(testDesign, test.y);
    expect((await ablate(probe, testDesign, test.y, [])).accuracy).toBe(full.accuracy);
    const all = Array.from({ length: fx.inputs }, (_, j) => j);
    expect((await ablate(probe, testDesign, test.y, all, "keep")).accuracy).toBe(full.accuracy);
    const none = await ablate(probe, testDesign, test.y, all);
    // With all weights zero, the prediction is the argmax of the bias.
    const b = probe.bias ?? new Float64Array();
    const majority = b.indexOf(Math.max(...b));
    expect(none.accuracy).toBe(test.y.filter((c) => c === majority).length / test.y.length);
    expect(none.accuracy).toBeLessThan(full.accuracy);
    // The probe itself is untouched.
    expect((await probe.evaluate(testDesign, test.y)).accuracy).toBe(full.accuracy);
    expect(interceptOnlyAccuracy(train.y, test.y, 4)).toBeLessThan(full.accuracy);
  });

  it("retraining on all columns reproduces the probe; keeping the top LCA half beats keeping the bottom half", async () => {
    const probe = await new LogisticProbe({ lambda1: 1e-3, patience: 0, tol: 1e-9 }).fit(train.x, train.y);
    const full = await probe.evaluate(test.x, test.y);
    const all = Array.from({ length: fx.inputs }, (_, j) => j);
    const again = await retrainOn(train, all, { test, lambda1: 1e-3, patience: 0, tol: 1e-9 });
    // Same convex problem solved twice to tol 1e-9: same test accuracy up to a boundary row or two.
    expect(Math.abs((again.test?.accuracy ?? 0) - full.accuracy)).toBeLessThanOrEqual(0.002);
    const order = neuronOrdering(probe.weightsByOutput(), 20).ordering;
    const half = fx.inputs / 2;
    const keepTop = await ablate(probe, test.x, test.y, order.slice(0, half), "keep");
    const keepBottom = await ablate(probe, test.x, test.y, order.slice(half), "keep");
    expect(keepTop.accuracy).toBeGreaterThan(keepBottom.accuracy);
    const sub = await retrainOn(train, order.slice(0, 3), { valid, test, lambda1: 1e-3 });
    expect(sub.probe.inputs).toBe(3);
    expect(sub.columns).toEqual(order.slice(0, 3));
  });
});
