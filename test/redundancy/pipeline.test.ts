import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { openPipelineSource } from "../../src/redundancy/pipeline/input/index.js";
import { FINE_PERCENTAGES, PAPER_PERCENTAGES } from "../../src/redundancy/pipeline/pipeline.js";
import { fitProbe, standardizeData } from "../../src/redundancy/pipeline/probes.js";
import {
  decodeIdRanges,
  encodeIdRanges,
  type ProbeRecord,
  parseRedundancyResults,
  type RedundancyResults,
  type SearchResult,
} from "../../src/redundancy/pipeline/results.js";
import { reportSectionsFromRedundancy } from "../../src/report/from-redundancy.js";
import { parseReportData } from "../../src/report/read.js";
import { REPORT_FORMAT, REPORT_VERSION } from "../../src/report/types.js";
import { selectColumns } from "../../src/util/matrix.js";
import { makeTokenTask, runPipeline } from "./pipeline-helpers.js";

/**
 * The whole pipeline on a small real task: the paper's 6 classes over the first lines of the Java
 * splits, tiny-roberta activations (4 stored layers × 16 units = 64 neurons). Checks the rules of every
 * step against the numbers it reports, and the cache: a rerun fits nothing, a changed setting recomputes
 * only the steps that read it, a lost step resumes from its cached fits.
 */
let dir = "";
let input: { store: string; task: string };
let out = "";
let r: Awaited<ReturnType<typeof runPipeline>>;
const TOTAL = 64;
const HIDDEN = 16;

// Exact equalities below compare numbers the pipeline copied or derived with the same arithmetic;
// reductions are recomputed here as 1 − kept/total (tolerance 1e-12, rounding only).
const withoutSeconds = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === "seconds" ? undefined : x)));
const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-12);

function records(res: RedundancyResults): ProbeRecord[] {
  const s = res.steps;
  return [
    ...(s.oracle ? [s.oracle.probe] : []),
    ...(s.independent?.layers ?? []).map((l) => l.probe),
    ...(s.incremental?.layers ?? []).map((l) => l.probe),
    ...(s.ccfs?.groups ?? []).flatMap((g) => g.thresholds.map((t) => t.probe)),
    ...(s.cc?.thresholds ?? []).map((t) => t.probe),
    ...(s.control ? [s.control.probe] : []),
  ];
}

function searches(res: RedundancyResults): SearchResult[] {
  const s = res.steps;
  return [
    ...(s.lslca?.groups ?? []).flatMap((g) => g.runs),
    ...[s.lca, s.probeless, s.random].filter((x) => x !== undefined),
  ];
}

beforeAll(async () => {
  process.env.CODENEURONS_QUIET = "1";
  dir = await mkdtemp(join(tmpdir(), "cn-pipeline-"));
  input = await makeTokenTask(join(dir, "data"), { train: 40, valid: 12, test: 12 });
  out = join(dir, "out");
  r = await runPipeline(input, { out, quiet: true });
});

