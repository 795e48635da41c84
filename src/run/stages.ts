import { existsSync } from "node:fs";
import { join } from "node:path";
import { type ConceptsStageResult, runConcepts } from "../concepts/stage.js";
import { readTask } from "../data/index.js";
import { isLabelLanguage } from "../data/label.js";
import { SPLITS, type SplitName } from "../data/splits.js";
import { runLabel } from "../data/stage.js";
import type { TaskSummary } from "../data/task/build.js";
import { runTokenTaggingTask } from "../data/task/stage.js";
import { type ExtractResult, extractActivations } from "../extract/extract.js";
import { openActivationModel } from "../extract/model.js";
import { type ProbeStageResult, runProbe } from "../probe/stage.js";
import { DEFAULT_SETTINGS } from "../redundancy/pipeline/pipeline.js";
import { UserError } from "../util/errors.js";
import type { RunConfig } from "./config.js";

/**
 * The stages of `codeneurons run`, each the library's stage function with the settings of the run's
 * config, and the output layout they share. run.ts runs them in order.
 */

/** Where `codeneurons run` puts each stage's output inside the results directory. */
export function layoutOf(out: string) {
  return {
    data: (s: SplitName) => join(out, "data", s),
    task: join(out, "task"),
    activations: join(out, "activations"),
    store: (s: SplitName) => join(out, "activations", s),
    probe: join(out, "probe"),
    redundancy: join(out, "redundancy"),
    concepts: join(out, "concepts"),
    reportData: join(out, "report-data.json"),
    report: join(out, "report"),
    run: join(out, "run.json"),
  };
}

export type Layout = ReturnType<typeof layoutOf>;

/** Labels the three splits of the corpus (docs/DESIGN.md's scheme for Java). */
export async function labelStage(
  cfg: RunConfig,
  layout: Layout,
): Promise<Record<SplitName, { sentences: number; tokens: number }>> {
  const lang = cfg.data.language;
  if (!isLabelLanguage(lang)) throw new UserError(`data.language: unknown language '${lang}'`);
  const out = {} as Record<SplitName, { sentences: number; tokens: number }>;
  for (const s of SPLITS) {
    const { meta } = await runLabel({
      lang,
      input: cfg.data[s],
      out: layout.data(s),
      pretokenized: cfg.data.pretokenized,
    });
    out[s] = { sentences: meta.sentences, tokens: meta.tokens };
  }
  return out;
}

/** The paper's filtered token-tagging task and its control task. */
export async function taskStage(cfg: RunConfig, layout: Layout): Promise<TaskSummary> {
  const [train, valid, test] = cfg.task.caps;
  return runTokenTaggingTask(
    {
      splits: { train: layout.data("train"), valid: layout.data("valid"), test: layout.data("test") },
      out: layout.task,
    },
    { seed: cfg.task.seed, caps: { train, valid, test }, control: cfg.task.control },
  );
}

/** Extracts activations of the sentences the task uses, one store per split. */
export async function extractStage(
  cfg: RunConfig,
  layout: Layout,
  quiet: boolean,
): Promise<Record<SplitName, ExtractResult>> {
  const task = await readTask(layout.task);
  const model = await openActivationModel(cfg.model, {
    layers: cfg.extract.layers ?? undefined,
    sites: cfg.extract.sites,
  });
  try {
    const out = {} as Record<SplitName, ExtractResult>;
    for (const s of SPLITS) {
      out[s] = await extractActivations(model, {
        input: `${layout.data(s)}.in`,
        labels: `${layout.data(s)}.label`,
        out: layout.store(s),
        layers: cfg.extract.layers ?? undefined,
        sites: cfg.extract.sites,
        aggregation: cfg.extract.aggregation,
        dtype: cfg.extract.dtype,
        batchTokens: cfg.extract.batchTokens,
        onlyLines: new Set(task[s].sentence),
        // A store made for another task or model is replaced, not mixed.
        overwrite: true,
        quiet,
      });
    }
    return out;
  } finally {
    await model.release();
  }
}

/**
 * The oracle probe (all neurons, λ tuned on dev, with the control probe for selectivity) whose weights
 * the concept analysis reads. Fitted with the redundancy pipeline's solver settings, so that the
 * pipeline takes it as its oracle instead of tuning the grid again.
 */
export async function probeStage(cfg: RunConfig, layout: Layout, quiet: boolean): Promise<ProbeStageResult> {
  return runProbe({
    store: layout.activations,
    task: layout.task,
    out: layout.probe,
    site: cfg.site,
    grid: true,
    selectivity: true,
    seed: cfg.redundancy.seed,
    patience: DEFAULT_SETTINGS.patience,
    maxIter: DEFAULT_SETTINGS.maxIter,
    quiet,
  });
}

/** Top neurons per class, their top words, concept neurons, heatmaps over code lines. */
export async function conceptsStage(
  cfg: RunConfig,
  layout: Layout,
  quiet: boolean,
): Promise<ConceptsStageResult> {
  if (!existsSync(join(layout.probe, "probe.json"))) throw new Error("concepts: the probe stage has not run");
  return runConcepts({
    store: layout.store("train"),
    probe: join(layout.probe, "probe.json"),
    site: cfg.site,
    task: layout.task,
    splits: ["train"],
    out: layout.concepts,
    percentage: cfg.concepts.percentage,
    quiet,
  });
}
