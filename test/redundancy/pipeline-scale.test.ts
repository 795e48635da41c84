import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openPipelineSource } from "../../src/redundancy/pipeline/input/index.js";
import { DEFAULT_SETTINGS, STEP_ALIASES, shapeOf } from "../../src/redundancy/pipeline/pipeline.js";
import {
  checkMemory,
  correlationWork,
  memoryPlan,
  NO_WORK,
  type ProblemShape,
  plannedWork,
  timePlan,
} from "../../src/redundancy/pipeline/plan.js";
import { fitProbe, standardizeData } from "../../src/redundancy/pipeline/probes.js";
import type { PipelineSettings, StepName } from "../../src/redundancy/pipeline/results.js";
import { InputError, UserError } from "../../src/util/errors.js";
import { makeSentenceTasks, makeTokenTask, runPipeline } from "./pipeline-helpers.js";

/**
 * What lets the pipeline run on wide stores (issue 12): activations z-scored in place and read again
 * from the stores where raw values are needed, probes on large subsets as views of the full matrices,
 * `--layers`, and the memory check before anything is read.
 */
let token: { store: string; task: string };
let sentence: Awaited<ReturnType<typeof makeSentenceTasks>>;
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-scale-"));
  token = await makeTokenTask(join(dir, "token"));
  sentence = await makeSentenceTasks(join(dir, "sentences"), { train: 40, valid: 20, test: 20 });
}, 300_000);

const GiB = 1024 ** 3;
const LLM: ProblemShape = {
  neurons: 33 * 4096,
  width: 4096,
  layers: 33,
  sides: 1,
  rows: { train: 12000, valid: 1620, test: 2040 },
  classes: 6,
  controlClasses: 6,
};

describe("raw activations after z-scoring in place", () => {
  for (const kind of ["token", "pair"] as const) {
    it(`${kind}: readColumns gives the values load() gave, in the asked order`, async () => {
      const input = kind === "token" ? token : sentence.pair;
      const source = await openPipelineSource(input);
      try {
        const data = await source.load();
        const raw = Float32Array.from(data.train.x.data);
        const cols = data.train.x.cols;
        standardizeData(data, { inPlace: true });
        expect(data.train.x.data).not.toEqual(raw);
        // Columns of both sides (pairs), out of order, one repeated.
        const pick = [cols - 1, 0, 5, Math.floor(cols / 2) + 1, 5];
        const again = await source.readColumns("train", pick);
        expect([again.rows, again.cols]).toEqual([data.train.x.rows, pick.length]);
        for (let r = 0; r < again.rows; r++)
          pick.forEach((c, i) => {
            expect(again.data[r * pick.length + i]).toBe(raw[r * cols + c]);
          });
      } finally {
        source.close();
      }
    });
  }
});

describe("probes on large subsets are views", () => {
  it("a view fits the probe a copy fits (same λs, float32 rounding apart)", async () => {
    const source = await openPipelineSource(token);
    try {
      const data = await source.load();
      const z = standardizeData(data);
      const classes = source.input.classes;
      const solver = { patience: 5, maxIter: 200 };
      for (const columns of [
        Array.from({ length: 40 }, (_, i) => i), // a prefix: the parent's transposed rows
        [63, 2, 17, 40, 8, 33, 50, 1, 29, 12], // any other set: products on the full matrices
      ]) {
        const req = {
          columns,
          lambdas: { lambda1: 1e-3, lambda2: 1e-3 },
          labels: "task" as const,
          orderingStride: 10,
        };
        const copy = await fitProbe(data, z, classes, req, solver);
        const view = await fitProbe(data, z, classes, req, solver, 0);
        expect(view.record.neurons).toBe(columns.length);
        expect(Math.abs(view.record.dev.accuracy - copy.record.dev.accuracy)).toBeLessThanOrEqual(
          1 / data.valid.y.length,
        );
        expect(Math.abs(view.record.test.accuracy - copy.record.test.accuracy)).toBeLessThanOrEqual(
          1 / data.test.y.length,
        );
        expect(view.ordering?.slice().sort((a, b) => a - b)).toEqual([...columns].sort((a, b) => a - b));
      }
    } finally {
      source.close();
    }
  });
});

