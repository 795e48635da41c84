import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ConceptsResult } from "../../src/concepts/format.js";
import { parseInterventionResults } from "../../src/intervene/format.js";
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
        intervene: { enabled: true, k: 2, ks: [1], controls: 1 },
        report: { png: false },
        compress: { speedRuns: 0 },
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

    // The intervention: the class with the most concept neurons (no class in the config), K = 1 and 2.
    const concepts = JSON.parse(
      readFileSync(join(out, "concepts", "concepts.json"), "utf8"),
    ) as ConceptsResult;
    const counts = new Map<string, number>();
    for (const m of concepts.conceptNeurons) counts.set(m.concept, (counts.get(m.concept) ?? 0) + 1);
    const iv = parseInterventionResults(
      JSON.parse(readFileSync(join(out, "intervene", "intervention.json"), "utf8")),
      "intervention.json",
    );
    const cls = iv.sweep!.class;
    const most = Math.max(0, ...[...counts].filter(([c]) => iv.classes.includes(c)).map(([, n]) => n));
    if (most > 0) expect(counts.get(cls)).toBe(most);
    expect(iv.sweep!.points.map((p) => p.k)).toEqual([1, 2]);
    expect(iv.experiments.map((e) => e.label)).toEqual([
      ...(counts.has(cls) ? [`concept:${cls}`] : []),
      `top:${cls}:1`,
      `top:${cls}:2`,
    ]);
    expect(iv.experiments.every((e) => e.controls.sets.length === 1)).toBe(true);
    expect(result.headline.intervention?.top.label).toBe(`top:${cls}:2`);
    expect(result.headline.text).toContain(
      `Zeroing the 2 top ${cls} neurons inside the model: masked-LM ${cls} accuracy`,
    );
    expect(data.intervention?.featured).toBe(iv.sweep!.points[1].experiment);
    expect(html).toContain('data-figure="intervention-sweep"');
    expect(JSON.parse(readFileSync(join(out, "run-record.json"), "utf8")).seconds.redundancy).toBeGreaterThan(
      0,
    );
    // The LS+CC+LCA set as a standalone model (issue 14), scoring what the run reported; no timing asked.
    const lsccLca = red.summary.find((r) => r.name === "LS+CC+LCA")!;
    expect(result.compress?.out).toBe(join(out, "compressed", "ls-cc-lca"));
    expect(result.compress?.card.accuracy.measured.accuracy.toFixed(4)).toBe(lsccLca.accuracy.toFixed(4));
    expect(result.compress?.speed).toBeNull();
    expect(result.headline.compressed?.neurons).toBe(result.compress?.card.neurons.ids.length);
    expect(result.headline.text).toMatch(/Compressed LS\+CC\+LCA model .*: cut after block \d of 4/);

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
    writeFileSync(
      file,
      JSON.stringify({ model: "x/y", data: { train: "a", valid: "b", test: "c" }, compress: { set: "all" } }),
    );
    expect(() => readRunConfig(file)).toThrow(/field 'compress\.set'\): must be one of ls\+cc\+lca/);
    const data = { train: "a", valid: "b", test: "c" };
    writeFileSync(file, JSON.stringify({ model: "x/y", data, intervene: { mode: "halve" } }));
    expect(() => readRunConfig(file)).toThrow(
      /\(field 'intervene\.mode'\): must be zero, mean, scale:K or set:V; got 'halve'/,
    );
    writeFileSync(file, JSON.stringify({ model: "x/y", data, intervene: { ks: [1, 0] } }));
    expect(() => readRunConfig(file)).toThrow(/\(field 'intervene\.ks\[1\]'\)/);
  });

  it("intervenes only when asked, always at the headline's K", () => {
    const work = mkdtempSync(join(tmpdir(), "cn-runcfg-"));
    const file = join(work, "config.json");
    const data = { train: "a", valid: "b", test: "c" };
    writeFileSync(file, JSON.stringify({ model: "x/y", data }));
    expect(readRunConfig(file).intervene).toEqual({
      enabled: false,
      class: null,
      k: 10,
      ks: [1, 2, 5, 10, 20, 50],
      mode: "zero",
      controls: 10,
      seed: 1,
    });
    writeFileSync(
      file,
      JSON.stringify({ model: "x/y", data, intervene: { enabled: true, k: 7, ks: [20, 1] } }),
    );
    expect(readRunConfig(file).intervene.ks).toEqual([1, 7, 20]);
  });

  it("refuses an intervention class the task lacks before extracting anything", async () => {
    const work = mkdtempSync(join(tmpdir(), "cn-run-ivclass-"));
    slice(work, { train: 200, valid: 100, test: 100 });
    const config = join(work, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        model: join(ROOT, "models", "codeneurons-java-tiny"),
        data: { language: "java", pretokenized: true, train: "train.in", valid: "valid.in", test: "test.in" },
        task: { caps: [20, 5, 5] },
        intervene: { enabled: true, class: "COMMENT" },
      }),
    );
    const out = join(work, "results");
    await expect(runAnalysis(readRunConfig(config), out, { quiet: true })).rejects.toThrow(
      /intervene\.class: 'COMMENT' is not a class of the task \(.*NUMBER.*\)/,
    );
    expect(existsSync(join(out, "activations"))).toBe(false);
  });
});
