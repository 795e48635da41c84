import { join } from "node:path";
import type { Command } from "commander";
import { type ConceptsStageOptions, runConcepts } from "../concepts/stage.js";
import { conceptsSummary, formatConceptsSummary } from "../concepts/summary.js";
import { action, printJson, siteOption } from "./common.js";
import { parseFloatOption, parseFraction, parseIntList, parseIntOption, parseSplits } from "./options.js";

export function register(program: Command): void {
  program
    .command("concepts")
    .description(
      "Concept analysis: top neurons per class (LCA), each neuron's top words and class means, concept neurons (number, string, keyword … neurons found by a purity test), and code-line heatmaps.",
    )
    .requiredOption("--store <dir>", "activation store (from `codeneurons extract`)")
    .requiredOption("--probe <file>", "probe JSON (from `codeneurons probe`): classes and weights")
    .addOption(siteOption())
    .option("--task <dir>", "token-tagging task dir ({train,valid,test}.tsv): the rows and labels to analyse")
    .option(
      "--splits <list>",
      "task splits to analyse, e.g. train or train,valid: their .in lines must be the store's lines (default: train)",
      parseSplits,
    )
    .requiredOption("--out <dir>", "output directory (writes concepts.json)")
    .option(
      "--percentage <p>",
      "LCA weight mass per class, in (0, 1]",
      parseFraction("percentage", false),
      0.05,
    )
    .option("--top-words <k>", "top words reported per neuron", parseIntOption("top-words", 1), 10)
    .option(
      "--concept-top-k <k>",
      "word types tested per neuron for concept purity",
      parseIntOption("concept-top-k", 1),
      20,
    )
    .option(
      "--min-purity <p>",
      "share of the top word types a concept must hold",
      parseFloatOption("min-purity"),
      0.75,
    )
    .option("--alpha <a>", "significance after Bonferroni correction", parseFraction("alpha", false), 0.01)
    .option("--min-count <n>", "ignore word types seen fewer times", parseIntOption("min-count", 1), 1)
    .option(
      "--heatmap-neurons <n>",
      "top neurons per class in the heatmaps",
      parseIntOption("heatmap-neurons", 1),
      5,
    )
    .option(
      "--heatmap-lines <n>",
      "code lines per class in the heatmaps",
      parseIntOption("heatmap-lines", 1),
      4,
    )
    .option(
      "--lines <list>",
      "show these input lines (0-based, e.g. 3,10-12) in every heatmap",
      parseIntList("lines"),
    )
    .option("--concepts <file>", 'extra word-list concepts as JSON: {"loops": ["for", "while", "do"], …}')
    .option(
      "--max-rows <n>",
      "without --task: analyse at most this many store rows",
      parseIntOption("max-rows", 1),
      100000,
    )
    .option("--json", "print a summary as JSON on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(async (opts: ConceptsStageOptions & { json?: boolean }) => {
        const { result } = await runConcepts(opts);
        const summary = conceptsSummary(result, join(opts.out, "concepts.json"));
        if (opts.json) printJson(summary);
        else process.stdout.write(`${formatConceptsSummary(summary)}\n`);
      }),
    );
}