describe("warm starts across minimal-set sizes", () => {
  it("each size after the first starts from the previous one; off, nothing changes in the results", async () => {
    const settings = {
      lambda1: 1e-3,
      lambda2: 1e-3,
      curves: "all" as const,
      finePercentages: [0.1, 0.2, 0.4, 0.8],
    };
    const warm = await runPipeline(token, {
      out: join(dir, "warm"),
      steps: ["lca", "random"],
      settings: { ...settings, warmStarts: true },
      quiet: true,
    });
    expect(warm.settings.warmStarts).toBe(true);
    for (const search of [warm.steps.lca, warm.steps.random]) {
      const points = search?.points ?? [];
      expect(points.map((p) => p.neurons)).toEqual([6, 12, 25, 51]);
      expect(points.map((p) => p.probe.warmStart ?? false)).toEqual([false, true, true, true]);
    }
    // Every warm fit is counted.
    expect(warm.run.probesFitted).toBe(1 + 8);
    const cold = await runPipeline(token, {
      out: join(dir, "cold"),
      steps: ["lca", "random"],
      settings,
      quiet: true,
    });
    expect("warmStarts" in cold.settings).toBe(false);
    expect(JSON.stringify(cold.steps)).not.toMatch(/warmStart/);
    // The first size has no start to take: the same probe either way.
    expect(warm.steps.random?.points[0].probe).toEqual(cold.steps.random?.points[0].probe);
  });
});

describe("--layers", () => {
  it("analyses only the chosen layers; the cache key says so; a layer not stored is refused", async () => {
    const out = join(dir, "layers");
    const r = await runPipeline(
      { ...token, layers: [3, 1] },
      { out, steps: ["independent"], settings: { lambda1: 1e-3, lambda2: 0 }, quiet: true },
    );
    expect(r.input.layers).toEqual([1, 3]);
    expect(r.totalNeurons).toBe(32);
    expect(r.steps.independent?.layers.map((l) => l.layer)).toEqual([1, 3]);
    const all = await runPipeline(token, {
      out,
      steps: ["independent"],
      settings: { lambda1: 1e-3, lambda2: 0 },
      quiet: true,
    });
    expect(all.run.computed).toContain("independent");
    expect(all.totalNeurons).toBe(64);
    await expect(openPipelineSource({ ...token, layers: [7] })).rejects.toThrow(InputError);
    await expect(openPipelineSource({ ...token, layers: [7] })).rejects.toThrow(
      /--layers: hidden layer 7 is not in the store \(hidden layers 0,1,2,3\)/,
    );
  });
});

