import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeToken } from "../data/escape.js";
import type { SplitName } from "../data/splits.js";
import { readTaskSplit } from "../data/task/tsv.js";
import { ActivationStore, type Site } from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { JsonChecker, parseJsonText } from "../util/json.js";
import {
  checkSite,
  type NeuronSpace,
  neuronIdsOfLayers,
  neuronSpace,
  recordedSite,
  type SpaceLike,
  siteLayers,
  spaceOf,
} from "../util/neurons.js";
import { analyzeConcepts } from "./analyze.js";
import type { ConceptsResult } from "./result.js";
import type { ActivationSource, CorpusRows, ProbeWeights } from "./types.js";

/**
 * `codeneurons concepts` over an activation store: reads the probe's weights and the task's rows,
 * analyses the neurons of one site and writes concepts.json. The CLI fills ConceptsRunOptions from its
 * flags and prints a summary.
 */
/** What `codeneurons concepts` does; the CLI fills it from its flags. */
export interface ConceptsRunOptions {
  store: string;
  probe: string;
  /** The neuron site to analyse (default hidden); the probe must have been trained on it. */
  site?: Site;
  task?: string;
  /** Task splits whose rows to analyse; the store must hold their lines. */
  splits?: SplitName[];
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

/** Runs the analysis and writes `out`/concepts.json atomically; returns what it wrote. */
export async function runConcepts(opts: ConceptsRunOptions): Promise<ConceptsResult> {
  const store = await ActivationStore.open(opts.store);
  try {
    if (store.meta.level !== "word")
      throw new InputError(opts.store, "concept analysis needs a word-level store");
    const site = opts.site ?? "hidden";
    const space = neuronSpace(site, store.dimOf(site));
    const probe = await readProbeWeights(opts.probe, space, siteLayers(site, store.meta.layers));
    const rows = opts.task
      ? await taskRows(opts.task, store, probe.classes, opts.splits ?? ["train"])
      : storeRows(store, probe.classes, opts.maxRows ?? 100000);
    if (rows.words.length === 0) throw new UserError("no rows to analyse (empty task or store)");
    const source = storeSource(store, rows, space);
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
      blockSize: space.width,
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

/** An ActivationSource over a store's neurons of one site and a chosen set of its rows. */
export function storeSource(
  store: ActivationStore,
  rows: CorpusRows & { storeRows: Int32Array },
  space: NeuronSpace,
): ActivationSource {
  const site = space.site;
  return {
    space,
    neurons: neuronIdsOfLayers(siteLayers(site, store.meta.layers), space),
    rows,
    readBlock: (neurons) => store.readRows(rows.storeRows, { neurons, site }),
    readLine: async (sentence, neurons) => {
      const words = store.words(sentence);
      const lineRows = words.map((_, i) => store.row(sentence, i));
      return { words, activations: await store.readRows(lineRows, { neurons, site }) };
    },
  };
}

/**
 * The probe file, read for its weights only. Accepted: `{classes, weights, neurons?, layers?, site?,
 * width?}` at the top level or under `probe`, with `weights` either classes × neurons (PyTorch's Linear
 * layout) or neurons × classes. Neuron ids are ids of `space`; they default to all neurons of `layers`
 * (or of the store's layers of the site). A file that records another site (or another width) than
 * `space` is refused: its ids would name other neurons. Files without `site` hold hidden-site ids.
 */
export async function readProbeWeights(
  file: string,
  space: SpaceLike,
  storeLayers: number[],
): Promise<ProbeWeights> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  return parseProbeWeights(parseJsonText(text, file), file, space, storeLayers);
}

export function parseProbeWeights(
  value: unknown,
  file: string,
  spaceLike: SpaceLike,
  storeLayers: number[],
): ProbeWeights {
  const space = spaceOf(spaceLike);
  const c = new JsonChecker(file);
  let o = c.object(value, "");
  let path = "";
  if (o.weights === undefined && o.probe !== undefined) {
    o = c.object(o.probe, "probe");
    path = "probe.";
  }
  checkSite(recordedSite(o.site, file, `${path}site`), space.site, file, `${path}site`);
  if (o.width !== undefined && c.integer(o.width, `${path}width`, 1) !== space.width) {
    c.fail(
      `${path}width`,
      `the probe's ids count ${String(o.width)} neurons per layer, the store's ${space.site} site has ${space.width}: a probe of another model?`,
    );
  }
  const classes = c.strings(o.classes, `${path}classes`);
  if (classes.length < 2) c.fail(`${path}classes`, "a probe needs at least two classes");
  const rows = c.array(o.weights, `${path}weights`).map((r, i) => c.numbers(r, `${path}weights[${i}]`));
  const neurons =
    o.neurons !== undefined
      ? c.integers(o.neurons, `${path}neurons`)
      : neuronIdsOfLayers(
          o.layers !== undefined ? c.integers(o.layers, `${path}layers`) : storeLayers,
          space,
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
  return { weights, classes, neurons, space };
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
  splits: readonly SplitName[] = ["train"],
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
