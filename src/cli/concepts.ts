import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { analyzeConcepts } from "../concepts/analyze.js";
import type { ConceptsResult } from "../concepts/result.js";
import type { ActivationSource, CorpusRows, ProbeWeights } from "../concepts/types.js";
import { decodeToken } from "../data/escape.js";
import { readTaskSplit } from "../data/task/tsv.js";
import { JsonChecker, parseJsonText } from "../report/check.js";
import { ActivationStore } from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { neuronIdsOfLayers } from "../util/neurons.js";
import { action, parseFloatOption, parseIntList, parseIntOption, printJson } from "./common.js";

export interface ConceptsCommandOptions {
  store: string;
  probe: string;
  task?: string;
  /** Task splits whose rows to analyse; the store must hold their lines. */
  splits?: string[];
  out: string;
  percentage?: number;
  topWords?: number;
  conceptTopK?: number;
  minPurity?: number;
  alpha?: number;
  minCount?: number;
  heatmapNeurons?: number;
  heatmapLines?: number;
  lines?: number[];
  concepts?: string;
  maxRows?: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("concepts")
    .description(
      "Concept analysis: top neurons per class (LCA), each neuron's top words and class means, concept neurons (number, string, keyword … neurons found by a purity test), and code-line heatmaps.",
    )
    .requiredOption("--store <dir>", "activation store (from `codeneurons extract`)")
    .requiredOption("--probe <file>", "probe JSON (from `codeneurons probe`): classes and weights")
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
      action(async (opts: ConceptsCommandOptions & { json?: boolean }) => {
        const result = await runConcepts(opts);
        const summary = summaryOf(result, join(opts.out, "concepts.json"));
        if (opts.json) printJson(summary);
        else printSummary(summary);
      }),
    );
}

/** Runs the analysis and writes `out`/concepts.json atomically; returns what it wrote. */
export async function runConcepts(opts: ConceptsCommandOptions): Promise<ConceptsResult> {
  const store = await ActivationStore.open(opts.store);
  try {
    if (store.meta.level !== "word")
      throw new InputError(opts.store, "concept analysis needs a word-level store");
    const probe = await readProbeWeights(opts.probe, store.meta.hidden, store.meta.layers);
    const rows = opts.task
      ? await taskRows(opts.task, store, probe.classes, opts.splits ?? ["train"])
      : storeRows(store, probe.classes, opts.maxRows ?? 100000);
    if (rows.words.length === 0) throw new UserError("no rows to analyse (empty task or store)");
    const source = storeSource(store, rows);
    const result = await analyzeConcepts(source, probe, {
      percentage: opts.percentage,
      topWords: opts.topWords,
      conceptTopK: opts.conceptTopK,
      minPurity: opts.minPurity,
      alpha: opts.alpha,
      minCount: opts.minCount,
      heatmapNeurons: opts.heatmapNeurons,
      heatmapLines: opts.heatmapLines,
      lines: opts.lines ? checkLines(opts.lines, store) : undefined,
      wordLists: opts.concepts ? await readWordLists(opts.concepts) : undefined,
      // One layer per block: the store reads a layer of a shard at a time.
      blockSize: store.meta.hidden,
      quiet: opts.quiet,
    });
    await writeJsonAtomic(join(opts.out, "concepts.json"), result);
    return result;
  } finally {
    store.close();
  }
}

function checkLines(lines: number[], store: ActivationStore): number[] {
  for (const l of lines) {
    if (l >= store.numLines)
      throw new UserError(`--lines: line ${l} is past the store's last line (${store.numLines - 1})`);
  }
  return lines;
}

/** An ActivationSource over a store and a chosen set of its rows. */
export function storeSource(
  store: ActivationStore,
  rows: CorpusRows & { storeRows: Int32Array },
): ActivationSource {
  const layers = store.meta.layers;
  return {
    hidden: store.meta.hidden,
    neurons: neuronIdsOfLayers(layers, store.meta.hidden),
    rows,
    readBlock: (neurons) => store.readRows(rows.storeRows, { neurons }),
    readLine: async (sentence, neurons) => {
      const words = store.words(sentence);
      const lineRows = words.map((_, i) => store.row(sentence, i));
      return { words, activations: await store.readRows(lineRows, { neurons }) };
    },
  };
}

/**
 * The probe file, read for its weights only. Accepted: `{classes, weights, neurons?, layers?}` at the top
 * level or under `probe`, with `weights` either classes × neurons (PyTorch's Linear layout) or
 * neurons × classes. Neuron ids default to all neurons of `layers` (or of the store's layers).
 */
export async function readProbeWeights(
  file: string,
  hidden: number,
  storeLayers: number[],
): Promise<ProbeWeights> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  return parseProbeWeights(parseJsonText(text, file), file, hidden, storeLayers);
}