describe("time plan", () => {
  const settings = DEFAULT_SETTINGS;
  const all = STEP_ALIASES.all;
  it("exact where the shape fixes a step's work, a range around the estimate where the data decides", () => {
    const plan = timePlan(LLM, all, settings);
    for (const p of plan) {
      if (p.step !== "ls") expect(p.seconds, p.step).toBeGreaterThan(0);
      if (["cka", "oracle", "independent", "control", "ls"].includes(p.step))
        expect(p.fromSeconds, p.step).toBeUndefined();
      else {
        expect(p.fromSeconds!, p.step).toBeLessThanOrEqual(p.toSeconds!);
        expect(p.seconds, p.step).toBeGreaterThanOrEqual(p.fromSeconds!);
        expect(p.seconds, p.step).toBeLessThanOrEqual(p.toSeconds!);
      }
    }
  });

  it("probes' products grow with n, one tree's correlations with n², per-layer ones with n", () => {
    const small = { ...LLM, layers: 2, neurons: 2 * 1024, width: 1024 };
    const twice = { ...small, layers: 4, neurons: 4 * 1024 };
    const work = (s: ProblemShape, step: StepName) => plannedWork(s, step, settings, all).most;
    expect(work(twice, "oracle").products / work(small, "oracle").products).toBe(2);
    expect(work(twice, "independent").probes).toBe(4);
    expect(work(twice, "cc").correlations / work(small, "cc").correlations).toBe(4);
    // 135,168 neurons do not fit one tree: a pair of layers at a time, linear in the layers.
    const perLayer = work(LLM, "cc").correlations;
    expect(perLayer).toBe(correlationWork(LLM.neurons, LLM.width, LLM.rows.train, "per-layer-linked"));
    expect(perLayer).toBeLessThan(correlationWork(LLM.neurons, LLM.width, LLM.rows.train, "all") / 10);
  });

  it("incremental: every prefix under --curves all, from none to every prefix under until-target", () => {
    const curves = (c: PipelineSettings["curves"]) =>
      plannedWork(LLM, "incremental", { ...settings, curves: c }, all);
    const every = curves("all");
    expect(every.least).toEqual(every.most);
    // Prefixes of 1 … L − 1 layers (the last prefix is the oracle).
    expect(every.most.probes).toBe(LLM.layers - 1);
    expect(every.most.products).toBe((LLM.width * 12000 * 6 * (LLM.layers - 1) * LLM.layers) / 2);
    const until = curves("until-target");
    expect(until.least).toEqual(NO_WORK);
    expect(until.most).toEqual(every.most);
  });

  it("cc run with ccfs: from nothing (LayerSelector kept every layer: ccfs's work is reused)", () => {
    expect(plannedWork(LLM, "cc", settings, ["ccfs", "cc"]).least).toEqual(NO_WORK);
    expect(plannedWork(LLM, "cc", settings, ["cc"]).least.correlations).toBeGreaterThan(0);
  });

  it("what a run's steps fitted and clustered lies within the plan's least and most", async () => {
    const source = await openPipelineSource(token);
    const shape = shapeOf(source);
    source.close();
    const r = await runPipeline(token, {
      out: join(dir, "work"),
      settings: { curves: "until-target" },
      quiet: true,
    });
    expect(r.run.computed).toHaveLength(all.length);
    for (const step of all) {
      const did = r.run.work[step]!;
      const planned = plannedWork(shape, step, r.settings, all);
      for (const unit of ["probes", "products", "correlations", "reads"] as const) {
        expect(did[unit], `${step} ${unit}`).toBeGreaterThanOrEqual(planned.least[unit]);
        expect(did[unit], `${step} ${unit}`).toBeLessThanOrEqual(planned.most[unit]);
      }
    }
    // The counts are the fits themselves: they add up to the run's probes.
    expect(all.reduce((a, s) => a + r.run.work[s]!.probes, 0)).toBe(r.run.probesFitted);
    expect(r.run.work.oracle).toEqual({
      ...NO_WORK,
      probes: 1,
      products: shape.neurons * shape.rows.train * shape.classes,
    });
    expect(r.run.work.ccfs!.correlations).toBeGreaterThan(0);
    // Read from the cache: nothing fitted, nothing counted.
    const again = await runPipeline(token, {
      out: join(dir, "work"),
      settings: { curves: "until-target" },
      quiet: true,
    });
    expect(again.run.work).toEqual({});
  }, 300_000);
});

describe("memory plan", () => {
  it("a 7B residual stream (135,168 neurons, 12,000 rows) peaks in the oracle's grid, under 20 GB", () => {
    const plan = memoryPlan(LLM, DEFAULT_SETTINGS, STEP_ALIASES.all);
    const peak = plan.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    expect(peak.step).toBe("oracle");
    // z-scored splits 8.5 GB + transposed rows 6.5 GB + 6 probes fitted together with their warm starts.
    expect(peak.bytes).toBeGreaterThan(15e9);
    expect(peak.bytes).toBeLessThan(20e9);
  });

  it("refuses a run over the bound before reading anything, naming the step and the flags that fit", () => {
    const mlp = { ...LLM, neurons: 32 * 11008, width: 11008, layers: 32 };
    const layers = Array.from({ length: 32 }, (_, i) => i + 1);
    const run = () => checkMemory(mlp, DEFAULT_SETTINGS, STEP_ALIASES.all, 20 * GiB, layers);
    expect(run).toThrow(UserError);
    expect(run).toThrow(
      /352256 neurons .* needs about 4\d\.\d GiB at its peak \(step oracle: .*\), over the memory bound of 20\.0 GiB \(this machine has .* GiB\): select fewer layers \(--layers 1-1\d keeps 1\d of 32, about 1\d\.\d GiB\); or raise the bound with --max-memory/,
    );
    expect(checkMemory(LLM, DEFAULT_SETTINGS, STEP_ALIASES.all, 20 * GiB, layers).length).toBe(12);
  });

  it("the pipeline checks it first: a bound below the tiny task's needs refuses the run", async () => {
    const run = runPipeline(token, {
      out: join(dir, "bound"),
      steps: ["oracle"],
      maxMemoryBytes: 1000,
      quiet: true,
    });
    await expect(run).rejects.toThrow(/over the memory bound of 1 MiB/);
  });
});
