import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { parseSteps, runRedundancyPipeline } from "../redundancy/pipeline/pipeline.js";
import type { PipelineSettings } from "../redundancy/pipeline/results.js";
import { formatSummary } from "../redundancy/pipeline/summary.js";
import type { Site } from "../store/format.js";
import { action, parseFloatOption, parseIntOption, printJson, type Register, siteOption } from "./common.js";

/** "0.1,0.2" or "0.5%,1%" → fractions. */
export function parseFractionList(value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(",").map((s) => s.trim())) {
    if (part === "") continue;
    const percent = part.endsWith("%");
    const n = Number(percent ? part.slice(0, -1) : part);
    if (part === "%" || !Number.isFinite(n)) throw new InvalidArgumentError(`'${part}' is not a number`);
    out.push(percent ? n / 100 : n);
  }
  if (out.length === 0) throw new InvalidArgumentError("expected a comma-separated list of numbers");
  return out;
}

interface RedundancyCli {
  store: string;
  storeB?: string;
  task: string;
  site: Site;
  out: string;
  steps?: string;
  seed: number;
  deltas?: number[];
  neuronDelta?: number;
  thresholds?: number[];
  percentages?: number[];
  finePercentages?: number[];
  tune: "oracle" | "all";
  lambda1?: number;
  lambda2?: number;
  representative: "random" | "medoid";
  curves: "until-target" | "all";
  stride?: number;
  patience?: number;
  maxIter?: number;
  json?: boolean;
  quiet?: boolean;
}

/** The settings given on the command line; those left out keep the pipeline's defaults. */
function settingsOf(o: RedundancyCli): Partial<PipelineSettings> {
  return {
    seed: o.seed,
    tune: o.tune,
    representative: o.representative,
    curves: o.curves,
    deltas: o.deltas,
    neuronDelta: o.neuronDelta,
    thresholds: o.thresholds,
    percentages: o.percentages,
    finePercentages: o.finePercentages,
    lambda1: o.lambda1,
    lambda2: o.lambda2,
    stride: o.stride,
    patience: o.patience,
    maxIter: o.maxIter,
  };
}

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
    .requiredOption("--out <dir>", "output directory")
    .addOption(siteOption())
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
      new Option("--curves <how>", "searches stop at the minimal set, or evaluate every size (for plots)")
        .choices(["until-target", "all"])
        .default("until-target"),
    )
    .option("--stride <n>", "LCA ordering steps of weight mass (NeuroX: 1000)", parseIntOption("stride", 1))
    .option(
      "--patience <n>",
      "early stopping: iterations without dev-loss improvement",
      parseIntOption("patience"),
    )
    .option("--max-iter <n>", "iterations per fit at most", parseIntOption("max-iter", 1))
    .option("--json", "print the whole results as JSON on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(async (o: RedundancyCli) => {
        if (o.quiet) process.env.CODENEURONS_QUIET = "1";
        const results = await runRedundancyPipeline(
          { store: o.store, storeB: o.storeB, task: o.task, site: o.site },
          {
            out: o.out,
            steps: o.steps ? parseSteps(o.steps.split(",")) : undefined,
            settings: settingsOf(o),
            quiet: o.quiet,
          },
        );
        if (o.json) printJson(results);
        else
          process.stdout.write(
            `${formatSummary(results)}\n  wrote ${join(o.out, "redundancy.json")}${results.steps.cka ? `, ${join(o.out, "cka.json")}` : ""}\n`,
          );
      }),
    );
};
