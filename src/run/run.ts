import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { CompressedCard } from "../compress/format.js";
import { NotCompressible } from "../compress/graph.js";
import { ROW_NAMES } from "../compress/select.js";
import { compressWithSpeed, type SpeedComparison } from "../compress/speed.js";
import { isLabelLanguage, LANGUAGE_NAMES } from "../data/label.js";
import type { InterventionResults } from "../intervene/format.js";
import { METRICS_SCHEMA } from "../probe/format.js";
import { parseSteps, runRedundancyPipeline } from "../redundancy/pipeline/pipeline.js";
import type { RedundancyResults } from "../redundancy/pipeline/results.js";
import { classMetricsOfOracle } from "../report/baseline.js";
import { writeReportForResults } from "../report/write.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { UserError } from "../util/errors.js";
import { readJsonFile } from "../util/json.js";
import { formatSeconds, log } from "../util/progress.js";
import { writeRunRecord } from "../util/run-record.js";
import { withCompressed } from "./compressed.js";
import { isSentenceKind, type RunConfig } from "./config.js";
import { RUN_FORMAT, RUN_VERSION, type RunFile } from "./format.js";
import { type Headline, headlineOf, withIntervention } from "./headline.js";
import { reportDataOf } from "./report-data.js";
import {
  conceptsStage,
  extractStage,
  interveneStage,
  interventionClass,
  labelStage,
  latentStage,
  layoutOf,
  probeStage,
  taskStage,
} from "./stages.js";

export interface RunResult {
  out: string;
  report: string;
  headline: Headline;
  /** The compressed model (config compress.set) and its speed comparison, when the run wrote one. */
  compress: { out: string; card: CompressedCard; speed: SpeedComparison | null } | null;
  /** Wall-clock seconds of each stage (also in OUT/run-record.json). */
  seconds: Record<string, number>;
}

/**
 * The paper's whole analysis for one model and corpus: label → task → extract → probe → redundancy →
 * concepts → (latent, when the config asks) → report, each stage the library's. Extraction resumes and the redundancy steps are cached,
 * so a rerun after an interruption (or with changed analysis settings) redoes only what changed; the
 * probe stage's tuned oracle is the redundancy pipeline's oracle, so the λ grid is fitted once.
 * Writes OUT/run.json (the settings and the headline) and OUT/run-record.json (the timings).
 */
export async function runAnalysis(
  cfg: RunConfig,
  out: string,
  opts: { quiet?: boolean } = {},
): Promise<RunResult> {
  const t0 = performance.now();
  const quiet = opts.quiet ?? false;
  const layout = layoutOf(out);
  await mkdir(out, { recursive: true });
  const seconds: Record<string, number> = {};
  const stage = async <T>(name: string, what: string, fn: () => Promise<T>): Promise<T> => {
    log(`── ${name}: ${what}`);
    const t = performance.now();
    const result = await fn();
    seconds[name] = (performance.now() - t) / 1000;
    log(`   ${name} done in ${formatSeconds(seconds[name])}`);
    return result;
  };
  const sentence = isSentenceKind(cfg.task.kind);
  const labelled = sentence
    ? null
    : await stage("label", `${cfg.data.language} tokens of ${cfg.data.train}, valid, test`, () =>
        labelStage(cfg, layout),
      );
  const task = await stage("task", taskWhat(cfg), () => taskStage(cfg, layout));
  // A class the task lacks is refused before the long stages; a sentence-level task has no word
  // classes to intervene on.
  if (cfg.intervene.enabled) {
    if (sentence)
      throw new UserError(
        `intervene: a ${cfg.task.kind} task is sentence-level; interventions are on token tasks (set intervene.enabled false)`,
      );
    interventionClass(cfg, task.classes, null);
  }
  if (cfg.latent.enabled && sentence)
    throw new UserError(
      `latent: a ${cfg.task.kind} task is sentence-level; latent concepts cluster the tokens of a word-level store (set latent.enabled false)`,
    );
  await stage("extract", `activations of ${cfg.model}`, () => extractStage(cfg, layout, quiet));
  // The probe and concept stages read word-level stores; a sentence-level task's oracle is the
  // redundancy pipeline's own.
  const probe = sentence
    ? null
    : await stage("probe", "oracle probe (λ grid on dev)", () => probeStage(cfg, layout, quiet));
  const { results: redundancy } = await stage("redundancy", "the paper's pipeline", () =>
    runRedundancyPipeline(
      { store: layout.activations, task: layout.task, site: cfg.site, seed: cfg.redundancy.seed },
      {
        out: layout.redundancy,
        steps: cfg.redundancy.steps ? parseSteps(cfg.redundancy.steps) : undefined,
        settings: {
          seed: cfg.redundancy.seed,
          deltas: cfg.redundancy.deltas,
          thresholds: cfg.redundancy.thresholds,
          curves: cfg.redundancy.curves,
        },
        ...(probe ? { oracle: probe.fitted } : {}),
        quiet,
      },
    ),
  );
  const concepts = sentence
    ? null
    : (
        await stage("concepts", "top neurons, top words, concept neurons", () =>
          conceptsStage(cfg, layout, quiet),
        )
      ).result;
  const iv = cfg.intervene;
  let intervention: InterventionResults | null = null;
  if (iv.enabled) {
    const cls = interventionClass(cfg, task.classes, concepts);
    intervention = await stage(
      "intervene",
      `${iv.mode} the top ${cls} neurons inside the model (K = ${iv.ks.join(", ")}; ${iv.controls} random control${iv.controls === 1 ? "" : "s"} each)`,
      () => interveneStage(cfg, out, cls, concepts, quiet),
    );
  }
  const latent = cfg.latent.enabled
    ? await stage(
        "latent",
        "latent concepts (Ward clusters of token vectors, aligned with code categories)",
        () => latentStage(cfg, layout, quiet),
      )
    : null;
  const t = task.totals;
  const notes = [
    labelled
      ? `Data: ${labelled.train.sentences}/${labelled.valid.sentences}/${labelled.test.sentences} sentences labelled; task ${t.train}/${t.valid}/${t.test} ${task.unit} (classes ${task.classes.join(", ")})`
      : `Data: ${cfg.task.kind} ${t.train}/${t.valid}/${t.test} ${task.unit} (labels ${task.classes.join(", ")}) from ${cfg.data.train}, valid, test`,
    `Settings: ${cfg.site === "hidden" ? "residual-stream" : "MLP"} neurons (site ${cfg.site}), seed ${cfg.task.seed}, aggregation ${cfg.extract.aggregation}, δ ${cfg.redundancy.deltas.join("/")}, thresholds ${cfg.redundancy.thresholds.join(",")}`,
  ];
  const data = reportDataOf(
    redundancy,
    concepts,
    { model: cfg.model, task: taskTitle(cfg, task.classes), notes },
    { concepts: join(layout.concepts, "concepts.json") },
    probe ? await readJsonFile(join(layout.probe, "metrics.json"), METRICS_SCHEMA) : null,
    intervention ? { results: intervention, k: iv.k } : null,
    latent?.section ?? null,
  );
  if (!data.classMetrics) {
    const derived = classMetricsOfOracle(redundancy, task.counts.test);
    if (derived) data.classMetrics = derived;
  }
  await writeJsonAtomic(layout.reportData, data);
  const report = await stage("report", "figures and the HTML report", () =>
    writeReportForResults(out, { png: cfg.report.png, quiet }),
  );
  const found = headlineOf(redundancy, concepts);
  const intervened = intervention ? withIntervention(found, intervention, iv.k) : found;
  const compress = await compressStage(cfg, out, redundancy, quiet, stage);
  const headline = compress ? withCompressed(intervened, compress.card, compress.out) : intervened;
  const run: RunFile = {
    format: RUN_FORMAT,
    version: RUN_VERSION,
    config: cfg,
    headline,
    report: report.html,
  };
  await writeJsonAtomic(layout.run, run);
  await writeRunRecord(out, "run", { total: (performance.now() - t0) / 1000, ...seconds });
  return { out, report: report.html, headline, compress, seconds };
}

