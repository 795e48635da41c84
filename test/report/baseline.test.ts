import { describe, expect, it } from "vitest";
import type { ProbeMetricsFile } from "../../src/probe/format.js";
import type { RedundancyResults, SummaryRow } from "../../src/redundancy/pipeline/results.js";
import { baselineOf, classMetricsOfProbe, clearMargin } from "../../src/report/baseline.js";
import { reportHtml } from "../../src/report/html.js";
import type { ReportData } from "../../src/report/types.js";
import { headlineOf } from "../../src/run/headline.js";

const scores = (accuracy: number) => ({ accuracy, macroF1: accuracy, perClass: {} });
const probe = (dev: number, test: number) => ({
  neurons: 1000,
  lambda1: 0,
  lambda2: 0,
  dev: scores(dev),
  test: scores(test),
  iterations: 1,
});
const row = (name: string, neurons: number, test: number, dev: number): SummaryRow => ({
  name,
  neurons,
  accuracy: test,
  devAccuracy: dev,
  reduction: 1 - neurons / 1000,
});

/** Redundancy results with an oracle and a control step: only the fields the guard rails read. */
function results(o: {
  oracle: [number, number];
  majority: [number, number];
  control?: [number, number];
  rows?: [number, number];
}): RedundancyResults {
  const [dev, test] = o.oracle;
  const rows = o.rows ?? [400, 400];
  return {
    totalNeurons: 1000,
    input: { site: "hidden", rows: { train: 2000, valid: rows[0], test: rows[1] } },
    summary: [row("Oracle", 1000, test, dev), row("LCA", 10, test - 0.001, dev - 0.001)],
    steps: {
      oracle: {
        probe: probe(dev, test),
        interceptOnly: { dev: o.majority[0], test: o.majority[1] },
      },
      ...(o.control
        ? {
            control: {
              probe: probe(o.control[0], o.control[1]),
              selectivity: { dev: dev - o.control[0], test: test - o.control[1] },
            },
          }
        : {}),
    },
  } as unknown as RedundancyResults;
}

