import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { SplitName } from "../data/splits.js";
import { readTaskSplit } from "../data/task/tsv.js";
import { PROBE_FORMAT, parseProbeFile, WEIGHTS_LAYOUT } from "../probe/format.js";
import { ActivationStore, type Site, storeRowsOfTask } from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { checkJson, readJsonFile } from "../util/json.js";
import {
  checkSite,
  type NeuronSpace,
  neuronIdsOfLayers,
  neuronSpace,
  SITES,
  type SpaceLike,
  siteLayers,
  spaceOf,
} from "../util/neurons.js";
import { type RunRecord, secondsSince, writeRunRecord } from "../util/run-record.js";
import { analyzeConcepts } from "./analyze.js";
import type { ConceptsPopulation, ConceptsResult } from "./format.js";
import { type StoreCorpusRows, storeCorpusRows } from "./rows.js";
import type { ActivationSource, ProbeWeights } from "./types.js";

/**
 * The concepts stage (`codeneurons concepts`, and `codeneurons run`'s): reads the probe's weights and
 * the task's rows, analyses the neurons of one site over an activation store and writes
 * OUT/concepts.json (concepts/format.ts) and OUT/run-record.json (timings).
 */
export interface ConceptsStageOptions {
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

export interface ConceptsStageResult {
  /** What concepts.json holds. */
  result: ConceptsResult;
  record: RunRecord;
}

/** Runs the analysis and writes OUT/concepts.json and OUT/run-record.json atomically. */
export async function runConcepts(opts: ConceptsStageOptions): Promise<ConceptsStageResult> {
  const t0 = performance.now();
  const store = await ActivationStore.open(opts.store);
  try {
    if (store.meta.level !== "word")
      throw new InputError(opts.store, "concept analysis needs a word-level store");
    const site = opts.site ?? "hidden";
    const space = neuronSpace(site, store.dimOf(site));
    const probe = await readProbeWeights(opts.probe, space, siteLayers(site, store.meta.layers));
    const rows = opts.task
      ? await taskRows(opts.task, store, probe.classes, opts.splits ?? ["train"])
      : storeCorpusRows(store, opts.maxRows ?? 100000, probe.classes);
    if (rows.words.length === 0) throw new UserError("no rows to analyse (empty task or store)");
    const source = storeSource(store, rows, space);
    const result = await analyzeConcepts(source, probe, {
      population: populationOf(opts, rows.words.length, store, probe.classes.length),
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
    return { result, record: await writeRunRecord(opts.out, "concepts", { total: secondsSince(t0) }) };
  } finally {
    store.close();
  }
}

/** Which rows the analysis is over, for the views (concepts.json `population`). */
function populationOf(
  opts: ConceptsStageOptions,
  rows: number,
  store: ActivationStore,
  classes: number,
): ConceptsPopulation {
  if (opts.task) {
    const splits = opts.splits ?? ["train"];
    return {
      kind: "task",
      splits,
      rows,
      description: `the task's ${splits.join(" + ")} tokens (${classes} classes), not every word of the store`,
    };
  }
  return {
    kind: "store",
    splits: null,
    rows,
    description:
      rows < store.meta.numRows
        ? `the store's first ${rows} words (of ${store.meta.numRows})`
        : "every word of the store",
  };
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
  rows: StoreCorpusRows,
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
 * The probe file, read for its weights only: probe.json of any version (probe/format.ts), or a file of
 * another tool `{classes, weights, neurons?, layers?, site?, width?}` (at the top level or under
 * `probe`) whose weights are in the one layout, classes × neurons (PyTorch's Linear.weight). Neuron
 * ids are ids of `space`; they default to all neurons of `layers` (or of the store's layers of the
 * site). A file that records another site (or another width) than `space` is refused: its ids would
 * name other neurons. Files without `site` hold hidden-site ids.
 */
export async function readProbeWeights(
  file: string,
  space: SpaceLike,
  storeLayers: number[],
): Promise<ProbeWeights> {
  return parseProbeWeights(await readJsonFile(file, z.unknown()), file, space, storeLayers);
}

/** Weights of another tool's probe file; `weightsLayout`, when given, must be the one layout. */
const FOREIGN_PROBE_SCHEMA = z.object({
  classes: z.array(z.string()).min(2, "a probe needs at least two classes"),
  weights: z.array(z.array(z.number())),
  weightsLayout: z.literal(WEIGHTS_LAYOUT).optional(),
  neurons: z.array(z.number().int().min(0)).optional(),
  layers: z.array(z.number().int().min(0)).optional(),
  site: z.enum(SITES).optional(),
  width: z.number().int().min(1).optional(),
});

export function parseProbeWeights(
  value: unknown,
  file: string,
  spaceLike: SpaceLike,
  storeLayers: number[],
): ProbeWeights {
  const space = spaceOf(spaceLike);
  const ours =
    typeof value === "object" && value !== null && (value as { format?: unknown }).format === PROBE_FORMAT;
  const nested =
    !ours && typeof value === "object" && value !== null && !("weights" in value) && "probe" in value;
  const path = nested ? "probe." : "";
  const p = ours
    ? parseProbeFile(value, file)
    : checkJson(
        FOREIGN_PROBE_SCHEMA,
        nested ? (value as { probe: unknown }).probe : value,
        file,
        nested ? "probe" : "",
      );
  checkSite(p.site ?? "hidden", space.site, file, `${path}site`);
  if (p.width !== undefined && p.width !== space.width) {
    throw new InputError(
      file,
      `the probe's ids count ${p.width} neurons per layer, the store's ${space.site} site has ${space.width}: a probe of another model?`,
      { field: `${path}width` },
    );
  }
  const classes = p.classes ?? [];
  if (classes.length < 2)
    throw new InputError(file, "a probe needs at least two classes", { field: `${path}classes` });
  const neurons = p.neurons ?? neuronIdsOfLayers(p.layers ?? storeLayers, space);
  const rows = p.weights;
  if (rows.length !== classes.length || rows.some((r) => r.length !== neurons.length)) {
    throw new InputError(
      file,
      `expected ${classes.length} × ${neurons.length} weights (${WEIGHTS_LAYOUT}: a row per class, a column per neuron), got ${rows.length} rows${rows.length > 0 ? ` of ${rows[0].length}` : ""}`,
      { field: `${path}weights` },
    );
  }
  // Concept analysis reads a neuron's weights together: neurons × classes, row-major.
  const weights = new Float32Array(neurons.length * classes.length);
  for (let n = 0; n < neurons.length; n++)
    for (let k = 0; k < classes.length; k++) weights[n * classes.length + k] = rows[k][n];
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
): Promise<StoreCorpusRows> {
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
    const storeRows = storeRowsOfTask(store, rows, file);
    for (let i = 0; i < rows.token.length; i++) {
      const row = storeRows[i];
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

/** `--concepts`: extra word-list concepts, `{"loops": ["for", "while", "do"], …}`. */
const WORD_LISTS_SCHEMA = z.record(z.string(), z.array(z.string()));

async function readWordLists(file: string): Promise<Record<string, string[]>> {
  return readJsonFile(file, WORD_LISTS_SCHEMA);
}
