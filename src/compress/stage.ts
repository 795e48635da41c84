import { existsSync, statSync } from "node:fs";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { readSentenceSplit } from "../data/sentence/index.js";
import { readTask } from "../data/task/tsv.js";
import type { ModelConfig } from "../model/config.js";
import { TOKENIZER_FILES } from "../model/files.js";
import { loadModel } from "../model/load.js";
import { openCheckpoint } from "../model/weights/index.js";
import { parseProbeFile } from "../probe/format.js";
import { LogisticProbe } from "../probe/logistic.js";
import {
  openPipelineSource,
  type PipelineData,
  type PipelineSource,
} from "../redundancy/pipeline/input/index.js";
import {
  type ProbeRequest,
  probeFitOf,
  type StandardizedData,
  standardizeData,
  trainProbe,
} from "../redundancy/pipeline/probes.js";
import {
  formatResultsJson,
  parseRedundancyResults,
  type RedundancyResults,
} from "../redundancy/pipeline/results.js";
import { closeSplitStores, openSplitStores } from "../store/index.js";
import { writeFileAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { readJsonFile } from "../util/json.js";
import { selectColumns } from "../util/matrix.js";
import { neuronName, neuronSpace } from "../util/neurons.js";
import { formatSeconds, log } from "../util/progress.js";
import { secondsSince, writeRunRecord } from "../util/run-record.js";
import { COMPRESSED_FORMAT, COMPRESSED_VERSION, type CompressedCard, type SetName } from "./format.js";
import {
  buildCompressedGraph,
  COMPRESSIBLE_MODEL_TYPES,
  type CompressedGraph,
  GRAPH_INPUTS,
  GRAPH_OUTPUTS,
  NotCompressible,
  type ProbeOnNeurons,
} from "./graph.js";
import { CARD_FILE, MODEL_DATA_FILE, MODEL_FILE, openCompressedModel, sha256File } from "./model.js";
import { type SentenceScores, scoreSentences } from "./predict.js";
import { featureSpaceOf, type SelectedSet, selectSet } from "./select.js";

/**
 * `codeneurons compress`: a standalone task model from a finished run. The set's probe is refitted on
 * the run's stored activations exactly as the redundancy pipeline fitted it (same rows, columns, λs and
 * solver; its dev and test accuracy must come out as the run reported them), then the source model is
 * cut after the highest layer the set uses and written with the probe as one ONNX file (graph.ts),
 * beside card.json and the tokenizer. Last, the written model itself labels the run's test rows from
 * their words, and the card records its accuracy and its agreement with the run's probe.
 */
export interface CompressOptions {
  /** A results directory of `codeneurons run`, or an output directory of `codeneurons redundancy`. */
  results: string;
  set: SetName;
  /** Output directory (default RESULTS/compressed/SET). */
  out?: string;
  /** The source model (directory or hub id); default the one the activations were extracted from. */
  model?: string;
  /** Use onnxruntime's fused operators as extraction does (default true). */
  fused?: boolean;
  batchTokens?: number;
  threads?: number;
  quiet?: boolean;
  /**
   * Weights in model.onnx.data beside model.onnx (ONNX external data): "auto" (default) when they pass
   * protobuf's 2 GiB limit, "always" for every model.
   */
  externalData?: "auto" | "always";
}

export interface CompressResult {
  out: string;
  card: CompressedCard;
  /** Wall-clock seconds by part (also in OUT/run-record.json). */
  seconds: Record<string, number>;
}

/** What the compressed model's directory copies from the source: its config and tokenizer files. */
const COPIED_FILES = ["config.json", ...TOKENIZER_FILES];

export function defaultCompressOut(results: string, set: SetName): string {
  return join(results, "compressed", set.replaceAll("+", "-"));
}

export interface ResultsInputs {
  file: string;
  results: RedundancyResults;
  /** The stores (of the a side, for pairs) and the b side's. */
  store: string;
  storeB?: string;
  task: string;
  /** The probe stage's probe.json of a `codeneurons run` directory, if there is one. */
  probeFile: string | null;
}

/** redundancy.json and the stores and task it was computed on, in a run directory or recorded paths. */
export async function locateInputs(dir: string): Promise<ResultsInputs> {
  const runLayout = existsSync(join(dir, "redundancy", "redundancy.json"));
  const file = runLayout ? join(dir, "redundancy", "redundancy.json") : join(dir, "redundancy.json");
  if (!existsSync(dir)) throw new InputError(dir, "no such results directory");
  const results = await readJsonFile(
    file,
    parseRedundancyResults,
    `not found: ${dir} is neither a results directory of \`codeneurons run\` (DIR/redundancy/redundancy.json) nor an output of \`codeneurons redundancy\``,
  );
  const first = (what: string, ...candidates: (string | undefined)[]) => {
    const found = candidates.find((c) => c !== undefined && existsSync(c));
    if (!found)
      throw new InputError(
        file,
        `the run's ${what} is gone (looked for ${candidates.filter(Boolean).join(", ")})`,
        { field: `input.${what}` },
      );
    return found;
  };
  const i = results.input;
  const store = first("store", runLayout ? join(dir, "activations") : undefined, i.store);
  // Pairs: a store directory holding a/ and b/ (the pipeline records b/ as storeB), or two stores.
  const pairDirs = i.kind === "pair" && existsSync(join(store, "a"));
  return {
    file,
    results,
    store: pairDirs ? join(store, "a") : store,
    storeB:
      i.kind === "pair" ? first("storeB", pairDirs ? join(store, "b") : undefined, i.storeB) : undefined,
    task: first("task", runLayout ? join(dir, "task") : undefined, i.task),
    probeFile:
      runLayout && existsSync(join(dir, "probe", "probe.json")) ? join(dir, "probe", "probe.json") : null,
  };
}

/** The source must be the run's: same kind of task, classes, site, layers and width. */
function checkSameInput(source: PipelineSource, r: RedundancyResults, file: string): void {
  const a = source.input;
  const b = r.input;
  const differs =
    a.kind !== b.kind
      ? `a ${a.kind} task, the run's is ${b.kind}`
      : `${a.classes}` !== `${b.classes}`
        ? `classes ${a.classes.join(",")}, the run's are ${b.classes.join(",")}`
        : a.site !== b.site || a.width !== b.width || `${a.layers}` !== `${b.layers}`
          ? `${a.site} layers ${a.layers.join(",")} × ${a.width}, the run's are ${b.site} layers ${b.layers.join(",")} × ${b.width}`
          : a.model !== b.model
            ? `activations of ${a.model}, the run's are of ${b.model}`
            : null;
  if (differs)
    throw new InputError(file, `the stores and task found are not the run's: ${differs}`, { field: "input" });
}

/** The set's probe: the probe stage's for the grid-tuned oracle when it is that probe, else refitted. */
async function setProbe(
  sel: SelectedSet,
  inputs: ResultsInputs,
  data: PipelineData,
  z: StandardizedData,
): Promise<LogisticProbe> {
  const r = inputs.results;
  const req: ProbeRequest = { columns: sel.columns, lambdas: sel.lambdas, labels: "task" };
  if (sel.oracle && "grid" in sel.lambdas && inputs.probeFile) {
    // The pipeline adopts the probe stage's grid-tuned oracle (run/stages.ts); 36 fits need not rerun.
    const file = await readJsonFile(inputs.probeFile, parseProbeFile);
    const space = featureSpaceOf(r);
    const ids = space.ids(sel.columns);
    const same =
      !file.controlTask &&
      (file.site ?? "hidden") === r.input.site &&
      `${file.classes}` === `${r.input.classes}` &&
      `${file.neurons}` === `${ids}` &&
      file.lambda1 === r.steps.oracle?.probe.lambda1 &&
      file.lambda2 === r.steps.oracle?.probe.lambda2;
    if (same) {
      log(`compress: ${sel.row.name}: the probe stage's oracle (${inputs.probeFile})`);
      return LogisticProbe.fromFile(file, inputs.probeFile);
    }
  }
  log(
    `compress: ${sel.row.name} (${sel.row.detail ?? ""}): fitting its probe on ${sel.columns.length} neurons`,
  );
  const solver = { patience: r.settings.patience, maxIter: r.settings.maxIter };
  return (await trainProbe(data, z, r.input.classes, req, solver)).probe;
}

export async function runCompress(opts: CompressOptions): Promise<CompressResult> {
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  const lap = (name: string, since: number) => {
    seconds[name] = secondsSince(since);
    return performance.now();
  };
  const inputs = await locateInputs(opts.results);
  const r = inputs.results;
  const sel = selectSet(r, opts.set, inputs.file);
  const out = opts.out ?? defaultCompressOut(opts.results, opts.set);
  const space = featureSpaceOf(r);
  const site = r.input.site;

  // The model first: a wrong or unsupported model should fail before the activations are read.
  const modelSource = opts.model ?? r.input.model;
  const model = await loadModel(modelSource).catch((e: unknown) => {
    if (e instanceof UserError && !opts.model)
      throw new UserError(
        `${e.message}\n(the run's model, recorded in ${inputs.file}; give it with --model)`,
      );
    throw e;
  });
  const cfg = model.config;
  if (!COMPRESSIBLE_MODEL_TYPES.includes(cfg.modelType))
    throw new NotCompressible(
      `compress cannot build model_type ${cfg.modelType} as one graph; it builds ${COMPRESSIBLE_MODEL_TYPES.join(", ")}`,
    );
  const width = site === "hidden" ? cfg.hiddenSize : cfg.intermediateSize;
  if (
    width !== r.input.width ||
    cfg.hiddenSize !== r.input.hidden ||
    Math.max(...r.input.layers) > cfg.numLayers
  )
    throw new UserError(
      `${modelSource} is not the model of ${opts.results}: ${cfg.modelType} with ${cfg.numLayers} layers × ${cfg.hiddenSize}, the run's activations have ${site} layers ${r.input.layers.join(",")} × ${r.input.width}`,
    );

  let t = performance.now();
  const source = await openPipelineSource({
    store: inputs.store,
    storeB: inputs.storeB,
    task: inputs.task,
    site,
    seed: r.settings.seed,
  });
  let probe: LogisticProbe;
  let runPredictions: Int32Array;
  let testLabels: Int32Array;
  try {
    checkSameInput(source, r, inputs.file);
    const data = await source.load();
    const z = standardizeData(data);
    t = lap("load", t);
    probe = await setProbe(sel, inputs, data, z);
    const fit = await probeFitOf(probe, data, z, {
      columns: sel.columns,
      lambdas: sel.lambdas,
      labels: "task",
    });
    if (fit.record.test.accuracy !== sel.test.accuracy || fit.record.dev.accuracy !== sel.dev.accuracy)
      throw new UserError(
        `the ${sel.row.name} probe refitted on the run's activations scores test ${fit.record.test.accuracy}, dev ${fit.record.dev.accuracy}; ${inputs.file} says test ${sel.test.accuracy}, dev ${sel.dev.accuracy}. Were the stores or the task changed after the run?`,
      );
    runPredictions = await probe.predict(selectColumns(data.test.x, sel.columns));
    testLabels = data.test.y;
    t = lap("fit", t);
  } finally {
    source.close();
  }

  const std = probe.standardizer!;
  const spec: ProbeOnNeurons = {
    site,
    width,
    sides: space.sides,
    inputs: sel.columns.map((c) => {
      const id = space.id(c);
      const side = Math.floor(c / space.perSide);
      return { side, id: id - side * space.sideOffset };
    }),
    weights: probe.weights!,
    bias: probe.bias!,
    mean: std.mean,
    scale: std.scale,
    classes: r.input.classes.length,
  };
  const storeSettings = await storeSettingsOf(inputs.store);
  const maxTokens = Math.min(
    cfg.maxSequenceLength,
    model.tokenizer.maxLength ?? Number.POSITIVE_INFINITY,
    storeSettings.maxTokens,
  );
  const graph = await writeGraph(out, model.dir, cfg, spec, {
    fused: opts.fused ?? true,
    maxTokens,
    externalData: opts.externalData ?? "auto",
  });
  const external = graph.external;
  const copied: string[] = [];
  for (const f of COPIED_FILES)
    if (existsSync(join(model.dir, f))) {
      await copyFile(join(model.dir, f), join(out, f));
      copied.push(f);
    }
  t = lap("build", t);

  const ids = neuronSpace(site, width);
  const card: CompressedCard = {
    format: COMPRESSED_FORMAT,
    version: COMPRESSED_VERSION,
    files: {
      model: MODEL_FILE,
      externalData: external ? MODEL_DATA_FILE : null,
      sha256: await sha256File(join(out, MODEL_FILE)),
      bytes: statSync(join(out, MODEL_FILE)).size,
      tokenizer: copied,
    },
    graph: { inputs: GRAPH_INPUTS, outputs: GRAPH_OUTPUTS, ...graph.opsets },
    source: {
      model: modelSource,
      modelType: cfg.modelType,
      numLayers: cfg.numLayers,
      hidden: cfg.hiddenSize,
      results: opts.results,
    },
    set: {
      name: opts.set,
      row: sel.row.name,
      detail: sel.row.detail ?? "",
      site,
      sides: space.sides,
      ids: space.ids(sel.columns),
      sideOffset: space.sides > 1 ? space.sideOffset : 0,
    },
    layers: { used: graph.layers, blocks: graph.blocks, of: cfg.numLayers },
    neurons: {
      ids: graph.units,
      names: graph.units.map((u) => neuronName(u, ids)),
      of: r.input.layers.length * width,
    },
    probe: { classes: [...r.input.classes], lambda1: probe.lambda1, lambda2: probe.lambda2 },
    input: {
      kind: r.input.kind,
      aggregation: storeSettings.aggregation,
      sentenceRepresentation: storeSettings.sentenceRepresentation,
      maxTokens,
      causal: cfg.causal,
    },
    accuracy: {
      run: { dev: sel.dev.accuracy, test: sel.test.accuracy },
      measured: { split: "test", rows: 0, accuracy: 0, agreement: 0 },
    },
    warnings: [],
  };
  // The model is measured as written, under the card being made; the card is written last, so a
  // directory without one is never taken for a finished model.
  const measured = await measureTest(out, card, inputs, r, testLabels, runPredictions, opts);
  card.accuracy.measured = measured;
  const run4 = card.accuracy.run.test.toFixed(4);
  if (measured.accuracy.toFixed(4) !== run4)
    card.warnings.push(
      `the compressed model's test accuracy ${measured.accuracy.toFixed(4)} is not the run's ${run4} (it agrees with the run's probe on ${measured.agreement} of ${measured.rows} rows)`,
    );
  await writeFileAtomic(join(out, CARD_FILE), formatResultsJson(card));
  lap("measure", t);
  seconds.total = secondsSince(t0);
  await writeRunRecord(out, "compress", seconds);
  for (const w of card.warnings) log(`compress: warning: ${w}`);
  log(`compress: wrote ${out} in ${formatSeconds(seconds.total)}`);
  return { out, card, seconds };
}

/**
 * Builds the graph and writes OUT/model.onnx (and its weights file when external), out of the way of
 * what follows: the builder, which holds the kept weights, is garbage once this returns, before the
 * written model is opened to be measured (a cut LLM's weights are then held once, not twice).
 */
async function writeGraph(
  out: string,
  dir: string,
  cfg: ModelConfig,
  spec: ProbeOnNeurons,
  opts: { fused: boolean; maxTokens: number; externalData: "auto" | "always" },
): Promise<Omit<CompressedGraph, "builder"> & { external: boolean }> {
  const checkpoint = openCheckpoint(dir);
  let graph: CompressedGraph;
  try {
    graph = buildCompressedGraph(cfg, checkpoint, checkpoint.path, spec, opts);
  } finally {
    checkpoint.close();
  }
  await prepareOut(out);
  const { builder, ...rest } = graph;
  const external = opts.externalData === "always" || builder.initializerBytes() > 1.9e9;
  if (external) {
    const { model: bytes, data } = builder.toModelWithExternalData(MODEL_DATA_FILE, graph.opsets);
    await writeFileAtomic(join(out, MODEL_DATA_FILE), data);
    await writeFileAtomic(join(out, MODEL_FILE), bytes);
  } else {
    await writeFileAtomic(join(out, MODEL_FILE), builder.toModel(graph.opsets));
  }
  return { ...rest, external };
}

/** The output directory: created, or emptied when it is an earlier compressed model; refused otherwise. */
async function prepareOut(out: string): Promise<void> {
  if (existsSync(out)) {
    const names = await readdir(out);
    if (names.length > 0 && !names.includes(CARD_FILE))
      throw new UserError(`${out} exists and is not a compressed model: refusing to write into it`);
    // Without its card first, a directory left half-written never reads as a compressed model.
    await rm(join(out, CARD_FILE), { force: true });
    for (const n of names) await rm(join(out, n), { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });
}

async function storeSettingsOf(store: string) {
  const stores = await openSplitStores(store);
  try {
    const s = stores.test.index.settings;
    if (s.includeSpecialTokens)
      throw new InputError(
        stores.test.dir,
        "holds special tokens' rows (extract --include-special): a compressed model labels words only",
      );
    return s;
  } finally {
    closeSplitStores(stores);
  }
}

/** The run's test rows as sentences to run, and the row of the scores that is each task row. */
export interface TestSentences {
  a: string[][];
  b?: string[][];
  /** Task rows of the test split. */
  rows: number;
  rowOf(scores: Pick<SentenceScores, "firstRow">, i: number): number;
}

export async function testSentences(
  inputs: ResultsInputs,
  kind: RedundancyResults["input"]["kind"],
): Promise<TestSentences> {
  if (kind !== "token") {
    const split = await readSentenceSplit(inputs.task, "test");
    return {
      a: split.a,
      b: split.b,
      rows: split.a.length,
      rowOf(scores, i) {
        if (scores.firstRow[i + 1] === scores.firstRow[i])
          throw new Error(`compress: test sentence ${i} has no row`);
        return scores.firstRow[i];
      },
    };
  }
  const task = await readTask(inputs.task);
  const stores = await openSplitStores(inputs.store);
  const lineOf = new Map<number, number>();
  try {
    for (const s of task.test.sentence) if (!lineOf.has(s)) lineOf.set(s, lineOf.size);
    const a = [...lineOf.keys()].map((s) => stores.test.words(s));
    return {
      a,
      rows: task.test.sentence.length,
      rowOf(scores, i) {
        const k = lineOf.get(task.test.sentence[i])!;
        const row = scores.firstRow[k] + task.test.word[i];
        if (row >= scores.firstRow[k + 1]) throw new Error(`compress: test row ${i} is beyond its line`);
        return row;
      },
    };
  } finally {
    closeSplitStores(stores);
  }
}

/**
 * The written model on the run's test rows: token tasks run each used test line from the store's
 * words; sentence tasks each test sentence (pairs: both sides). Accuracy against the task's labels and
 * agreement with the run's probe on the stored activations, row by row.
 */
async function measureTest(
  out: string,
  card: CompressedCard,
  inputs: ResultsInputs,
  r: RedundancyResults,
  labels: Int32Array,
  runPredictions: Int32Array,
  opts: CompressOptions,
): Promise<CompressedCard["accuracy"]["measured"]> {
  const model = await openCompressedModel(out, { threads: opts.threads, card });
  try {
    const test = await testSentences(inputs, r.input.kind);
    const scores = await scoreSentences(model, test.a, test.b, {
      batchTokens: opts.batchTokens,
      quiet: opts.quiet,
      label: "compress: test rows",
    });
    if (test.rows !== labels.length) throw new Error("compress: test rows differ from the run's");
    let right = 0;
    let agree = 0;
    for (let i = 0; i < labels.length; i++) {
      const predicted = scores.labels[test.rowOf(scores, i)];
      if (predicted === labels[i]) right++;
      if (predicted === runPredictions[i]) agree++;
    }
    return {
      split: "test",
      rows: labels.length,
      accuracy: labels.length ? right / labels.length : 0,
      agreement: agree,
    };
  } finally {
    await model.release();
  }
}
