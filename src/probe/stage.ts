import { join } from "node:path";
import { decodeToken } from "../data/escape.js";
import type { SplitName } from "../data/splits.js";
import { readTask, type TaskSplit } from "../data/task/tsv.js";
import { DesignMatrix } from "../linalg/design.js";
import { neuronOrdering, topNeurons } from "../rank/lca.js";
import { probelessRanking } from "../rank/probeless.js";
import { randomOrdering } from "../rank/random.js";
import {
  type ActivationStore,
  closeSplitStores,
  openSplitStores,
  type Site,
  type SplitStores,
} from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import type { Matrix } from "../util/matrix.js";
import {
  type NeuronSpace,
  neuronIdsOfLayers,
  neuronLayer,
  neuronName,
  neuronSpace,
  siteLayers,
} from "../util/neurons.js";
import { log, Progress } from "../util/progress.js";
import { type GridPoint, gridSearch, LAMBDA_GRID } from "./grid.js";
import { encodeLabels } from "./labels.js";
import { LogisticProbe } from "./logistic.js";
import { type ClassificationMetrics, interceptOnlyAccuracy, selectivity } from "./metrics.js";
import { readNeuronList } from "./neuron-list.js";

/**
 * `codeneurons probe`: a probe on stored activations for a token-tagging task, tuned on the dev
 * split, with its metrics and neuron rankings written as probe.json, metrics.json and rankings.json
 * (each recording the neuron site, so that later stages can refuse ids of the other site). The CLI
 * fills ProbeRunOptions from its flags and prints the summary.
 */
export interface ProbeRunOptions {
  store: string;
  task: string;
  out: string;
  layers?: number[];
  neurons?: string;
  /** Which neurons: the residual stream (default) or the MLP neurons; ids and names are of this site. */
  site?: Site;
  classes?: string[];
  control?: boolean;
  selectivity?: boolean;
  lambda1?: number;
  lambda2?: number;
  grid?: boolean;
  seed?: number;
  patience?: number;
  maxIter?: number;
  stride?: number;
  percentage?: number;
  quiet?: boolean;
}

export interface ProbeSummary {
  out: string;
  site: Site;
  control: boolean;
  lambda1: number;
  lambda2: number;
  neurons: number;
  rows: { train: number; valid: number; test: number };
  accuracy: { train: number; valid: number; test: number };
  interceptOnly: { valid: number; test: number };
  controlAccuracy?: { valid: number; test: number };
  selectivity?: { valid: number; test: number };
  seconds: number;
}

export interface SplitData {
  x: Matrix;
  labels: string[];
}

/** Runs the probe command; writes out/{probe,metrics,rankings}.json atomically and returns a summary. */
export async function runProbe(opts: ProbeRunOptions): Promise<ProbeSummary> {
  const t0 = performance.now();
  checkOptions(opts);
  const stores = await openSplitStores(opts.store);
  try {
    const meta = stores.train.meta;
    if (meta.level !== "word")
      throw new InputError(opts.store, "probing a token task needs a word-level store");
    const site = opts.site ?? "hidden";
    const space = neuronSpace(site, stores.train.dimOf(site));
    const layers = siteLayers(site, meta.layers);
    const neurons = opts.neurons
      ? await readNeuronList(opts.neurons, space, layers)
      : neuronIdsOfLayers(checkLayers(opts.layers ?? layers, layers, opts.store, site), space);
    const task = await readTask(opts.task, { control: opts.control });
    const taskDir = opts.control ? join(opts.task, "control") : opts.task;
    const read = async (name: SplitName, split: TaskSplit) =>
      readSplit(
        stores,
        name,
        filterClasses(split, opts.classes),
        { neurons, site },
        join(taskDir, `${name}.tsv`),
      );
    log(`probe: reading ${neurons.length} ${site} neurons for ${task.train.label.length} train rows`);
    const train = await read("train", task.train);
    const valid = await read("valid", task.valid);
    const test = await read("test", task.test);
    const classes = [...new Set(train.labels)].sort();
    if (classes.length < 2) throw new InputError(join(taskDir, "train.tsv"), "needs at least two classes");
    checkClassesKnown(valid, classes, join(taskDir, "valid.tsv"));
    checkClassesKnown(test, classes, join(taskDir, "test.tsv"));

    // Rankings that read raw activations come before the training matrix is standardized in place.
    const trainCodes = encodeLabels(train.labels, classes).codes;
    const probeless = probelessRanking(train.x, trainCodes, classes.length);
    const fitted = await fitProbe(train, valid, test, classes, opts);
    const probe = fitted.probe;
    const metrics = {
      train: await probe.evaluate(fitted.trainDesign, train.labels),
      valid: await probe.evaluate(valid.x, valid.labels),
      test: await probe.evaluate(test.x, test.labels),
    };
    const controlResult = opts.selectivity
      ? await controlAccuracy(stores, opts, { neurons, site }, probe, classes)
      : undefined;
    const summary = summarize(
      opts,
      site,
      probe,
      neurons.length,
      metrics,
      trainCodes,
      classes,
      valid,
      test,
      controlResult,
    );
    summary.seconds = (performance.now() - t0) / 1000;
    await writeOutputs(opts, {
      probe,
      neurons,
      space,
      meta: stores.train.meta,
      metrics,
      fitted,
      summary,
      probeless,
      classes,
    });
    return summary;
  } finally {
    closeSplitStores(stores);
  }
}