/**
 * The set of the config's `compress` as a standalone model in OUT/compressed/, with its speed
 * comparison: skipped, with a note, when the run did not compute the set or the model's family cannot
 * be compressed.
 */
async function compressStage(
  cfg: RunConfig,
  out: string,
  redundancy: RedundancyResults,
  quiet: boolean,
  stage: <T>(name: string, what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<RunResult["compress"]> {
  const set = cfg.compress.set;
  if (set === null) return null;
  if (!redundancy.summary.some((s) => s.name === ROW_NAMES[set])) {
    log(`── compress: skipped (the run computed no ${ROW_NAMES[set]} set)`);
    return null;
  }
  try {
    return await stage("compress", `the ${ROW_NAMES[set]} set as a standalone model`, () =>
      compressWithSpeed({ results: out, set, speedRuns: cfg.compress.speedRuns, quiet }),
    );
  } catch (e) {
    if (!(e instanceof NotCompressible)) throw e;
    log(`── compress: skipped (${e.message})`);
    return null;
  }
}

/** What the task stage does, for the progress line. */
function taskWhat(cfg: RunConfig): string {
  const caps = `caps ${cfg.task.caps.join("/")}`;
  if (cfg.task.kind === "token-tagging") return `filtered token tagging (${caps})`;
  if (cfg.task.kind === "binary")
    return `binary task: ${cfg.task.labels ? cfg.task.labels.join(", ") : `/${cfg.task.regex}/`} against all other tokens (${caps})`;
  return `${cfg.task.kind} from ${cfg.data.train}, valid, test`;
}

/** The report's name of the task: "Java token tagging (6 classes)", "CoSQA: query–code pairs". */
export function taskTitle(cfg: RunConfig, classes: readonly string[]): string {
  const lang = cfg.data.language;
  const name = isLabelLanguage(lang) ? LANGUAGE_NAMES[lang] : lang;
  switch (cfg.task.kind) {
    case "token-tagging":
      return `${name} token tagging (${classes.length} classes)`;
    case "binary":
      return `${name} binary task (${classes.join(" vs ")})`;
    case "devign":
      return "Devign: defect detection (C functions)";
    case "bigclonebench":
      return "BigCloneBench: clone detection (Java function pairs)";
    case "cosqa":
      return "CoSQA: does the code answer the query? (query–code pairs)";
  }
}

export function reportExists(out: string): boolean {
  return existsSync(join(layoutOf(out).report, "index.html"));
}
