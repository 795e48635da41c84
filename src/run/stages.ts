import { existsSync } from "node:fs";
import { join } from "node:path";
import { runConcepts } from "../concepts/run.js";
import {
  buildTokenTagging,
  labelFile,
  readTask,
  readTaskSources,
  type TaskSummary,
  writeLabelled,
  writeTask,
} from "../data/index.js";
import { isLabelLanguage } from "../data/label.js";
import { SPLITS, type SplitName } from "../data/splits.js";
import { type ExtractResult, extractActivations } from "../extract/extract.js";
import { openActivationModel } from "../extract/model.js";
import { runProbe } from "../probe/run.js";
import { UserError } from "../util/errors.js";
import type { RunConfig } from "./config.js";

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
    const result = await labelFile(cfg.data[s], { lang, pretokenized: cfg.data.pretokenized });
    await writeLabelled(layout.data(s), result);
    out[s] = { sentences: result.sentences.length, tokens: result.labels.reduce((n, l) => n + l.length, 0) };
  }
  return out;
}

/** The paper's filtered token-tagging task and its control task. */
export async function taskStage(cfg: RunConfig, layout: Layout): Promise<TaskSummary> {
  const sources = await readTaskSources({
    train: layout.data("train"),
    valid: layout.data("valid"),
    test: layout.data("test"),
  });
  const [train, valid, test] = cfg.task.caps;
  const build = buildTokenTagging(sources, {
    seed: cfg.task.seed,
    caps: { train, valid, test },
    control: cfg.task.control,
  });
  return writeTask(layout.task, build);
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

/** The oracle probe (all neurons, λ tuned on dev) whose weights the concept analysis reads. */
export async function probeStage(cfg: RunConfig, layout: Layout, quiet: boolean) {
  return runProbe({
    store: layout.activations,
    task: layout.task,
    out: layout.probe,
    site: cfg.site,
    grid: true,
    selectivity: true,
    seed: cfg.redundancy.seed,
    quiet,
  });
}

/** Top neurons per class, their top words, concept neurons, heatmaps over code lines. */
export async function conceptsStage(cfg: RunConfig, layout: Layout, quiet: boolean) {
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
