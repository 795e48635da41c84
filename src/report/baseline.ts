import type { ProbeMetricsFile } from "../probe/format.js";
import type { RedundancyResults } from "../redundancy/pipeline/results.js";
import { percent } from "../util/format.js";
import type { Baseline, ClassMetricsSection } from "./types.js";

/**
 * The scientific guard rails of a run (ReportData.baseline): every accuracy is read against the
 * majority-class rate and the control task. "Clearly above the majority rate" means by more than two
 * standard errors of a proportion at that rate on the split's rows (a probe that merely predicts the
 * majority class scores within about two of them on a fresh sample), and by at least MIN_MARGIN.
 */
export const MIN_MARGIN = 0.02;

/** Two standard errors of an accuracy of `p` on `n` rows, at least MIN_MARGIN. */
export function clearMargin(p: number, n: number): number {
  return Math.max(MIN_MARGIN, n > 0 ? 2 * Math.sqrt((p * (1 - p)) / n) : 1);
}

/** The guard rails from the redundancy results (their oracle and control steps); null without an oracle. */
export function baselineOf(r: RedundancyResults): Baseline | null {
  const oracle = r.steps.oracle;
  if (!oracle) return null;
  const majority = oracle.interceptOnly;
  const rows = { dev: r.input.rows.valid, test: r.input.rows.test };
  const acc = { dev: oracle.probe.dev.accuracy, test: oracle.probe.test.accuracy };
  const margin = {
    dev: clearMargin(majority.dev, rows.dev),
    test: clearMargin(majority.test, rows.test),
  };
  const clear = acc.dev > majority.dev + margin.dev && acc.test > majority.test + margin.test;
  const c = r.steps.control;
  const control = c ? { dev: c.probe.dev.accuracy, test: c.probe.test.accuracy } : null;
  const selectivity = c ? c.selectivity : null;
  const warnings: string[] = [];
  if (!clear)
    warnings.push(
      `The oracle probe (all ${r.totalNeurons} neurons: ${percent(acc.test)} test, ${percent(acc.dev)} dev) is not clearly above ` +
        `the majority-class rate (${percent(majority.test)} test, ${percent(majority.dev)} dev; "clearly" = by more than ` +
        `${(100 * margin.test).toFixed(1)} / ${(100 * margin.dev).toFixed(1)} points on these ${rows.test} / ${rows.dev} rows). ` +
        "The neurons show no evidence of encoding this task: no claim is made about removing neurons, and the " +
        "redundancy reductions of this run are not findings.",
    );
  else if (control && selectivity && selectivity.test < margin.test)
    warnings.push(
      `Low selectivity: the same probe on the control task (labels fixed at random per word type) scores ${percent(control.test)} ` +
        `test, ${(100 * selectivity.test).toFixed(1)} points below the real task: the probe may be memorising ` +
        "word identity rather than reading a property the neurons encode.",
    );
  return {
    rows,
    majority: { dev: majority.dev, test: majority.test },
    oracle: acc,
    control,
    selectivity,
    margin,
    clearlyAboveMajority: clear,
    warnings,
  };
}

/**
 * Per-class accuracy and the confusion matrix of a probe on test, from its metrics.json (`codeneurons
 * run`'s probe stage: the oracle probe, the redundancy pipeline's oracle).
 */
export function classMetricsOfProbe(m: ProbeMetricsFile, what = "oracle probe"): ClassMetricsSection {
  const t = m.test;
  return {
    split: "test",
    probe: `${what} on all ${m.neurons} neurons (probe/metrics.json)`,
    classes: t.classes.map((name) => {
      const k = t.perClass[name];
      return { name, support: k.support, accuracy: k.accuracy, precision: k.precision, f1: k.f1 };
    }),
    confusion: t.confusion,
  };
}

/**
 * Per-class accuracy of the redundancy pipeline's oracle on test when no probe stage wrote metrics
 * (sentence-level tasks): redundancy.json records each class's recall, and the task each class's test
 * rows (`support`). With two classes that fixes the confusion matrix exactly (a row's off-diagonal
 * cell is its support minus its hits); with more it does not, and the section is left out (null).
 */
export function classMetricsOfOracle(
  r: RedundancyResults,
  support: Record<string, number>,
): ClassMetricsSection | null {
  const oracle = r.steps.oracle;
  const classes = r.input.classes;
  if (!oracle || classes.length !== 2) return null;
  const recall = oracle.probe.test.perClass;
  const n = classes.map((c) => support[c] ?? 0);
  const exact = classes.map((c, k) => (recall[c] ?? 0) * n[k]);
  // Supports that are not the rows the recalls were computed on would give a made-up matrix.
  if (exact.some((h) => Math.abs(h - Math.round(h)) > 1e-6)) return null;
  const hits = exact.map(Math.round);
  const confusion = [
    [hits[0], n[0] - hits[0]],
    [n[1] - hits[1], hits[1]],
  ];
  return {
    split: "test",
    probe: `oracle probe on all ${r.totalNeurons} neurons (redundancy.json; the confusion matrix follows from the two classes' recalls and rows)`,
    classes: classes.map((name, k) => {
      const predicted = confusion[0][k] + confusion[1][k];
      const precision = predicted > 0 ? confusion[k][k] / predicted : 0;
      const accuracy = n[k] > 0 ? hits[k] / n[k] : 0;
      const f1 = precision + accuracy > 0 ? (2 * precision * accuracy) / (precision + accuracy) : 0;
      return { name, support: n[k], accuracy, precision, f1 };
    }),
    confusion,
  };
}
