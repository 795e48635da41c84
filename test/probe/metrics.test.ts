import { describe, expect, it } from "vitest";
import {
  classificationMetrics,
  interceptOnlyAccuracy,
  regressionMetrics,
  selectivity,
} from "../../src/probe/metrics.js";
import { readFixture } from "./fixture-data.js";

interface MetricsFixture {
  classes: number;
  yTrue: number[];
  yPred: number[];
  accuracy: number;
  macroF1: number;
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  confusion: number[][];
  binary: { yTrue: number[]; yPred: number[]; f1: number; accuracy: number };
}

// Ratios of small integer counts: identical to scikit-learn up to float64 rounding (1e-12).
const EPS = 1e-12;

describe("classification metrics vs scikit-learn", () => {
  const fx = readFixture<MetricsFixture>("metrics");
  const names = ["A", "B", "C", "D", "E"];
  const m = classificationMetrics(fx.yTrue, fx.yPred, names);

  it("accuracy, macro-F1 (a never-predicted class counts 0), confusion matrix", () => {
    expect(Math.abs(m.accuracy - fx.accuracy)).toBeLessThan(EPS);
    expect(Math.abs(m.macroF1 - fx.macroF1)).toBeLessThan(EPS);
    expect(m.confusion).toEqual(fx.confusion);
    expect(m.f1).toBeUndefined();
  });

  it("per-class precision, recall (= per-class accuracy), F1 and support", () => {
    names.forEach((n, c) => {
      const pc = m.perClass[n];
      expect(Math.abs(pc.precision - fx.precision[c])).toBeLessThan(EPS);
      expect(Math.abs(pc.recall - fx.recall[c])).toBeLessThan(EPS);
      expect(pc.accuracy).toBe(pc.recall);
      expect(Math.abs(pc.f1 - fx.f1[c])).toBeLessThan(EPS);
      expect(pc.support).toBe(fx.support[c]);
    });
  });

  it("binary tasks report the F1 of class index 1", () => {
    const b = classificationMetrics(fx.binary.yTrue, fx.binary.yPred, ["neg", "pos"]);
    expect(Math.abs((b.f1 ?? Number.NaN) - fx.binary.f1)).toBeLessThan(EPS);
    expect(Math.abs(b.accuracy - fx.binary.accuracy)).toBeLessThan(EPS);
  });
});

describe("baselines", () => {
  it("intercept-only accuracy predicts the majority training class", () => {
    expect(interceptOnlyAccuracy([0, 1, 1, 2], [1, 1, 0, 2, 1], 3)).toBe(3 / 5);
    // Ties go to the lower class index.
    expect(interceptOnlyAccuracy([2, 2, 0, 0], [0, 2], 3)).toBe(1 / 2);
  });

  it("selectivity is task minus control accuracy", () => {
    expect(selectivity(0.9, 0.6)).toBeCloseTo(0.3, 15);
  });

  it("regression metrics", () => {
    const r = regressionMetrics([1, 2, 3, 4], [1.5, 2, 2.5, 4]);
    expect(r.mse).toBeCloseTo(0.125, 15);
    expect(r.r2).toBeCloseTo(1 - 0.5 / 5, 15);
    expect(r.pearson).toBeGreaterThan(0.9);
  });
});
