import { join } from "node:path";
import { type Command, Option } from "commander";
import {
  type PipelinePlan,
  parseSteps,
  planRedundancyPipeline,
  runRedundancyForSites,
  type SiteChoice,
  sitesOf,
} from "../redundancy/pipeline/pipeline.js";
import { fmtGiB } from "../redundancy/pipeline/plan.js";
import type { PipelineSettings, StepName } from "../redundancy/pipeline/results.js";
import { formatSummary } from "../redundancy/pipeline/summary.js";
import { SITES, type Site } from "../store/format.js";
import { UserError } from "../util/errors.js";
import { siteTitle } from "../util/neurons.js";
import { action, printJson, type Register, siteOption } from "./common.js";
import { parseFloatOption, parseFractionList, parseIntList, parseIntOption } from "./options.js";

/** The flags: the pipeline's settings by name (those left out keep its defaults), input and output. */
type RedundancyCli = Partial<PipelineSettings> & {
  store: string;
  storeB?: string;
  task: string;
  site: Site;
  sites?: SiteChoice;
  layers?: number[];
  maxMemory?: number;
  plan?: boolean;
  out?: string;
  steps?: string;
  json?: boolean;
  quiet?: boolean;
};

export const register: Register = (program: Command) => {
  program
    .command("redundancy")
    .description(
      "The paper's redundancy pipeline in one command: oracle probe, independent and incremental layer-wise probes, " +
        "LayerSelector, correlation clustering (CCFS, CC), LS+CC+LCA minimal sets, LCA / probeless / random minimal " +
        "sets, control-task selectivity and the layer CKA matrix. Writes OUT/redundancy.json (docs/redundancy-results.md) " +
        "and OUT/cka.json; finished steps are cached in OUT/cache, so a rerun or an interrupted run resumes.",
    )
    .requiredOption(
      "--store <dir>",
      "activation store, or a directory with train/, valid/, test/ stores; for pair tasks also a/ and b/ (or give --store-b)",
    )
    .option("--store-b <dir>", "pair tasks: the stores of the second sentence (b side)")
    .requiredOption(
      "--task <dir>",
      "task directory: {train,valid,test}.tsv (token tagging) or <split>.in / <split>.a.in+.b.in + <split>.label (sentence-level)",
    )
    .option("--out <dir>", "output directory (required unless --plan)")
    .addOption(siteOption())
    .addOption(
      new Option(
        "--sites <which>",
        "run the pipeline for the residual stream (hidden), the MLP neurons (mlp) or both, each reported on its own (both: OUT/hidden/ and OUT/mlp/); the store needs the sites (extract --sites hidden,mlp)",
      ).choices([...SITES, "both"]),
    )
    .option(
      "--layers <list>",
      "analyse only these stored layers of the site (e.g. 0-16; default all): what makes a wide model fit in memory",
      parseIntList("layers"),
    )
    .option(
      "--steps <list>",
      "steps to produce (with their dependencies): cka, oracle, independent, incremental (or layerwise), ls, ccfs, lslca, cc, lca, probeless, random, control; default all",
    )
    .option(
      "--seed <n>",
      "seed of cluster representatives, the random ordering and CKA batches",
      parseIntOption("seed"),
      1,
    )
    .option(
      "--deltas <list>",
      "LayerSelector's allowed relative drops (default 0.03,0.02,0.01)",
      parseFractionList,
    )
    .option(
      "--neuron-delta <x>",
      "minimal sets: allowed relative drop (default 0.01)",
      parseFloatOption("neuron-delta"),
    )
    .option("--thresholds <list>", "clustering distance thresholds (default 0.1,…,0.9)", parseFractionList)
    .option(
      "--percentages <list>",
      "LS+CC+LCA sizes as fractions of all neurons (default: the paper's 27)",
      parseFractionList,
    )
    .option(
      "--fine-percentages <list>",
      "LCA / probeless / random sizes (default 0.1%,0.3%,…,9.9%,10%,15%,…,90%)",
      parseFractionList,
    )
    .addOption(
      new Option(
        "--tune <which>",
        "tune λ1, λ2 on dev for the oracle only (others reuse its λs) or for every probe",
      )
        .choices(["oracle", "all"])
        .default("oracle"),
    )
    .option("--lambda1 <x>", "fixed L1 weight for every probe (no tuning)", parseFloatOption("lambda1"))
    .option("--lambda2 <x>", "fixed L2 weight for every probe (no tuning)", parseFloatOption("lambda2"))
    .addOption(
      new Option("--representative <rule>", "cluster representative")
        .choices(["random", "medoid"])
        .default("random"),
    )
    .addOption(
      new Option(
        "--curves <how>",
        "searches stop at the minimal set and incremental probes at LayerSelector's layers, or evaluate every size and prefix (for plots)",
      )
        .choices(["until-target", "all"])
        .default("until-target"),
    )
    .option(
      "--warm-starts",
      "minimal-set searches start each size's probe from the previous size's (fewer iterations on wide stores; slightly different early-stopped probes, marked in the results)",
    )
    .option("--stride <n>", "LCA ordering steps of weight mass (NeuroX: 1000)", parseIntOption("stride", 1))
    .option(
      "--patience <n>",
      "early stopping: iterations without dev-loss improvement",
      parseIntOption("patience"),
    )
    .option("--max-iter <n>", "iterations per fit at most", parseIntOption("max-iter", 1))
    .option(
      "--max-memory <GiB>",
      "memory the run may use (default 85% of this machine's); a run estimated above it is refused before it starts",
      parseFloatOption("max-memory"),
    )
    .option(
      "--plan",
      "print the estimated memory and time of each step for this store and task, without running anything (docs/cost-model.md)",
    )
    .option("--json", "print the whole results as JSON on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(async (o: RedundancyCli, cmd: Command) => {
        const {
          store,
          storeB,
          task,
          site,
          sites: choice,
          layers,
          maxMemory,
          plan,
          out,
          steps,
          json,
          quiet,
          ...settings
        } = o;
        if (maxMemory !== undefined && !(maxMemory > 0))
          throw new UserError("--max-memory must be a positive number of GiB");
        if (quiet) process.env.CODENEURONS_QUIET = "1";
        if (choice && cmd.getOptionValueSource("site") === "cli" && choice !== site)
          throw new UserError(`--site ${site} and --sites ${choice} disagree: give one of them`);
        const sites = sitesOf(choice ?? site);
        const stepList = steps ? parseSteps(steps.split(",")) : undefined;
        const maxMemoryBytes = maxMemory !== undefined ? maxMemory * 1024 ** 3 : undefined;
        if (plan) {
          for (const s of sites) {
            const p = await planRedundancyPipeline(
              { store, storeB, task, layers, site: s },
              { steps: stepList, settings, maxMemoryBytes },
            );
            if (json) printJson(p);
            else process.stdout.write(`${formatPlan(p)}\n`);
          }
          return;
        }
        if (!out) throw new UserError("--out <dir> is required (unless --plan)");
        const runs = await runRedundancyForSites({ store, storeB, task, layers }, sites, {
          out,
          steps: stepList,
          settings,
          quiet,
          maxMemoryBytes,
        });
        if (json) {
          printJson(
            sites.length > 1
              ? Object.fromEntries(runs.map((r) => [r.site, r.run.results]))
              : runs[0].run.results,
          );
          return;
        }
        for (const { site: s, out: dir, run } of runs) {
          const { results, record } = run;
          const heading = sites.length > 1 ? `── ${siteTitle(s)} (site ${s})\n` : "";
          process.stdout.write(
            `${heading}${formatSummary(results, record)}\n  wrote ${join(dir, "redundancy.json")}${results.steps.cka ? `, ${join(dir, "cka.json")}` : ""}\n`,
          );
        }
      }),
    );
};

