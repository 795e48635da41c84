import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ConceptsResult } from "../../src/concepts/format.js";
import type { RedundancyResults } from "../../src/redundancy/pipeline/results.js";
import type { ReportData } from "../../src/report/types.js";
import { readRunConfig } from "../../src/run/config.js";
import { runAnalysis } from "../../src/run/run.js";
import { ActivationStore } from "../../src/store/index.js";
import { InputError } from "../../src/util/errors.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MODEL = join(ROOT, "test", "fixtures", "models", "tiny-roberta");

function slice(dir: string, counts: Record<string, number>): void {
  for (const [split, n] of Object.entries(counts)) {
    const lines = readFileSync(join(ROOT, "demo", "java", `${split}.in`), "utf8")
      .split("\n")
      .slice(0, n);
    writeFileSync(join(dir, `${split}.in`), `${lines.join("\n")}\n`);
  }
}

describe("codeneurons run on the MLP neurons", () => {
  it("site mlp: extracts both sites and every stage, the report included, is of the MLP neurons", async () => {
    const work = mkdtempSync(join(tmpdir(), "cn-run-mlp-"));
    slice(work, { train: 600, valid: 300, test: 300 });
    const config = join(work, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        model: MODEL,
        site: "mlp",
        data: { language: "java", pretokenized: true, train: "train.in", valid: "valid.in", test: "test.in" },
        task: { seed: 1, caps: [60, 20, 20] },
        redundancy: { thresholds: [0.3, 0.6], steps: ["cka", "layerwise", "ls", "lca"] },
        report: { png: false },
      }),
    );
    const cfg = readRunConfig(config);
    expect([cfg.site, cfg.extract.sites]).toEqual(["mlp", ["hidden", "mlp"]]);
    const out = join(work, "results");
    const result = await runAnalysis(cfg, out, { quiet: true });

    const store = await ActivationStore.open(join(out, "activations", "train"));
    expect(store.meta.sites).toEqual(["hidden", "mlp"]);
    store.close();
    const probe = JSON.parse(readFileSync(join(out, "probe", "probe.json"), "utf8"));
    expect([probe.site, probe.width, probe.layers]).toEqual(["mlp", 24, [1, 2, 3]]);
    const red = JSON.parse(
      readFileSync(join(out, "redundancy", "redundancy.json"), "utf8"),
    ) as RedundancyResults;
    expect([red.input.site, red.totalNeurons]).toEqual(["mlp", 72]);
    const concepts = JSON.parse(
      readFileSync(join(out, "concepts", "concepts.json"), "utf8"),
    ) as ConceptsResult;
    expect(concepts.site).toBe("mlp");
    for (const n of concepts.neurons) expect(n.name).toMatch(/^L[1-3]\.mlp:\d+$/);
    const data = JSON.parse(readFileSync(join(out, "report-data.json"), "utf8")) as ReportData;
    expect(data.site).toBe("mlp");
    expect(data.layerAccuracy?.layers).toEqual([1, 2, 3]);
    const html = readFileSync(result.report, "utf8");
    expect(html).toContain('data-site="mlp"');
    expect(html).toContain("Block (its MLP neurons)");
    expect(existsSync(join(out, "report", "figures", "layer-accuracy.svg"))).toBe(true);
    for (const names of Object.values(result.headline.conceptNeurons))
      for (const n of names) expect(n).toMatch(/^L[1-3]\.mlp:\d+/);
  }, 300_000);

  it("config: the analysed site must be extracted; the default stays the residual stream", () => {
    const work = mkdtempSync(join(tmpdir(), "cn-runcfg-site-"));
    const file = join(work, "config.json");
    const data = { train: "a", valid: "b", test: "c" };
    writeFileSync(file, JSON.stringify({ model: "x/y", data }));
    expect([readRunConfig(file).site, readRunConfig(file).extract.sites]).toEqual(["hidden", ["hidden"]]);
    expect(readRunConfig(file, { site: "mlp" }).extract.sites).toEqual(["hidden", "mlp"]);
    writeFileSync(file, JSON.stringify({ model: "x/y", data, site: "mlp", extract: { sites: ["hidden"] } }));
    expect(() => readRunConfig(file)).toThrow(InputError);
    expect(() => readRunConfig(file)).toThrow(
      /config\.json \(field 'site'\): the analysis is on the mlp site/,
    );
    writeFileSync(file, JSON.stringify({ model: "x/y", data, site: "ffn" }));
    expect(() => readRunConfig(file)).toThrow(/field 'site'\): must be one of hidden, mlp/);
    writeFileSync(file, JSON.stringify({ model: "x/y", data, extract: { sites: ["mlp", "mlp"] } }));
    expect(() => readRunConfig(file)).toThrow(/field 'extract\.sites'\)/);
  });
});
