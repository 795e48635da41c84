import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { isLabelLanguage, LANGUAGE_NAMES } from "../data/label.js";
import type { InterventionResults } from "../intervene/format.js";
import { METRICS_SCHEMA } from "../probe/format.js";
import { parseSteps, runRedundancyPipeline } from "../redundancy/pipeline/pipeline.js";
import { writeReportForResults } from "../report/write.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { readJsonFile } from "../util/json.js";
import { formatSeconds, log } from "../util/progress.js";
import { writeRunRecord } from "../util/run-record.js";
import type { RunConfig } from "./config.js";
import { RUN_FORMAT, RUN_VERSION, type RunFile } from "./format.js";
import { type Headline, headlineOf, withIntervention } from "./headline.js";
import { reportDataOf } from "./report-data.js";
import {
  conceptsStage,
  extractStage,
  interveneStage,
  interventionClass,
  labelStage,
  layoutOf,
  probeStage,
  taskStage,
} from "./stages.js";

export interface RunResult {
  out: string;
  report: string;
  headline: Headline;
  /** Wall-clock seconds of each stage (also in OUT/run-record.json). */
  seconds: Record<string, number>;
}

/**
 * The paper's whole analysis for one model and corpus: label → task → extract → probe → redundancy →
 * concepts → report, each stage the library's. Extraction resumes and the redundancy steps are cached,
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
  const labelled = await stage("label", `${cfg.data.language} tokens of ${cfg.data.train}, valid, test`, () =>
    labelStage(cfg, layout),
  );
  const task = await stage("task", `filtered token tagging (caps ${cfg.task.caps.join("/")})`, () =>
    taskStage(cfg, layout),
  );
  // A class the task lacks is refused before the long stages.
  if (cfg.intervene.enabled) interventionClass(cfg, task.classes, null);
  await stage("extract", `activations of ${cfg.model}`, () => extractStage(cfg, layout, quiet));
  const probe = await stage("probe", "oracle probe (λ grid on dev)", () => probeStage(cfg, layout, quiet));
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
        oracle: probe.fitted,
        quiet,
      },
    ),
  );
  const { result: concepts } = await stage("concepts", "top neurons, top words, concept neurons", () =>
    conceptsStage(cfg, layout, quiet),
  );
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
  const notes = [
    `Data: ${labelled.train.sentences}/${labelled.valid.sentences}/${labelled.test.sentences} sentences labelled; task ${task.totals.train}/${task.totals.valid}/${task.totals.test} tokens (classes ${task.classes.join(", ")})`,
    `Settings: ${cfg.site === "hidden" ? "residual-stream" : "MLP"} neurons (site ${cfg.site}), seed ${cfg.task.seed}, aggregation ${cfg.extract.aggregation}, δ ${cfg.redundancy.deltas.join("/")}, thresholds ${cfg.redundancy.thresholds.join(",")}`,
  ];
  await writeJsonAtomic(
    layout.reportData,
    reportDataOf(
      redundancy,
      concepts,
      { model: cfg.model, task: taskTitle(cfg.data.language, task.classes.length), notes },
      { concepts: join(layout.concepts, "concepts.json") },
      await readJsonFile(join(layout.probe, "metrics.json"), METRICS_SCHEMA),
      intervention ? { results: intervention, k: iv.k } : null,
    ),
  );
  const report = await stage("report", "figures and the HTML report", () =>
    writeReportForResults(out, { png: cfg.report.png, quiet }),
  );
  const found = headlineOf(redundancy, concepts);
  const headline = intervention ? withIntervention(found, intervention, iv.k) : found;
  const run: RunFile = {
    format: RUN_FORMAT,
    version: RUN_VERSION,
    config: cfg,
    headline,
    report: report.html,
  };
  await writeJsonAtomic(layout.run, run);
  await writeRunRecord(out, "run", { total: (performance.now() - t0) / 1000, ...seconds });
  return { out, report: report.html, headline, seconds };
}

/** The report's name of the task: "Java token tagging (6 classes)". */
export function taskTitle(language: string, classes: number): string {
  const name = isLabelLanguage(language) ? LANGUAGE_NAMES[language] : language;
  return `${name} token tagging (${classes} classes)`;
}

export function reportExists(out: string): boolean {
  return existsSync(join(layoutOf(out).report, "index.html"));
}