function duration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The plan as a table: each step's memory and time (estimate and range), the peak against the bound, the total. */
export function formatPlan(p: PipelinePlan): string {
  const s = p.shape;
  const time = (x: { seconds: number; fromSeconds?: number; toSeconds?: number }) => {
    const [from, to] = [duration(x.fromSeconds ?? x.seconds), duration(x.toSeconds ?? x.seconds)];
    return from === to ? duration(x.seconds) : `${duration(x.seconds)} (${from} – ${to})`;
  };
  const has = (step: StepName) => p.steps.some((x) => x.step === step && x.fromSeconds !== undefined);
  const lines = [
    `plan: ${s.neurons} ${p.input.site} neurons (${s.layers} layers × ${s.width}${s.sides > 1 ? " × 2 sides" : ""}), ${s.rows.train}/${s.rows.valid}/${s.rows.test} rows, ${s.classes} classes; clustering: ${p.clustering}`,
    `  ${"step".padEnd(12)} ${"memory".padStart(10)}   time: estimate (range)`,
    ...p.steps.map((x) => `  ${x.step.padEnd(12)} ${fmtGiB(x.bytes).padStart(10)}   ${time(x)}`),
    `  ${"total".padEnd(12)} ${fmtGiB(p.peakBytes).padStart(10)}   ${time(p)}`,
    `  memory: the peak against the bound of ${fmtGiB(p.boundBytes)}: ${p.peakBytes <= p.boundBytes ? "fits" : "over the bound: --layers, or --max-memory on a larger machine"}`,
    ...(p.steps.some((x) => x.fromSeconds !== undefined)
      ? [
          "  a step with a range does as much work as the data asks: the minimal-set searches (lslca, lca, probeless,",
          "  random) stop at the first size that reaches their target, incremental at the first prefix of layers",
          "  LayerSelector keeps (--curves all: every prefix), ccfs and lslca cluster and fit the layers it keeps",
          ...(has("cc")
            ? [
                "  and cc does nothing when it keeps every layer (it reuses the clustering and probes of ccfs);",
              ]
            : []),
          "  the estimate is where the bench runs' steps were, the range the least and most they did",
        ]
      : []),
    "  nothing was run. Memory is computed from the shape (within 2% of measured peaks from 8,192 neurons up); times come",
    "  from a cost model fitted on a 2-core machine (docs/cost-model.md), a guide: how far measured runs were from it is there",
  ];
  return lines.join("\n");
}
