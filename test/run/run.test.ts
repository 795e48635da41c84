import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RedundancyResults } from "../../src/redundancy/pipeline/results.js";
import type { ReportData } from "../../src/report/types.js";
import { readRunConfig } from "../../src/run/config.js";
import { runAnalysis } from "../../src/run/run.js";
import { InputError } from "../../src/util/errors.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** A smaller slice of the demo data: the first lines of each split. */
function slice(dir: string, counts: Record<string, number>): void {
  for (const [split, n] of Object.entries(counts)) {
    const lines = readFileSync(join(ROOT, "demo", "java", `${split}.in`), "utf8")
      .split("\n")
      .slice(0, n);
    writeFileSync(join(dir, `${split}.in`), `${lines.join("\n")}\n`);
  }
}

describe("codeneurons run (the main job) on the bundled model", () => {
  it("runs every stage on a small slice and the results hold together", async () => {
    const work = mkdtempSync(join(tmpdir(), "cn-run-"));
    slice(work, { train: 900, valid: 400, test: 400 });
    const config = join(work, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        model: join(ROOT, "models", "codeneurons-java-tiny"),
        data: { language: "java", pretokenized: true, train: "train.in", valid: "valid.in", test: "test.in" },
        task: { seed: 1, caps: [80, 25, 25] },
        redundancy: { thresholds: [0.3, 0.6, 0.9], curves: "until-target" },
        report: { png: false },
      }),
    );
    const out = join(work, "results");
    const result = await runAnalysis(readRunConfig(config), out, { quiet: true });

    const red = JSON.parse(
      readFileSync(join(out, "redundancy", "redundancy.json"), "utf8"),
    ) as RedundancyResults;
    // The summary has every step of the paper's table.
    expect(red.summary.map((r) => r.name)).toEqual(
      expect.arrayContaining(["Oracle", "LS", "LS+CC+LCA", "CC", "LCA", "Probeless", "Random", "Control"]),
    );
    const oracle = red.summary.find((r) => r.name === "Oracle")!;
    const control = red.summary.find((r) => r.name === "Control")!;
    // A trained model's neurons know token classes; labels given at random per word type are not learnable.
    expect(oracle.accuracy).toBeGreaterThan(control.accuracy + 0.1);
    expect(oracle.accuracy).toBeGreaterThan(red.steps.oracle!.interceptOnly.test);
    for (const r of red.summary) {
      expect(r.neurons).toBeLessThanOrEqual(red.totalNeurons);
      expect(r.reduction).toBeCloseTo(1 - r.neurons / red.totalNeurons, 12);
    }
    expect(red.totalNeurons).toBe(5 * 256);

    // The report input and the report hold every plot.
    const data = JSON.parse(readFileSync(join(out, "report-data.json"), "utf8")) as ReportData;
    for (const section of [
      "layerAccuracy",
      "cka",
      "neuronCurves",
      "redundancy",
      "layerDistribution",
      "heatmaps",
    ] as const) {
      expect(data[section], section).toBeDefined();
    }
    const html = readFileSync(result.report, "utf8");
    for (const figure of ["layer-accuracy", "cka", "neuron-curves", "redundancy", "layer-distribution"]) {
      expect(existsSync(join(out, "report", "figures", `${figure}.svg`)), figure).toBe(true);
      expect(html).toContain(figure);
    }
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(result.headline.text).toMatch(/1280 neurons|keeps \d+ neurons/);
    expect(JSON.parse(readFileSync(join(out, "run-record.json"), "utf8")).seconds.redundancy).toBeGreaterThan(
      0,
    );

    // A rerun reuses the stores and the cached redundancy steps.
    const again = await runAnalysis(readRunConfig(config), out, { quiet: true });
    expect(again.headline.text).toBe(result.headline.text);
    const record = JSON.parse(readFileSync(join(out, "redundancy", "run-record.json"), "utf8"));
    expect(record.details.computed).toEqual([]);
  }, 300_000);

  it("names the field of a bad config", () => {
    const work = mkdtempSync(join(tmpdir(), "cn-runcfg-"));
    const file = join(work, "config.json");
    writeFileSync(
      file,
      JSON.stringify({ model: "x/y", data: { train: "a", valid: "b", test: "c" }, task: { caps: [1, 2] } }),
    );
    expect(() => readRunConfig(file)).toThrow(InputError);
    expect(() => readRunConfig(file)).toThrow(/config\.json \(field 'task\.caps'\)/);
    writeFileSync(file, "{ nope");
    expect(() => readRunConfig(file)).toThrow(/not valid JSON/);
    writeFileSync(file, JSON.stringify({ data: { train: "a", valid: "b", test: "c" } }));
    expect(() => readRunConfig(file)).toThrow(/no model/);
  });
});