describe("guard rails: the majority-class rate and the control task", () => {
  it("two standard errors of the majority rate, at least 2 points", () => {
    expect(clearMargin(0.5, 100)).toBeCloseTo(0.1, 12);
    expect(clearMargin(0.5, 1_000_000)).toBe(0.02);
    expect(clearMargin(0.3, 0)).toBe(1);
  });

  it("an oracle below the majority rate (CoSQA on the bundled model) is not a finding", () => {
    const r = results({
      oracle: [0.53, 0.519],
      majority: [0.6, 0.615],
      control: [0.5, 0.5],
      rows: [408, 408],
    });
    const b = baselineOf(r)!;
    expect(b.clearlyAboveMajority).toBe(false);
    expect(b.majority).toEqual({ dev: 0.6, test: 0.615 });
    expect(b.selectivity!.test).toBeCloseTo(0.019, 12);
    expect(b.warnings[0]).toMatch(/not clearly above the majority-class rate \(61\.5% test, 60\.0% dev/);
    const h = headlineOf(r, null);
    expect(h.row).toBeNull();
    expect(h.baseline?.clearlyAboveMajority).toBe(false);
    expect(h.text.split("\n")[0]).toMatch(/^Warning: The oracle probe .* is not clearly above/);
    expect(h.text).not.toMatch(/can go|keeps \d+ neurons|Closest/);
    expect(h.text).toMatch(/majority-class rate 61\.5% test, 60\.0% dev; selectivity 1\.9 points test/);
  });

  it("an oracle within two standard errors above the majority rate is not clear either", () => {
    // 400 rows at 50%: two standard errors are 5 points; 53% on both splits is within them.
    const b = baselineOf(results({ oracle: [0.53, 0.53], majority: [0.5, 0.5] }))!;
    expect(b.margin.test).toBeCloseTo(0.05, 12);
    expect(b.clearlyAboveMajority).toBe(false);
    // Clearly above on test but not on dev: still no claim.
    expect(baselineOf(results({ oracle: [0.52, 0.9], majority: [0.5, 0.5] }))!.clearlyAboveMajority).toBe(
      false,
    );
  });

  it("a clear oracle keeps the claim and quotes the majority rate beside it", () => {
    const r = results({ oracle: [0.8, 0.85], majority: [0.17, 0.167], control: [0.4, 0.42] });
    const b = baselineOf(r)!;
    expect(b.clearlyAboveMajority).toBe(true);
    expect(b.warnings).toEqual([]);
    const h = headlineOf(r, null);
    expect(h.text).toMatch(
      /^990 of 1000 neurons \(99\.0%\) can go: LCA keeps 10 neurons at 84\.9% test accuracy \(majority class 16\.7%\)/,
    );
    expect(h.text).toMatch(/selectivity 43\.0 points test, 40\.0 points dev \(control task 42\.0% test\)/);
  });

  it("warns about low selectivity even when the oracle is clear", () => {
    const b = baselineOf(results({ oracle: [0.8, 0.85], majority: [0.2, 0.2], control: [0.79, 0.84] }))!;
    expect(b.clearlyAboveMajority).toBe(true);
    expect(b.warnings).toHaveLength(1);
    expect(b.warnings[0]).toMatch(/^Low selectivity/);
    expect(
      headlineOf(results({ oracle: [0.8, 0.85], majority: [0.2, 0.2], control: [0.79, 0.84] }), null).text,
    ).toMatch(/\nCaution: Low selectivity/);
  });
});

describe("the report shows the guard rails", () => {
  const metrics = {
    neurons: 1000,
    test: {
      rows: 10,
      accuracy: 0.7,
      macroF1: 0.69,
      classes: ["NO", "YES"],
      perClass: {
        NO: { support: 6, accuracy: 5 / 6, precision: 5 / 7, recall: 5 / 6, f1: 10 / 13 },
        YES: { support: 4, accuracy: 0.5, precision: 2 / 3, recall: 0.5, f1: 4 / 7 },
      },
      confusion: [
        [5, 1],
        [2, 2],
      ],
    },
  } as unknown as ProbeMetricsFile;

  function page(b: ReturnType<typeof baselineOf>): string {
    const data: ReportData = {
      format: "codeneurons-report-data",
      version: 4,
      model: "m",
      task: "t",
      redundancy: {
        totalNeurons: 1000,
        steps: [
          { step: "Oracle", neurons: 1000, accuracy: b!.oracle.test, reduction: 0 },
          { step: "LCA", neurons: 10, accuracy: b!.oracle.test, reduction: 99 },
        ],
      },
      baseline: b!,
      classMetrics: classMetricsOfProbe(metrics),
    };
    return reportHtml(data, [], "test");
  }

  it("no reduction claim and a warning when the oracle is not clearly above the majority rate", () => {
    const html = page(baselineOf(results({ oracle: [0.53, 0.519], majority: [0.6, 0.615] })));
    expect(html).toContain('<p class="warning" role="alert">⚠ The oracle probe');
    expect(html).toContain('<div class="v">no claim</div>');
    expect(html).not.toMatch(/Smallest set/);
    expect(html).toContain('class="summary no-claim"');
    // Each step's accuracy beside the majority rate: 51.9% is 9.6 points below 61.5%.
    expect(html).toContain('<td class="num">−9.6</td>');
  });

  it("per-class accuracy and the confusion matrix of the oracle", () => {
    const html = page(baselineOf(results({ oracle: [0.8, 0.85], majority: [0.17, 0.167] })));
    expect(html).not.toContain('class="warning"');
    expect(html).toMatch(/Smallest set \(LCA\)/);
    expect(html).toContain(
      '<tr><th scope="row">YES</th><td class="num">4</td><td class="num">50.0%</td><td class="num">66.7%</td><td class="num">57.1%</td></tr>',
    );
    expect(html).toContain(
      '<tr><th scope="row">NO</th><td class="num diag">5</td><td class="num">1</td></tr>',
    );
    expect(html).toContain("oracle probe on all 1000 neurons (probe/metrics.json)");
  });
});