function checkOptions(opts: ProbeRunOptions): void {
  const single = opts.lambda1 !== undefined || opts.lambda2 !== undefined;
  if (single && opts.grid) throw new UserError("--grid cannot be combined with --lambda1/--lambda2");
  if (opts.layers && opts.neurons) throw new UserError("--layers and --neurons exclude each other");
  for (const [name, v] of [
    ["lambda1", opts.lambda1],
    ["lambda2", opts.lambda2],
  ] as const)
    if (v !== undefined && v < 0) throw new UserError(`--${name}: must be >= 0`);
  if (opts.percentage !== undefined && !(opts.percentage > 0 && opts.percentage <= 1))
    throw new UserError("--percentage: must be in (0, 1]");
  if (opts.control && opts.selectivity)
    throw new UserError("--selectivity already trains on the control task; drop --control");
}

/** `stored` are the site's layers: the MLP site has no layer 0. */
function checkLayers(layers: number[], stored: number[], storeDir: string, site: Site): number[] {
  const what = site === "hidden" ? "" : `${site} `;
  for (const l of layers)
    if (!stored.includes(l))
      throw new InputError(storeDir, `${what}layer ${l} is not stored (${what}layers ${stored.join(",")})`);
  return layers;
}

function filterClasses(split: TaskSplit, classes?: string[]): TaskSplit {
  if (!classes) return split;
  const keep = new Set(classes);
  const idx = split.label.flatMap((l, i) => (keep.has(l) ? [i] : []));
  return {
    sentence: Int32Array.from(idx, (i) => split.sentence[i]),
    word: Int32Array.from(idx, (i) => split.word[i]),
    token: idx.map((i) => split.token[i]),
    label: idx.map((i) => split.label[i]),
  };
}

/** The split's activations (rows in task order), after checking every task row against the store's words. */
export async function readSplit(
  stores: SplitStores,
  name: SplitName,
  split: TaskSplit,
  columns: { neurons: number[]; site: Site },
  file: string,
): Promise<SplitData> {
  const store: ActivationStore = stores[name];
  const rows = new Int32Array(split.label.length);
  for (let i = 0; i < rows.length; i++) {
    const s = split.sentence[i];
    const w = split.word[i];
    const words = s < store.numLines ? store.words(s) : [];
    const word = words[w];
    if (word === undefined)
      throw new InputError(file, `sentence ${s} word ${w} is not in the store ${store.dir}`, { line: i + 2 });
    if (decodeToken(word) !== split.token[i])
      throw new InputError(file, `token '${split.token[i]}' but the store has '${word}' there`, {
        line: i + 2,
      });
    rows[i] = store.row(s, w);
  }
  if (rows.length === 0) throw new InputError(file, "no rows (after --classes)");
  return { x: await store.readRows(rows, columns), labels: split.label };
}

