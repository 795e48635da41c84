import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConceptsResult } from "../concepts/format.js";
import { type ConceptsStageResult, runConcepts } from "../concepts/stage.js";
import { readTask } from "../data/index.js";
import { isLabelLanguage } from "../data/label.js";
import { writeSentenceSplits } from "../data/sentence/index.js";
import { SPLITS, type SplitName } from "../data/splits.js";
import { runLabel } from "../data/stage.js";
import { runBinaryTask, runTokenTaggingTask } from "../data/task/stage.js";
import { isTreeSitterLanguage } from "../data/treesitter/label.js";
import { type ExtractResult, extractActivations } from "../extract/extract.js";
import { openActivationModel } from "../extract/model.js";
import type { InterventionResults } from "../intervene/format.js";
import { runInterventionStage } from "../intervene/stage.js";
import { type LatentStageResult, runLatent } from "../latent/stage.js";
import { type ProbeStageResult, runProbe } from "../probe/stage.js";
import { DEFAULT_SETTINGS } from "../redundancy/pipeline/pipeline.js";
import { reportSectionFromLatent } from "../report/from-latent.js";
import type { LatentSection } from "../report/types.js";
import { ActivationStore } from "../store/index.js";
import { UserError } from "../util/errors.js";
import { withProgressLabel } from "../util/progress.js";
import { isSentenceKind, type RunConfig } from "./config.js";

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
    latent: join(out, "latent"),
    reportData: join(out, "report-data.json"),
    report: join(out, "report"),
    run: join(out, "run.json"),
  };
}

export type Layout = ReturnType<typeof layoutOf>;

/** Labels the three splits of the corpus (token kinds; docs/DESIGN.md's scheme for Java). */
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
      backend: cfg.data.parser,
      skipBadLines: cfg.data.skipBadLines,
      field: cfg.data.field,
    });
    out[s] = { sentences: meta.sentences, tokens: meta.tokens };
  }
  return out;
}

/** What the task stage made, for the run's notes and the report's title. */
export interface TaskInfo {
  classes: string[];
  /** Rows per split: tokens (token kinds), sentences or pairs (sentence kinds). */
  totals: Record<SplitName, number>;
  /** Rows of each class per split. */
  counts: Record<SplitName, Record<string, number>>;
  /** "tokens", "sentences" or "pairs". */
  unit: string;
}

/**
 * The task: the paper's filtered token tagging task (the language's classes, or the config's) or a
 * binary concept task, each with its control task, from the labelled splits; or a sentence-level task
 * (devign, bigclonebench, cosqa) from the dataset's files. A task that ends empty or with one class is
 * an error (data/task/build.ts, data/sentence/index.ts).
 */
export async function taskStage(cfg: RunConfig, layout: Layout): Promise<TaskInfo> {
  const kind = cfg.task.kind;
  if (isSentenceKind(kind)) {
    const summary = await writeSentenceSplits(
      kind,
      { train: cfg.data.train, valid: cfg.data.valid, test: cfg.data.test },
      layout.task,
      cfg.data.functions ? { functions: cfg.data.functions } : {},
    );
    const split = (name: SplitName) => {
      const found = summary.splits.find((x) => x.name === name);
      if (!found) throw new Error(`task: no ${name} split written`);
      return found;
    };
    const counts = Object.fromEntries(SPLITS.map((s) => [s, split(s).labels])) as TaskInfo["counts"];
    return {
      classes: Object.keys(counts.train).sort(),
      totals: Object.fromEntries(SPLITS.map((s) => [s, split(s).count])) as TaskInfo["totals"],
      counts,
      unit: split("train").pair ? "pairs" : "sentences",
    };
  }
  const [train, valid, test] = cfg.task.caps;
  const input = {
    splits: { train: layout.data("train"), valid: layout.data("valid"), test: layout.data("test") },
    out: layout.task,
  };
  const common = { seed: cfg.task.seed, caps: { train, valid, test }, control: cfg.task.control };
  const summary =
    kind === "binary"
      ? await runBinaryTask(input, {
          ...common,
          ...(cfg.task.labels ? { labels: cfg.task.labels } : {}),
          ...(cfg.task.regex ? { regex: cfg.task.regex } : {}),
        })
      : await runTokenTaggingTask(input, {
          ...common,
          ...(cfg.task.classes ? { classes: cfg.task.classes } : {}),
          ...(cfg.task.closedClasses ? { closedClasses: cfg.task.closedClasses } : {}),
          ...(cfg.task.preferUnseen ? { preferUnseen: cfg.task.preferUnseen } : {}),
        });
  return { classes: summary.classes, totals: summary.totals, counts: summary.counts, unit: "tokens" };
}

