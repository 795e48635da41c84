import type { Command } from "commander";
import { type ExtractOptions, extractActivations } from "../extract/extract.js";
import { openActivationModel } from "../extract/model.js";
import { formatProfile } from "../extract/profile.js";
import type { SentenceRepresentation } from "../store/format.js";
import { formatSeconds, log } from "../util/progress.js";
import { action, printJson } from "./common.js";
import { choiceOption, parseIntList, parseIntOption } from "./options.js";
import { parsePart, parseSites, readLineList } from "./store-options.js";

/** The flags: ExtractOptions where they are the same, and what the command resolves itself. */
type ExtractCli = Omit<ExtractOptions, Resolved | "level"> & {
  model: string;
  level: "word" | "sentence";
  sentenceRepr?: SentenceRepresentation;
  includeSpecial?: boolean;
  sites?: string;
  ffn?: boolean;
  weights: "auto" | "resident" | "stream";
  shard?: string;
  lines?: string;
  revision?: string;
  json?: boolean;
  profile?: boolean;
};
type Resolved = "sentenceRepresentation" | "includeSpecialTokens" | "sites" | "part" | "onlyLines" | "quiet";

export function registerExtract(program: Command): void {
  program
    .command("extract")
    .description("Extract word-level (or sentence-level) activations of every neuron of a model into a store")
    .requiredOption(
      "--model <dir-or-id>",
      "Hugging Face model directory or hub id (e.g. microsoft/codebert-base)",
    )
    .requiredOption("--input <file>", "sentences, one per line, words separated by whitespace")
    .requiredOption("--out <dir>", "store directory to write (resumes an interrupted run)")
    .option("--labels <file>", "parallel label file (one label per word)")
    .option(
      "--layers <list>",
      "hidden-state layers to keep, e.g. 0,4-6 (0 = embeddings; default all)",
      parseIntList("layers"),
    )
    .addOption(choiceOption("--level <level>", "word or sentence vectors", ["word", "sentence"], "word"))
    .addOption(
      choiceOption("--aggregation <how>", "subwords → word", ["first", "last", "average"], "average"),
    )
    .addOption(
      choiceOption(
        "--sentence-repr <how>",
        "sentence vector: first (special token), last (token) or mean (of words); default first for encoders, last for decoders",
        ["first", "last", "mean"],
      ),
    )
    .option("--include-special", "keep special tokens ([CLS], [SEP], <s>, </s>) as words")
    .addOption(choiceOption("--dtype <dtype>", "storage", ["float32", "float16"], "float32"))
    .option(
      "--sites <list>",
      "neuron sites to keep: hidden (residual stream after each layer, L12:17) and/or mlp (each block's MLP neurons, the input of its down projection, L12.mlp:3071); default hidden",
    )
    .option("--ffn", "same as --sites hidden,mlp (older name)")
    .addOption(
      choiceOption(
        "--weights <how>",
        "LLM families: resident (all blocks in memory), stream (one block at a time, for models larger than memory) or auto",
        ["auto", "resident", "stream"],
        "auto",
      ),
    )
    .option(
      "--shard <K/N>",
      "compute only part K of N (0-based) of the store, for array jobs; join with 'merge'",
    )
    .option("--batch-tokens <n>", "padded tokens per forward batch", parseIntOption("batch-tokens", 1), 1024)
    .option(
      "--shard-bytes <n>",
      "target size of one shard file in bytes (default 64 MiB)",
      parseIntOption("shard-bytes", 1),
    )
    .option(
      "--group-bytes <n>",
      "stored bytes of consecutive shards computed together (default 512 MiB): more sentences to batch by length, more memory",
      parseIntOption("group-bytes", 1),
    )
    .option(
      "--max-tokens <n>",
      "lower the model's sequence limit (longer sentences are windowed)",
      parseIntOption("max-tokens", 4),
    )
    .option(
      "--lines <list>",
      "extract only these 0-based input lines, e.g. 0-99,200, or @FILE holding such a list (use a file for long lists)",
    )
    .option("--revision <rev>", "hub revision (branch, tag or commit)")
    .option("--overwrite", "replace a store made with other settings at --out")
    .option("--verify-resume", "re-hash finished shards when resuming")
    .option("--json", "print the result (counts, timings) as JSON")
    .option(
      "--profile",
      "print where the time went (tokenizing, onnxruntime's run, reading outputs back, aggregation, store writes) and the padding",
    )
    .action(action(runExtract));
}

async function runExtract(o: ExtractCli): Promise<void> {
  const sites = parseSites(o.sites, o.ffn);
  const model = await openActivationModel(o.model, {
    layers: o.layers,
    sites,
    revision: o.revision,
    weights: o.weights,
  });
  // The other flags are ExtractOptions by name (extraction ignores the ones it does not know).
  const { sentenceRepr, includeSpecial, shard, lines, ...flags } = o;
  try {
    const result = await extractActivations(model, {
      ...flags,
      sentenceRepresentation: sentenceRepr,
      includeSpecialTokens: includeSpecial,
      sites,
      part: parsePart(shard),
      onlyLines: lines ? new Set(await readLineList(lines)) : undefined,
    });
    if (o.json) printJson(result);
    else {
      const c = result.counts;
      log(
        `${result.status === "resume" ? "resumed: " : ""}${c.rows} ${o.level === "word" ? "words" : "sentences"} from ${c.sentences} sentences ` +
          `(${c.emptyLines} empty/skipped lines, ${c.windowedSentences} windowed, ${c.truncatedWords} truncated words; ` +
          `${result.shardsComputed} shards computed, ${result.shardsReused} reused) in ${formatSeconds(result.seconds)} → ${result.out}`,
      );
    }
    // On stderr, so that --json output stays one document (with --json it is also in the result).
    if (result.profile) process.stderr.write(`${formatProfile(result.profile)}\n`);
    // On stderr even with --json or CODENEURONS_QUIET: a store of unknown words must not pass unnoticed.
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  } finally {
    await model.release();
  }
}