describe("redundancy pipeline on a token-tagging task", () => {
  it("reads redundancy.json of every version: version 2's timings and run go, version 1 is the hidden site", () => {
    const file = JSON.parse(readFileSync(join(out, "redundancy.json"), "utf8"));
    expect(parseRedundancyResults(file, "redundancy.json")).toEqual(file);
    // The same results as version 2 wrote them: named by `schema`, seconds everywhere, a `run` record.
    const { format: _f, version: _v, skipped, ...rest } = file;
    const withSeconds = JSON.parse(JSON.stringify(rest), (k, v) =>
      k !== "" && v && typeof v === "object" && !Array.isArray(v) && "key" in v ? { ...v, seconds: 1.5 } : v,
    );
    const v2 = {
      schema: "codeneurons.redundancy",
      version: 2,
      ...withSeconds,
      run: { computed: [], skipped, seconds: 3 },
    };
    expect(parseRedundancyResults(v2, "redundancy.json")).toEqual(file);
    const { site: _site, width, ...input } = file.input;
    const v1 = { ...v2, version: 1, input };
    expect(parseRedundancyResults(v1, "redundancy.json").input).toEqual({ ...input, site: "hidden", width });
    expect(() => parseRedundancyResults({ ...file, version: 4 }, "r.json")).toThrow(/field 'version'/);
  });

  it("runs every step and writes redundancy.json and cka.json", () => {
    expect(r.run.computed).toEqual([
      "cka",
      "oracle",
      "independent",
      "incremental",
      "ls",
      "ccfs",
      "lslca",
      "cc",
      "lca",
      "probeless",
      "random",
      "control",
    ]);
    expect(r.totalNeurons).toBe(TOTAL);
    expect(r.input.layers).toEqual([0, 1, 2, 3]);
    expect(r.input.kind).toBe("token");
    const file = JSON.parse(readFileSync(join(out, "redundancy.json"), "utf8")) as RedundancyResults;
    expect(file.summary).toEqual(r.summary);
    const cka = JSON.parse(readFileSync(join(out, "cka.json"), "utf8"));
    expect(cka.layers).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 4; i++) close(cka.matrix[i][i], 1);
    expect(r.summary.map((s) => s.name)).toEqual([
      "Oracle",
      "LS",
      "LS+CC+LCA",
      "CC",
      "LCA",
      "Probeless",
      "Random",
      "Control",
    ]);
  });

  it("oracle: λs from the grid with the best dev accuracy; intercept-only is the majority class", () => {
    const o = r.steps.oracle!;
    expect(o.tuning).toBe("grid");
    expect(o.grid).toHaveLength(36);
    const bestDev = Math.max(...o.grid!.map((g) => g.devAccuracy));
    expect(o.probe.dev.accuracy).toBe(bestDev);
    expect(o.probe.neurons).toBe(TOTAL);
    // Train is balanced except for a short class: the majority class gets 12 of 72 dev rows.
    expect(o.interceptOnly.dev).toBeCloseTo(12 / 72, 12);
  });

  it("layer-wise: one probe per layer, every probe with the oracle's λs; incremental stops at LayerSelector's layers", () => {
    const o = r.steps.oracle!.probe;
    const ind = r.steps.independent!.layers;
    const inc = r.steps.incremental!.layers;
    expect(ind.map((l) => l.layer)).toEqual([0, 1, 2, 3]);
    // Default curves ("until-target"): prefixes up to the first above the smallest δ's target.
    const target = o.dev.accuracy * (1 - Math.min(...r.settings.deltas));
    expect(inc.length).toBeLessThan(4);
    expect(inc.map((l) => l.probe.neurons)).toEqual([16, 32, 48, 64].slice(0, inc.length));
    for (const l of inc.slice(0, -1)) expect(l.probe.dev.accuracy).toBeLessThanOrEqual(target);
    expect(inc.at(-1)!.probe.dev.accuracy).toBeGreaterThan(target);
    for (const l of [...ind, ...inc]) {
      expect([l.probe.lambda1, l.probe.lambda2]).toEqual([o.lambda1, o.lambda2]);
    }
    expect(ind.every((l) => l.probe.neurons === HIDDEN)).toBe(true);
    for (const l of [...ind, ...inc]) close(l.reduction, 1 - l.probe.neurons / TOTAL);
  });

  it("curves 'all' fits every incremental prefix, the last being the oracle; LayerSelector keeps the same layers", async () => {
    const all = await runPipeline(input, {
      out: join(dir, "curves-all"),
      quiet: true,
      steps: ["oracle", "incremental", "ls"],
      settings: { curves: "all" },
    });
    const inc = all.steps.incremental!.layers;
    expect(inc.map((l) => l.probe.neurons)).toEqual([16, 32, 48, 64]);
    expect(inc[3].probe).toEqual(all.steps.oracle!.probe);
    expect(withoutSeconds(inc.slice(0, r.steps.incremental!.layers.length))).toEqual(
      withoutSeconds(r.steps.incremental!.layers),
    );
    expect(withoutSeconds(all.steps.ls!.selections)).toEqual(withoutSeconds(r.steps.ls!.selections));
  });

  it("LayerSelector keeps the shortest prefix of layers above oracle dev × (1 − δ), decided on dev", () => {
    const o = r.steps.oracle!.probe;
    const inc = r.steps.incremental!.layers;
    const sel = r.steps.ls!.selections;
    expect(sel.map((s) => s.delta)).toEqual([0.03, 0.02, 0.01]);
    for (const s of sel) {
      close(s.target, o.dev.accuracy * (1 - s.delta));
      const k = s.layers.length;
      expect(s.layers).toEqual([0, 1, 2, 3].slice(0, k));
      expect(s.neurons).toBe(k * HIDDEN);
      close(s.reduction, 1 - s.neurons / TOTAL);
      expect(s.probe).toEqual(inc[k - 1].probe);
      if (!s.fallback) expect(inc[k - 1].probe.dev.accuracy).toBeGreaterThan(s.target);
      for (const earlier of inc.slice(0, k - 1))
        expect(earlier.probe.dev.accuracy).toBeLessThanOrEqual(s.target);
    }
    // A smaller allowed drop never keeps fewer layers.
    for (let i = 1; i < sel.length; i++)
      expect(sel[i].layers.length).toBeGreaterThanOrEqual(sel[i - 1].layers.length);
  });

  it("LS+CC+LCA ≤ CC-kept ≤ LS-kept neurons, and CC keeps fewer neurons at larger thresholds", () => {
    const ccfs = r.steps.ccfs!.groups;
    const lslca = r.steps.lslca!.groups;
    expect(ccfs.map((g) => g.layers)).toEqual(lslca.map((g) => g.layers));
    for (const [gi, g] of ccfs.entries()) {
      expect(g.neurons).toBe(g.layers.length * HIDDEN);
      expect(g.thresholds.map((t) => t.threshold)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
      for (let i = 1; i < g.thresholds.length; i++)
        expect(g.thresholds[i].neurons).toBeLessThanOrEqual(g.thresholds[i - 1].neurons);
      const runs = lslca[gi].runs;
      expect(runs.map((x) => x.threshold)).toEqual([null, ...g.thresholds.map((t) => t.threshold)]);
      expect(runs[0].minimal.neurons).toBeLessThanOrEqual(g.neurons);
      for (const [ti, t] of g.thresholds.entries()) {
        const ids = decodeIdRanges(t.ids);
        expect(ids).toHaveLength(t.neurons);
        expect(t.neurons).toBe(t.clusters);
        expect(ids.every((id) => id < g.neurons)).toBe(true);
        expect(t.neurons).toBeLessThanOrEqual(g.neurons);
        const run = runs[ti + 1];
        expect(run.base.neurons).toBe(t.neurons);
        expect(run.minimal.neurons).toBeLessThanOrEqual(t.neurons);
        // The search's ordering ranks exactly this threshold's representatives.
        expect(run.ordering.every((id) => ids.includes(id))).toBe(true);
      }
    }
  });

  it("minimal sets: sizes ⌊p × total⌋, the first probe above target wins, reductions are 1 − kept/total", () => {
    for (const s of searches(r)) {
      close(s.target, s.base.dev * (1 - 0.01));
      const sizes = s.points.map((p) => p.neurons);
      expect(new Set(sizes).size).toBe(sizes.length);
      for (const p of s.points) {
        expect(p.neurons).toBe(Math.floor(p.percentage * TOTAL));
        expect(p.neurons).toBeGreaterThanOrEqual(1);
        expect(p.neurons).toBeLessThanOrEqual(s.base.neurons);
        close(p.reduction, 1 - p.neurons / TOTAL);
        expect(p.probe.neurons).toBe(p.neurons);
      }
      const hit = s.points.findIndex((p) => p.probe.dev.accuracy > s.target);
      if (hit >= 0) {
        expect(s.minimal.neurons).toBe(s.points[hit].neurons);
        expect(s.minimal.percentage).toBe(s.points[hit].percentage);
        expect(s.points).toHaveLength(hit + 1);
      } else {
        expect(s.minimal.percentage).toBeNull();
        expect(s.minimal.neurons).toBe(s.base.neurons);
      }
      close(s.minimal.reduction, 1 - s.minimal.neurons / TOTAL);
      expect(s.ordering).toHaveLength(Math.max(0, ...sizes));
      expect(new Set(s.ordering).size).toBe(s.ordering.length);
    }
    expect(r.steps.lslca!.percentages).toEqual(PAPER_PERCENTAGES);
    expect(r.steps.lca!.percentages).toEqual(FINE_PERCENTAGES);
    expect(FINE_PERCENTAGES.slice(0, 4)).toEqual([0.001, 0.003, 0.005, 0.007]);
    expect(FINE_PERCENTAGES).toHaveLength(63);
  });

  it("every probe reports per-class dev and test accuracies; the overall accuracy is their weighted mean", () => {
    const classes = [...r.input.classes].sort();
    const all = records(r);
    expect(all.length).toBeGreaterThan(20);
    for (const p of all) {
      for (const split of ["dev", "test"] as const) {
        const per = Object.values(p[split].perClass);
        expect(Object.keys(p[split].perClass).sort()).toEqual(classes);
        // A weighted mean lies between the smallest and the largest class accuracy (rounding 1e-12).
        expect(p[split].accuracy).toBeGreaterThanOrEqual(Math.min(...per) - 1e-12);
        expect(p[split].accuracy).toBeLessThanOrEqual(Math.max(...per) + 1e-12);
        expect(p[split].macroF1).toBeGreaterThanOrEqual(0);
        expect(p[split].macroF1).toBeLessThanOrEqual(1);
      }
    }
  });

  it("control task: selectivity is real minus control accuracy, and the control task stays near chance", () => {
    const c = r.steps.control!;
    const o = r.steps.oracle!.probe;
    expect([c.probe.lambda1, c.probe.lambda2]).toEqual([o.lambda1, o.lambda2]);
    close(c.selectivity.test, o.test.accuracy - c.probe.test.accuracy);
    close(c.selectivity.dev, o.dev.accuracy - c.probe.dev.accuracy);
    // Valid/test word types never occur in train, so control labels cannot be learnt: chance is 1/6;
    // allow sampling noise on 64 rows (4 standard errors of a 1/6 rate is about 0.19).
    expect(c.probe.test.accuracy).toBeLessThan(1 / 6 + 0.19);
  });

  it("summary rows are the best (highest dev accuracy) candidates with reductions 1 − kept/total", () => {
    for (const row of r.summary) if (row.name !== "Control") close(row.reduction, 1 - row.neurons / TOTAL);
    const ls = r.summary.find((s) => s.name === "LS")!;
    const bestLs = Math.max(...r.steps.ls!.selections.map((s) => s.probe.dev.accuracy));
    expect(ls.devAccuracy).toBe(bestLs);
    const cc = r.summary.find((s) => s.name === "CC")!;
    expect(cc.devAccuracy).toBe(Math.max(...r.steps.cc!.thresholds.map((t) => t.probe.dev.accuracy)));
    const lslca = r.summary.find((s) => s.name === "LS+CC+LCA")!;
    const all = r.steps.lslca!.groups.flatMap((g) => g.runs.map((x) => x.minimal));
    expect(lslca.devAccuracy).toBe(Math.max(...all.map((m) => m.dev.accuracy)));
    expect(r.summary.find((s) => s.name === "LCA")!.neurons).toBe(r.steps.lca!.minimal.neurons);
  });

  it("gives the report's sections in a form the report reader accepts", () => {
    const sections = reportSectionsFromRedundancy(r);
    const data = parseReportData(
      { format: REPORT_FORMAT, version: REPORT_VERSION, model: r.input.model, task: "java", ...sections },
      "report-data.json",
    );
    expect(data.layerAccuracy?.independent).toEqual(
      r.steps.independent!.layers.map((l) => l.probe.test.accuracy),
    );
    expect(data.cka?.layers).toEqual([0, 1, 2, 3]);
    expect(data.neuronCurves?.orderings.map((o) => o.name)).toEqual(["LCA", "Probeless", "Random"]);
    expect(data.redundancy?.steps.map((s) => s.step)).toEqual(r.summary.map((s) => s.name));
  });

  it("the same inputs and seed give the same results in a fresh output directory", async () => {
    const fresh = await runPipeline(input, { out: join(dir, "fresh"), quiet: true });
    expect(fresh.run.probesFitted).toBeGreaterThan(0);
    expect(withoutSeconds(fresh.steps)).toEqual(withoutSeconds(r.steps));
    expect(readFileSync(join(dir, "fresh", "cka.json"), "utf8")).toBe(
      readFileSync(join(out, "cka.json"), "utf8"),
    );
  });

  it("a rerun fits nothing and gives the same results", async () => {
    const again = await runPipeline(input, { out, quiet: true });
    expect(again.run.computed).toEqual([]);
    expect(again.run.probesFitted).toBe(0);
    expect(again.run.clusterings).toBe(0);
    expect(again.steps).toEqual(r.steps);
    expect(again.summary).toEqual(r.summary);
  });

  it("a changed setting recomputes only the steps that read it", async () => {
    const thresholds = await runPipeline(input, {
      out,
      quiet: true,
      settings: { thresholds: [0.3, 0.6] },
    });
    expect(thresholds.run.computed).toEqual(["ccfs", "lslca", "cc"]);
    expect(thresholds.steps.cc!.thresholds.map((t) => t.threshold)).toEqual([0.3, 0.6]);
    expect(thresholds.steps.oracle).toEqual(r.steps.oracle);
    const percentages = await runPipeline(input, {
      out,
      quiet: true,
      settings: { percentages: [0.05, 0.5] },
    });
    expect(percentages.run.computed).toEqual(["lslca"]);
    // LS+CC+LCA's base probes are the incremental and CCFS probes: only the new sizes are fitted.
    expect(percentages.run.clusterings).toBe(0);
    const seed = await runPipeline(input, { out, quiet: true, settings: { seed: 2 } });
    expect(seed.run.computed).toEqual(["cka", "ccfs", "lslca", "cc", "random"]);
    const back = await runPipeline(input, { out, quiet: true });
    expect(back.run.computed).toEqual([]);
  });

  it("λs: given ones skip tuning; tune 'all' tunes every probe on dev", async () => {
    const fixed = await runPipeline(input, {
      out: join(dir, "fixed"),
      quiet: true,
      steps: ["independent"],
      settings: { lambda1: 1e-3, lambda2: 0 },
    });
    expect(fixed.steps.oracle!.tuning).toBe("fixed");
    expect(fixed.steps.oracle!.grid).toBeUndefined();
    for (const p of [fixed.steps.oracle!.probe, ...fixed.steps.independent!.layers.map((l) => l.probe)])
      expect([p.lambda1, p.lambda2]).toEqual([1e-3, 0]);
    const all = await runPipeline(input, {
      out: join(dir, "tune-all"),
      quiet: true,
      steps: ["independent"],
      settings: { tune: "all", lambdaGrid: [0, 1e-3, 0.1] },
    });
    const grid = [0, 1e-3, 0.1];
    for (const l of all.steps.independent!.layers) {
      expect(grid).toContain(l.probe.lambda1);
      expect(grid).toContain(l.probe.lambda2);
    }
    // Each layer's probe is its own grid search: the same as tuning that layer alone.
    const layer0 = await runPipeline(input, {
      out: join(dir, "tune-all"),
      quiet: true,
      steps: ["independent"],
      settings: { tune: "all", lambdaGrid: [0, 1e-3, 0.1] },
    });
    expect(layer0.run.probesFitted).toBe(0);
  });

  it("chosen steps run with their dependencies only", async () => {
    const only = await runPipeline(input, { out: join(dir, "only"), quiet: true, steps: ["ls"] });
    expect(only.run.computed).toEqual(["oracle", "incremental", "ls"]);
    expect(Object.keys(only.steps)).toEqual(["oracle", "incremental", "ls"]);
    expect(only.summary.map((s) => s.name)).toEqual(["Oracle", "LS"]);
    expect(existsSync(join(dir, "only", "cka.json"))).toBe(false);
  });

  it("an interrupted step resumes from its cached fits; unreadable cache files are recomputed", async () => {
    const steps = join(out, "cache", "steps");
    for (const f of readdirSync(steps)) if (f.startsWith("lslca-")) rmSync(join(steps, f));
    const resumed = await runPipeline(input, { out, quiet: true });
    expect(resumed.run.computed).toEqual(["lslca"]);
    expect(resumed.run.probesFitted).toBe(0);
    expect(resumed.steps.lslca).toEqual(r.steps.lslca);
    // Truncated or mutated cache files (a crash cannot make them: writes are atomic) are ignored.
    const oracleFile = readdirSync(steps).find((f) => f.startsWith("oracle-"))!;
    const text = readFileSync(join(steps, oracleFile), "utf8");
    // A damaged value that still parses (one digit of an accuracy changed) fails its checksum (issue 17).
    const edited = text.replace(
      /"accuracy":0\.(\d)/,
      (_m, d: string) => `"accuracy":0.${(Number(d) + 1) % 10}`,
    );
    expect(edited).not.toBe(text);
    const bads = [text.slice(0, text.length >> 1), text.replace('"oracle"', '"oracIe"'), "", "null", edited];
    for (const bad of bads) {
      writeFileSync(join(steps, oracleFile), bad);
      const again = await runPipeline(input, { out, quiet: true, steps: ["oracle"] });
      expect(again.run.computed).toEqual(["oracle"]);
      expect(again.steps.oracle!.probe).toEqual(r.steps.oracle!.probe);
    }
  });
});