export function parseProbeWeights(
  value: unknown,
  file: string,
  hidden: number,
  storeLayers: number[],
): ProbeWeights {
  const c = new JsonChecker(file);
  let o = c.object(value, "");
  let path = "";
  if (o.weights === undefined && o.probe !== undefined) {
    o = c.object(o.probe, "probe");
    path = "probe.";
  }
  const classes = c.strings(o.classes, `${path}classes`);
  if (classes.length < 2) c.fail(`${path}classes`, "a probe needs at least two classes");
  const rows = c.array(o.weights, `${path}weights`).map((r, i) => c.numbers(r, `${path}weights[${i}]`));
  const neurons =
    o.neurons !== undefined
      ? c.integers(o.neurons, `${path}neurons`)
      : neuronIdsOfLayers(
          o.layers !== undefined ? c.integers(o.layers, `${path}layers`) : storeLayers,
          hidden,
        );
  const classMajor = rows.length === classes.length && rows.every((r) => r.length === neurons.length);
  const neuronMajor = rows.length === neurons.length && rows.every((r) => r.length === classes.length);
  if (!classMajor && !neuronMajor) {
    c.fail(
      `${path}weights`,
      `expected ${classes.length} × ${neurons.length} (classes × neurons) or ${neurons.length} × ${classes.length}, got ${rows.length} rows`,
    );
  }
  const weights = new Float32Array(neurons.length * classes.length);
  for (let n = 0; n < neurons.length; n++) {
    for (let k = 0; k < classes.length; k++)
      weights[n * classes.length + k] = classMajor ? rows[k][n] : rows[n][k];
  }
  return { weights, classes, neurons, hidden };
}

/**
 * Rows of a token-tagging task, checked against the store: a task row names a line of its split's
 * `.in` file and a word of it, so the store must hold that split's lines (extract each split into its
 * own store, and pass the matching --splits). A row whose token is not the store's word there is an
 * InputError naming the task file and line.
 */
export async function taskRows(
  dir: string,
  store: ActivationStore,
  classes: readonly string[],
  splits: readonly string[] = ["train"],
): Promise<CorpusRows & { storeRows: Int32Array }> {
  const out = {
    words: [] as string[],
    sentence: [] as number[],
    position: [] as number[],
    labels: [] as number[],
    storeRows: [] as number[],
  };
  const seen = new Set<number>();
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  for (const split of splits) {
    const file = join(dir, `${split}.tsv`);
    if (!existsSync(file))
      throw new InputError(file, "not found: is --task a task directory, and --splits right?");
    const rows = await readTaskSplit(file);
    for (let i = 0; i < rows.token.length; i++) {
      const row = storeRowOf(store, file, i + 2, rows.sentence[i], rows.word[i], rows.token[i]);
      if (seen.has(row)) continue;
      seen.add(row);
      out.words.push(rows.token[i]);
      out.sentence.push(rows.sentence[i]);
      out.position.push(rows.word[i]);
      out.labels.push(classIndex.get(rows.label[i]) ?? -1);
      out.storeRows.push(row);
    }
  }
  return {
    words: out.words,
    sentence: Int32Array.from(out.sentence),
    position: Int32Array.from(out.position),
    labels: Int32Array.from(out.labels),
    classes,
    storeRows: Int32Array.from(out.storeRows),
  };
}

/** The store row of a task row; the store keeps words as written in the `.in` file (escaped). */
function storeRowOf(
  store: ActivationStore,
  file: string,
  line: number,
  sentence: number,
  word: number,
  token: string,
): number {
  if (sentence >= store.numLines) {
    throw new InputError(
      file,
      `line ${sentence} is past the store's last line (${store.numLines - 1}): is this the store of this split?`,
      { line, field: "sentence" },
    );
  }
  const words = store.words(sentence);
  if (word >= words.length) {
    throw new InputError(
      file,
      `word ${word} is past the end of line ${sentence} (${words.length} words) in the store`,
      { line, field: "word" },
    );
  }
  if (words[word] !== token && decodeToken(words[word]) !== token) {
    throw new InputError(
      file,
      `token '${token}' but the store has '${words[word]}' there: is this the store of this split?`,
      { line, field: "token" },
    );
  }
  return store.row(sentence, word);
}

/** Without a task: the store's first rows, labelled from the store's label file when it has one. */
function storeRows(
  store: ActivationStore,
  classes: readonly string[],
  maxRows: number,
): CorpusRows & { storeRows: Int32Array } {
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const words: string[] = [];
  const sentence: number[] = [];
  const position: number[] = [];
  const labels: number[] = [];
  for (let s = 0; s < store.numLines && words.length < maxRows; s++) {
    const ws = store.words(s);
    const ls = store.labels(s);
    for (let i = 0; i < ws.length && words.length < maxRows; i++) {
      words.push(ws[i]);
      sentence.push(s);
      position.push(i);
      labels.push(ls ? (classIndex.get(ls[i]) ?? -1) : -1);
    }
  }
  const rows = Int32Array.from(sentence, (s, i) => store.row(s, position[i]));
  return {
    words,
    sentence: Int32Array.from(sentence),
    position: Int32Array.from(position),
    labels: Int32Array.from(labels),
    classes,
    storeRows: rows,
  };
}

async function readWordLists(file: string): Promise<Record<string, string[]>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  const c = new JsonChecker(file);
  const o = c.object(parseJsonText(text, file), "");
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, c.strings(v, k)]));
}

interface ConceptsSummary {
  file: string;
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
    `${s.rows} rows, ${s.neurons} neurons; ${s.topNeurons} top neurons (${Object.entries(s.perClass)
      .map(([c, n]) => `${c} ${n}`)
      .join(", ")})`,
    `concept neurons: ${Object.entries(s.conceptNeurons)
      .map(([c, n]) => `${c} ${n}`)
      .join(", ")}`,
  ];
  for (const e of s.examples) {
    out.push(
      `  ${e.concept.padEnd(12)} ${e.neuron.padEnd(9)} purity ${e.purity.toFixed(2)}  ${e.words.join(" ")}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

function parseSplits(value: string): string[] {
  const splits = value.split(",").map((s) => s.trim());
  for (const s of splits) {
    if (!["train", "valid", "test"].includes(s))
      throw new InvalidArgumentError(`--splits: '${s}' is not train, valid or test`);
  }
  return splits;
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