export function checkClassesKnown(split: SplitData, classes: string[], file: string): void {
  const known = new Set(classes);
  const i = split.labels.findIndex((l) => !known.has(l));
  if (i >= 0)
    throw new InputError(file, `class '${split.labels[i]}' does not occur in train`, { line: i + 2 });
}

interface Fitted {
  probe: LogisticProbe;
  trainDesign: DesignMatrix;
  grid?: GridPoint[];
  seconds: number;
}

async function fitProbe(
  train: SplitData,
  valid: SplitData,
  test: SplitData,
  classes: string[],
  opts: ProbeRunOptions,
): Promise<Fitted> {
  const t0 = performance.now();
  // The store gave us fresh matrices: standardize the training rows in place (no second copy).
  const trainDesign = DesignMatrix.build(train.x, { inPlace: true });
  const validDesign = DesignMatrix.wrap(trainDesign.standardizer.apply(valid.x), trainDesign.standardizer);
  const single = opts.lambda1 !== undefined || opts.lambda2 !== undefined;
  const common = { patience: opts.patience, maxIter: opts.maxIter };
  if (single) {
    log(
      `probe: fitting λ1=${opts.lambda1 ?? 0} λ2=${opts.lambda2 ?? 0} on ${train.x.rows} × ${train.x.cols}`,
    );
    const probe = new LogisticProbe({ ...common, lambda1: opts.lambda1 ?? 0, lambda2: opts.lambda2 ?? 0 });
    await probe.fit(trainDesign, train.labels, { valid: { x: validDesign, y: valid.labels }, classes });
    return { probe, trainDesign, seconds: (performance.now() - t0) / 1000 };
  }
  const total = LAMBDA_GRID.length ** 2;
  const bar = new Progress("probe grid", total, { quiet: opts.quiet, unit: "fits" });
  const r = await gridSearch(
    trainDesign,
    train.labels,
    { x: validDesign, y: valid.labels },
    {
      ...common,
      classes,
      test: { x: test.x, y: test.labels },
      onProgress: (done) => bar.update(done),
    },
  );
  bar.finish(`best λ1=${r.best.lambda1} λ2=${r.best.lambda2} dev acc ${r.best.dev.accuracy.toFixed(4)}`);
  return { probe: r.probe, trainDesign, grid: r.points, seconds: (performance.now() - t0) / 1000 };
}

/** Fits the control task with the chosen λs and returns its valid/test accuracy. */
async function controlAccuracy(
  stores: SplitStores,
  opts: ProbeRunOptions,
  columns: { neurons: number[]; site: Site },
  probe: LogisticProbe,
  realClasses: string[],
): Promise<{ valid: number; test: number }> {
  const task = await readTask(opts.task, { control: true });
  const dir = join(opts.task, "control");
  const read = (name: SplitName, split: TaskSplit) =>
    readSplit(stores, name, filterClasses(split, opts.classes), columns, join(dir, `${name}.tsv`));
  const train = await read("train", task.train);
  const valid = await read("valid", task.valid);
  const test = await read("test", task.test);
  const classes = [...new Set([...train.labels, ...realClasses])].sort();
  log(`probe: control task with λ1=${probe.lambda1} λ2=${probe.lambda2}`);
  const control = new LogisticProbe({
    lambda1: probe.lambda1,
    lambda2: probe.lambda2,
    patience: opts.patience,
    maxIter: opts.maxIter,
    inPlace: true,
  });
  await control.fit(train.x, train.labels, { valid: { x: valid.x, y: valid.labels }, classes });
  return {
    valid: await control.score(valid.x, valid.labels),
    test: await control.score(test.x, test.labels),
  };
}