describe("probes on column subsets", () => {
  it("standardizing all columns once gives exactly the probe of the subset standardized on its own", async () => {
    const source = await openPipelineSource(input);
    try {
      const data = await source.load();
      const z = standardizeData(data);
      const cols = [40, 3, 17, 63, 18, 19, 0];
      const lambdas = { lambda1: 1e-3, lambda2: 1e-4 };
      const solver = { patience: 5, maxIter: 200 };
      const fit = await fitProbe(
        data,
        z,
        r.input.classes,
        { columns: cols, lambdas, labels: "task" },
        solver,
      );
      // The reference path: copy the raw columns, fit a standardizer on them, fit the probe.
      const direct = new LogisticProbe({ ...lambdas, ...solver });
      await direct.fit(selectColumns(data.train.x, cols), data.train.y, {
        valid: { x: selectColumns(data.valid.x, cols), y: data.valid.y },
        classes: r.input.classes,
      });
      const test = await direct.evaluate(selectColumns(data.test.x, cols), data.test.y);
      // Bit-identical inputs and solver: equal to the last digit.
      expect(fit.record.test.accuracy).toBe(test.accuracy);
      expect(fit.record.test.macroF1).toBe(test.macroF1);
      expect(fit.record.iterations).toBe(direct.fitInfo?.iterations);
    } finally {
      source.close();
    }
  });
});

describe("id ranges", () => {
  it("encode sorted unique ids and decode back", () => {
    expect(encodeIdRanges([5, 0, 1, 2, 7, 8, 2])).toBe("0-2,5,7-8");
    expect(decodeIdRanges("0-2,5,7-8")).toEqual([0, 1, 2, 5, 7, 8]);
    expect(encodeIdRanges([])).toBe("");
    expect(decodeIdRanges("")).toEqual([]);
    expect(() => decodeIdRanges("3-1")).toThrow(/empty/);
    expect(() => decodeIdRanges("a")).toThrow(/not an id/);
  });
});