/** Where the activations of a split's sentences go: one store per split, and per side for pairs. */
function storesOf(
  cfg: RunConfig,
  layout: Layout,
  s: SplitName,
): { input: string; out: string; name: string }[] {
  if (!isSentenceKind(cfg.task.kind))
    return [{ input: `${layout.data(s)}.in`, out: layout.store(s), name: s }];
  if (existsSync(join(layout.task, `${s}.a.in`)))
    // The redundancy pipeline reads a pair task's sides from STORE/a and STORE/b.
    return ["a", "b"].map((side) => ({
      input: join(layout.task, `${s}.${side}.in`),
      out: join(layout.activations, side, s),
      name: `${s}, side ${side}`,
    }));
  return [{ input: join(layout.task, `${s}.in`), out: layout.store(s), name: s }];
}

/**
 * Extracts the activations the task uses, one store per split: word-level for token kinds (only the
 * task's sentences), one vector per sentence for sentence kinds (both sides of a pair).
 */
export async function extractStage(
  cfg: RunConfig,
  layout: Layout,
  quiet: boolean,
): Promise<Record<SplitName, ExtractResult[]>> {
  const sentence = isSentenceKind(cfg.task.kind);
  const task = sentence ? null : await readTask(layout.task);
  const model = await openActivationModel(cfg.model, {
    layers: cfg.extract.layers ?? undefined,
    sites: cfg.extract.sites,
  });
  try {
    const out = {} as Record<SplitName, ExtractResult[]>;
    for (const s of SPLITS) {
      out[s] = [];
      for (const { input, out: store, name } of storesOf(cfg, layout, s))
        out[s].push(
          // The bar names the split (and side) it extracts.
          await withProgressLabel(name, () =>
            extractActivations(model, {
              input,
              ...(sentence ? { level: "sentence" as const } : { labels: `${layout.data(s)}.label` }),
              out: store,
              layers: cfg.extract.layers ?? undefined,
              sites: cfg.extract.sites,
              aggregation: cfg.extract.aggregation,
              dtype: cfg.extract.dtype,
              batchTokens: cfg.extract.batchTokens,
              ...(task ? { onlyLines: new Set(task[s].sentence) } : {}),
              // A store made for another task or model is replaced, not mixed.
              overwrite: true,
              quiet,
            }),
          ),
        );
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

/**
 * Latent concepts (ConceptX) of the train store's tokens, and the report's section of them (some
 * clusters with their code lines). The parent categories need a tree-sitter grammar of the language.
 */
export async function latentStage(
  cfg: RunConfig,
  layout: Layout,
  quiet: boolean,
): Promise<LatentStageResult & { section: LatentSection }> {
  const lang = cfg.data.language;
  const stage = await runLatent({
    store: layout.store("train"),
    out: layout.latent,
    site: cfg.site,
    layers: cfg.latent.layers ?? undefined,
    clusters: cfg.latent.clusters,
    maxTokens: cfg.latent.tokens,
    maxPerType: cfg.latent.perType,
    seed: cfg.latent.seed,
    theta: cfg.latent.theta,
    language: isTreeSitterLanguage(lang) ? lang : undefined,
    quiet,
  });
  const store = await ActivationStore.open(layout.store("train"));
  try {
    return { ...stage, section: reportSectionFromLatent(stage.result, (s) => store.words(s)) };
  } finally {
    store.close();
  }
}
