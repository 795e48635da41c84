import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { ConceptsResult } from "../concepts/result.js";
import { type ConceptsRunOptions, runConcepts } from "../concepts/run.js";
import { isSplitName, SPLITS, type SplitName } from "../data/splits.js";
import { action, parseFloatOption, parseIntList, parseIntOption, printJson, siteOption } from "./common.js";

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
      (v: string) => parseSplits(v),
    )
    .requiredOption("--out <dir>", "output directory (writes concepts.json)")
    .option("--percentage <p>", "LCA weight mass per class, in (0, 1]", fraction("percentage", false), 0.05)
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
    .option("--alpha <a>", "significance after Bonferroni correction", fraction("alpha", false), 0.01)
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
      action(async (opts: ConceptsRunOptions & { json?: boolean }) => {
        const result = await runConcepts(opts);
        const summary = summaryOf(result, join(opts.out, "concepts.json"));
        if (opts.json) printJson(summary);
        else printSummary(summary);
      }),
    );
}

interface ConceptsSummary {
  file: string;
  site: ConceptsResult["site"];
  rows: number;
  neurons: number;
  topNeurons: number;
  perClass: Record<string, number>;
  conceptNeurons: Record<string, number>;
  examples: { concept: string; neuron: string; purity: number; words: string[] }[];
}

function summaryOf(r: ConceptsResult, file: string): ConceptsSummary {
  const firsts = new Map<string, ConceptsResult["conceptNeurons"][number]>();
  for (const m of r.conceptNeurons) if (!firsts.has(m.concept)) firsts.set(m.concept, m);
  return {
    file,
    site: r.site,
    rows: r.corpus.rows,
    neurons: r.stats.neurons.length,
    topNeurons: r.topNeurons.overall.length,
    perClass: Object.fromEntries(Object.entries(r.topNeurons.perClass).map(([c, ids]) => [c, ids.length])),
    conceptNeurons: Object.fromEntries(r.concepts.map((c) => [c.concept, c.count])),
    examples: [...firsts.values()].map((m) => ({
      concept: m.concept,
      neuron: m.name,
      purity: m.purity,
      words: m.words.slice(0, 8),
    })),
  };
}

function printSummary(s: ConceptsSummary): void {
  const out: string[] = [
    `wrote ${s.file}`,
    `${s.rows} rows, ${s.neurons} ${s.site === "hidden" ? "" : `${s.site} `}neurons; ${s.topNeurons} top neurons (${Object.entries(
      s.perClass,
    )
      .map(([c, n]) => `${c} ${n}`)
      .join(", ")})`,
    `concept neurons: ${Object.entries(s.conceptNeurons)
      .map(([c, n]) => `${c} ${n}`)
      .join(", ")}`,
  ];
  for (const e of s.examples) {
    out.push(
      `  ${e.concept.padEnd(12)} ${e.neuron.padEnd(s.site === "hidden" ? 9 : 13)} purity ${e.purity.toFixed(2)}  ${e.words.join(" ")}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

function parseSplits(value: string): SplitName[] {
  const splits = value.split(",").map((s) => s.trim());
  for (const s of splits) {
    if (!isSplitName(s)) throw new InvalidArgumentError(`--splits: '${s}' is not ${SPLITS.join(", ")}`);
  }
  return splits as SplitName[];
}

/**
 * A number in (0, 1], or [0, 1] when zero makes sense. Option parsers throw commander's
 * InvalidArgumentError, which commander turns into a usage message and exit code 2.
 */
function fraction(name: string, zeroOk: boolean): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (value.trim() === "" || !Number.isFinite(x) || x > 1 || x < 0 || (x === 0 && !zeroOk)) {
      throw new InvalidArgumentError(
        `--${name}: expected a number in ${zeroOk ? "[0" : "(0"}, 1], got '${value}'`,
      );
    }
    return x;
  };
}