function summarize(
  opts: ProbeRunOptions,
  site: Site,
  probe: LogisticProbe,
  neurons: number,
  metrics: Record<SplitName, ClassificationMetrics>,
  trainCodes: Int32Array,
  classes: string[],
  valid: SplitData,
  test: SplitData,
  control?: { valid: number; test: number },
): ProbeSummary {
  const k = classes.length;
  return {
    out: opts.out,
    site,
    control: opts.control === true,
    lambda1: probe.lambda1,
    lambda2: probe.lambda2,
    neurons,
    rows: { train: metrics.train.rows, valid: metrics.valid.rows, test: metrics.test.rows },
    accuracy: { train: metrics.train.accuracy, valid: metrics.valid.accuracy, test: metrics.test.accuracy },
    interceptOnly: {
      valid: interceptOnlyAccuracy(trainCodes, encodeLabels(valid.labels, classes).codes, k),
      test: interceptOnlyAccuracy(trainCodes, encodeLabels(test.labels, classes).codes, k),
    },
    ...(control
      ? {
          controlAccuracy: control,
          selectivity: {
            valid: selectivity(metrics.valid.accuracy, control.valid),
            test: selectivity(metrics.test.accuracy, control.test),
          },
        }
      : {}),
    seconds: 0,
  };
}

async function writeOutputs(
  opts: ProbeRunOptions,
  r: {
    probe: LogisticProbe;
    neurons: number[];
    space: NeuronSpace;
    meta: ActivationStore["meta"];
    metrics: Record<SplitName, ClassificationMetrics>;
    fitted: Fitted;
    summary: ProbeSummary;
    probeless: ReturnType<typeof probelessRanking>;
    classes: string[];
  },
): Promise<void> {
  const { probe, neurons, meta, space } = r;
  const ids = (cols: ArrayLike<number>) => Array.from(cols, (c) => neurons[c]);
  // Every file says which site its ids are of and how many neurons a layer of it has (ids are
  // layer × width + unit); `hidden` stays the model's hidden size.
  const where = {
    model: meta.model,
    site: space.site,
    width: space.width,
    hidden: meta.hidden,
    layers: [...new Set(neurons.map((n) => neuronLayer(n, space)))],
  };
  await writeJsonAtomic(join(opts.out, "probe.json"), {
    ...probe.toJSON(),
    // Columns of `weights` are these neurons (global ids); the concepts command reads them.
    neurons,
    ...where,
    task: opts.task,
    controlTask: opts.control === true,
  });
  await writeJsonAtomic(join(opts.out, "metrics.json"), {
    ...r.summary,
    ...where,
    task: opts.task,
    classes: r.classes,
    fit: probe.fitInfo,
    fitSeconds: r.fitted.seconds,
    train: r.metrics.train,
    valid: r.metrics.valid,
    test: r.metrics.test,
    ...(r.fitted.grid ? { grid: r.fitted.grid } : {}),
  });
  const weights = probe.weightsByOutput();
  const stride = opts.stride ?? 100;
  const lca = neuronOrdering(weights, stride);
  const percentage = opts.percentage ?? 0.05;
  const top = topNeurons(weights, percentage);
  const seed = opts.seed ?? 1;
  await writeJsonAtomic(join(opts.out, "rankings.json"), {
    site: space.site,
    width: space.width,
    hidden: meta.hidden,
    neurons: neurons.length,
    lca: { stride, ordering: ids(lca.ordering), cutoffs: lca.cutoffs },
    bottom: { stride, ordering: ids(neuronOrdering(weights, stride, { bottom: true }).ordering) },
    topNeurons: {
      percentage,
      union: ids(top.union),
      perClass: Object.fromEntries(probe.classes.map((c, i) => [c, ids(top.perClass[i])])),
      names: Object.fromEntries(
        probe.classes.map((c, i) => [c, top.perClass[i].map((j) => neuronName(neurons[j], space))]),
      ),
    },
    probeless: {
      ordering: ids(r.probeless.ordering),
      scores: Array.from(r.probeless.ordering, (j) => r.probeless.scores[j]),
      perClass: Object.fromEntries(r.classes.map((c, i) => [c, ids(r.probeless.perClass[i].ordering)])),
    },
    random: { seed, ordering: ids(randomOrdering(neurons.length, seed)) },
  });
}
