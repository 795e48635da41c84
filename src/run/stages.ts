import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConceptsResult } from "../concepts/format.js";
import { type ConceptsStageResult, runConcepts } from "../concepts/stage.js";
import { readTask } from "../data/index.js";
import { isLabelLanguage } from "../data/label.js";
import { SPLITS, type SplitName } from "../data/splits.js";
import { runLabel } from "../data/stage.js";
import type { TaskSummary } from "../data/task/build.js";
import { runTokenTaggingTask } from "../data/task/stage.js";
import { type ExtractResult, extractActivations } from "../extract/extract.js";
import { openActivationModel } from "../extract/model.js";
import type { InterventionResults } from "../intervene/format.js";
import { runInterventionStage } from "../intervene/stage.js";
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
    intervene: join(out, "intervene"),
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

/** The concepts the headline names first, in this order, when no class has concept neurons. */
const PREFERRED_CLASSES = ["NUMBER", "STRING", "IDENT"];

/**
 * The class whose neurons the run's intervention changes: the config's, else the class with the most
 * concept neurons (the analysis' clearest finding; ties in class order), else NUMBER, STRING or IDENT,
 * else the first class.
 */
export function interventionClass(
  cfg: RunConfig,
  classes: readonly string[],
  concepts: ConceptsResult | null,
): string {
  const chosen = cfg.intervene.class;
  if (chosen !== null) {
    if (!classes.includes(chosen))
      throw new UserError(`intervene.class: '${chosen}' is not a class of the task (${classes.join(", ")})`);
    return chosen;
  }
  const counts = new Map<string, number>();
  for (const m of concepts?.conceptNeurons ?? [])
    if (classes.includes(m.concept)) counts.set(m.concept, (counts.get(m.concept) ?? 0) + 1);
  const best = classes.filter((c) => counts.has(c)).sort((a, b) => counts.get(b)! - counts.get(a)!)[0];
  return best ?? PREFERRED_CLASSES.find((c) => classes.includes(c)) ?? classes[0];
}

/**
 * The causal check (src/intervene/): the top-K neurons of one class for each K of the config's sweep,
 * and the class's concept neurons when the concept analysis found some, each changed inside the
 * forward pass and set beside random neurons of the same layers; the model's own predictions on the
 * test split are scored per class.
 */
export async function interveneStage(
  cfg: RunConfig,
  out: string,
  cls: string,
  concepts: ConceptsResult | null,
  quiet: boolean,
): Promise<InterventionResults> {
  const layout = layoutOf(out);
  const hasConcept = concepts?.site === cfg.site && concepts.conceptNeurons.some((m) => m.concept === cls);
  return runInterventionStage({
    results: out,
    neurons: hasConcept ? [`concept:${cls}`] : [],
    sweep: { class: cls, ks: cfg.intervene.ks, clip: true },
    mode: cfg.intervene.mode,
    site: cfg.site,
    controls: cfg.intervene.controls,
    seed: cfg.intervene.seed,
    split: "test",
    out: layout.intervene,
    quiet,
  });
}
