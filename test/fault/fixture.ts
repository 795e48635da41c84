import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readTask } from "../../src/data/index.js";
import { SPLITS, type SplitName } from "../../src/data/splits.js";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import type { ActivationModel } from "../../src/extract/types.js";
import { runProbe } from "../../src/probe/stage.js";
import { parseSteps, runRedundancyPipeline } from "../../src/redundancy/pipeline/pipeline.js";
import { type RunConfig, readRunConfig } from "../../src/run/config.js";
import { reportDataOf } from "../../src/run/report-data.js";
import { conceptsStage, extractStage, labelStage, layoutOf, taskStage } from "../../src/run/stages.js";
import { writeJsonAtomic } from "../../src/util/atomic.js";

/**
 * The clean results directory the fault cases start from: `codeneurons run`'s layout and stages on a
 * small slice of the bundled Java demo (200 / 80 / 80 lines, 30 / 10 / 10 tokens per class) with the
 * bundled model (codeneurons-java-tiny: 5 layers × 256 units). The probe and the redundancy pipeline
 * use fixed λs (no grid) and two steps (independent, cc: probe fits and a clustering in the cache), so
 * that a command can be rerun per case in well under a second.
 */
const ROOT = join(import.meta.dirname, "..", "..");
export const MODEL = join(ROOT, "models", "codeneurons-java-tiny");
const LINES: Record<SplitName, number> = { train: 200, valid: 80, test: 80 };
const LAMBDAS = { lambda1: 1e-3, lambda2: 0 };
const STEPS = ["independent", "cc"];
const THRESHOLDS = [0.3, 0.7];

export interface Fixture {
  /** The clean results directory. */
  base: string;
  cfg: RunConfig;
  /** The model, open for the cases that extract. */
  model: ActivationModel & { release(): Promise<void> };
  /** Input lines each split's store holds (the task's sentences). */
  lines: Record<SplitName, Set<number>>;
}

export async function buildFixture(root: string): Promise<Fixture> {
  const input = join(root, "input");
  mkdirSync(input, { recursive: true });
  for (const s of SPLITS) {
    const text = readFileSync(join(ROOT, "demo", "java", `${s}.in`), "utf8").split("\n");
    writeFileSync(join(input, `${s}.in`), `${text.slice(0, LINES[s]).join("\n")}\n`);
  }
  writeFileSync(
    join(root, "config.json"),
    JSON.stringify({
      model: MODEL,
      data: {
        language: "java",
        pretokenized: true,
        train: "input/train.in",
        valid: "input/valid.in",
        test: "input/test.in",
      },
      task: { seed: 1, caps: [30, 10, 10] },
      redundancy: { seed: 1, steps: STEPS, thresholds: THRESHOLDS, curves: "until-target" },
      report: { png: false },
    }),
  );
  const cfg = readRunConfig(join(root, "config.json"));
  const base = join(root, "results");
  const layout = layoutOf(base);
  await labelStage(cfg, layout);
  await taskStage(cfg, layout);
  await extractStage(cfg, layout, true);
  await probe(base);
  const { results } = await runRedundancyPipeline(...redundancyArgs(base, cfg));
  const { result: concepts } = await conceptsStage(cfg, layout, true);
  await writeJsonAtomic(
    layout.reportData,
    reportDataOf(results, concepts, { model: cfg.model, task: "Java token tagging" }),
  );
  const task = await readTask(layout.task);
  const lines = Object.fromEntries(SPLITS.map((s) => [s, new Set(task[s].sentence)])) as Fixture["lines"];
  const model = await openActivationModel(cfg.model, {
    layers: cfg.extract.layers ?? undefined,
    sites: cfg.extract.sites,
  });
  return { base, cfg, model, lines };
}

/** The probe stage with fixed λs, on the results directory `dir`, into `out`. */
export function probe(dir: string, out = layoutOf(dir).probe) {
  const layout = layoutOf(dir);
  return runProbe({ store: layout.activations, task: layout.task, out, ...LAMBDAS, seed: 1, quiet: true });
}

/** The redundancy pipeline's arguments for the results directory `dir`. */
export function redundancyArgs(dir: string, cfg: RunConfig): Parameters<typeof runRedundancyPipeline> {
  const layout = layoutOf(dir);
  return [
    { store: layout.activations, task: layout.task, site: cfg.site, seed: cfg.redundancy.seed },
    {
      out: layout.redundancy,
      steps: parseSteps(STEPS),
      settings: { seed: cfg.redundancy.seed, thresholds: THRESHOLDS, curves: "until-target", ...LAMBDAS },
      quiet: true,
    },
  ];
}

/**
 * `extract` of one split into `out` as `codeneurons run` runs it, from the clean directory's input
 * files (the plan names them by path): over a store of the same plan it resumes.
 */
export function extractSplit(f: Fixture, out: string, s: SplitName) {
  const data = layoutOf(f.base).data(s);
  return extractActivations(f.model, {
    input: `${data}.in`,
    labels: `${data}.label`,
    out,
    layers: f.cfg.extract.layers ?? undefined,
    sites: f.cfg.extract.sites,
    aggregation: f.cfg.extract.aggregation,
    dtype: f.cfg.extract.dtype,
    batchTokens: f.cfg.extract.batchTokens,
    onlyLines: f.lines[s],
    overwrite: true,
    quiet: true,
  });
}
