import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { extractActivations } from "../extract/extract.js";
import { openActivationModel } from "../extract/model.js";
import { type Aggregation, type SentenceRepresentation, SITES, type Site } from "../store/format.js";
import { InputError, UserError } from "../util/errors.js";
import { formatSeconds, log } from "../util/progress.js";
import { action, parseIntList, parseIntOption, printJson } from "./common.js";
import { parseDType } from "./store-commands.js";

interface ExtractCli {
  model: string;
  input: string;
  labels?: string;
  out: string;
  layers?: number[];
  level: string;
  aggregation: string;
  sentenceRepr?: string;
  includeSpecial?: boolean;
  dtype: string;
  sites?: string;
  ffn?: boolean;
  weights: string;
  shard?: string;
  batchTokens: number;
  shardBytes?: number;
  groupBytes?: number;
  maxTokens?: number;
  lines?: string;
  revision?: string;
  overwrite?: boolean;
  verifyResume?: boolean;
  json?: boolean;
}

/**
 * `--lines`: a list like 0-99,200, or @FILE with such a list (commas, spaces or newlines). Long lists
 * belong in a file: onnxruntime's native code crashed (SIGSEGV) here when the process had a single
 * 60 KB command-line argument.
 */
async function readLineList(spec: string): Promise<number[]> {
  if (!spec.startsWith("@")) return parseIntList("lines")(spec);
  const file = spec.slice(1);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const list = text
    .split(/[\s,]+/)
    .filter(Boolean)
    .join(",");
  try {
    return list === "" ? [] : parseIntList("lines")(list);
  } catch (e) {
    throw new InputError(file, `not a list of line numbers and ranges (${(e as Error).message})`);
  }
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UserError(`--${name}: one of ${allowed.join(", ")}; got '${value}'`);
  return value as T;
}

/** `--sites hidden,mlp`; `--ffn` is the older spelling of adding the MLP site. */
export function parseSites(spec: string | undefined, ffn?: boolean): Site[] {
  const names = (spec ?? "hidden").split(",").map((s) => s.trim());
  const sites = names.map((n) => oneOf("sites", n, SITES));
  if (ffn && !sites.includes("mlp")) sites.push("mlp");
  return SITES.filter((s) => sites.includes(s));
}

function parsePart(spec: string | undefined): { index: number; count: number } | undefined {
  if (spec === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  if (!m) throw new UserError(`--shard: expected K/N (e.g. 0/8), got '${spec}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new UserError(`--shard: need 0 <= K < N, got ${spec}`);
  return { index, count };
}

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
    .option("--level <level>", "word | sentence", "word")
    .option("--aggregation <how>", "subwords → word: first | last | average", "average")
    .option(
      "--sentence-repr <how>",
      "sentence vector: first (special token) | last (token) | mean (of words); default first for encoders, last for decoders",
    )
    .option("--include-special", "keep special tokens ([CLS], [SEP], <s>, </s>) as words")
    .option("--dtype <dtype>", "storage: float32 | float16", "float32")
    .option(
      "--sites <list>",
      "neuron sites to keep: hidden (residual stream after each layer, L12:17) and/or mlp (each block's MLP neurons, the input of its down projection, L12.mlp:3071); default hidden",
    )
    .option("--ffn", "same as --sites hidden,mlp (older name)")
    .option(
      "--weights <how>",
      "LLM families: resident (all blocks in memory) | stream (one block at a time, for models larger than memory) | auto",
      "auto",
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
    .action(action(runExtract));
}

async function runExtract(o: ExtractCli): Promise<void> {
  const level = oneOf("level", o.level, ["word", "sentence"] as const);
  const aggregation = oneOf<Aggregation>("aggregation", o.aggregation, ["first", "last", "average"]);
  const sentenceRepresentation =
    o.sentenceRepr === undefined
      ? undefined
      : oneOf<SentenceRepresentation>("sentence-repr", o.sentenceRepr, ["first", "last", "mean"]);
  const dtype = parseDType(o.dtype);
  const part = parsePart(o.shard);
  const sites = parseSites(o.sites, o.ffn);
  const weights = oneOf("weights", o.weights, ["auto", "resident", "stream"] as const);
  const model = await openActivationModel(o.model, {
    layers: o.layers,
    sites,
    revision: o.revision,
    weights,
  });
  try {
    const result = await extractActivations(model, {
      input: o.input,
      labels: o.labels,
      out: o.out,
      layers: o.layers,
      level,
      aggregation,
      sentenceRepresentation,
      includeSpecialTokens: o.includeSpecial,
      dtype,
      sites,
      part,
      batchTokens: o.batchTokens,
      shardBytes: o.shardBytes,
      groupBytes: o.groupBytes,
      maxTokens: o.maxTokens,
      onlyLines: o.lines ? new Set(await readLineList(o.lines)) : undefined,
      overwrite: o.overwrite,
      verifyResume: o.verifyResume,
    });
    if (o.json) printJson(result);
    else {
      const c = result.counts;
      log(
        `${result.status === "resume" ? "resumed: " : ""}${c.rows} ${level === "word" ? "words" : "sentences"} from ${c.sentences} sentences ` +
          `(${c.emptyLines} empty/skipped lines, ${c.windowedSentences} windowed, ${c.truncatedWords} truncated words; ` +
          `${result.shardsComputed} shards computed, ${result.shardsReused} reused) in ${formatSeconds(result.seconds)} → ${result.out}`,
      );
    }
    // On stderr even with --json or CODENEURONS_QUIET: a store of unknown words must not pass unnoticed.
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  } finally {
    await model.release();
  }
}
