import { totalmem } from "node:os";
import { join } from "node:path";
import { SPLITS, type SplitName } from "../data/splits.js";
import { checkClassesKnown, readTask, type Task, type TaskSplit } from "../data/task/tsv.js";
import { DesignMatrix } from "../linalg/design.js";
import { neuronOrdering, topNeurons } from "../rank/lca.js";
import { probelessRanking } from "../rank/probeless.js";
import { randomOrdering } from "../rank/random.js";
import {
  type ActivationStore,
  closeSplitStores,
  openSplitStores,
  readTaskActivations,
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
import { type RunRecord, secondsSince, writeRunRecord } from "../util/run-record.js";
import { controlClasses, fitControlProbe, selectivityOf } from "./control.js";
import {
  METRICS_FORMAT,
  METRICS_VERSION,
  type ProbeMetricsFile,
  type ProbeSummary,
  RANKINGS_FORMAT,
  RANKINGS_VERSION,
  type RankingsFile,
} from "./format.js";
import { type GridPoint, gridSearch, LAMBDA_GRID } from "./grid.js";
import { encodeLabels } from "./labels.js";
import { LogisticProbe } from "./logistic.js";
import {
  defaultMemoryBound,
  designMemoryBytes,
  fmtGiB,
  gridMemoryBytes,
  probeMemoryBytes,
} from "./memory.js";
import { type ClassificationMetrics, interceptOnlyAccuracy } from "./metrics.js";
import { readNeuronList } from "./neuron-list.js";

/**
 * The probe stage (`codeneurons probe`, and `codeneurons run`'s oracle probe): a probe on stored
 * activations for a token-tagging task, λs tuned on the dev split, its metrics and neuron rankings.
 * Writes OUT/probe.json, metrics.json and rankings.json (probe/format.ts; each records the neuron
 * site, so that later stages can refuse ids of the other site) and OUT/run-record.json (timings).
 */
export interface ProbeStageOptions {
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
  /**
   * Memory the stage may use, in bytes (default 85% of the machine's; CLI --max-memory in GiB): a
   * probe whose estimate (probe/memory.ts) is above it is refused before any activation is read.
   */
  maxMemoryBytes?: number;
  stride?: number;
  percentage?: number;
  quiet?: boolean;
}

export type { ProbeSummary };

/**
 * The fitted probe, for a later stage to reuse: `codeneurons run` hands it to the redundancy pipeline,
 * whose oracle step is this very probe (the λ grid is tuned once per run).
 */
export interface FittedProbe {
  probe: LogisticProbe;
  /** Neuron ids (of `site`) of the probe's inputs, in input order. */
  neurons: number[];
  site: Site;
  /** The λ grid and every point of it, when the λs were tuned. */
  grid: { lambdas: readonly number[]; points: GridPoint[] } | null;
  solver: { patience?: number; maxIter?: number };
  /** Trained on the control task. */
  control: boolean;
}

export interface ProbeStageResult {
  summary: ProbeSummary;
  fitted: FittedProbe;
  record: RunRecord;
}

interface SplitData {
  x: Matrix;
  labels: string[];
}

/** Runs the probe stage; writes OUT/{probe,metrics,rankings,run-record}.json atomically. */
export async function runProbe(opts: ProbeStageOptions): Promise<ProbeStageResult> {
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
    checkProbeMemory(opts, neurons.length, task, layers);
    const taskDir = opts.control ? join(opts.task, "control") : opts.task;
    const columns = { neurons, site };
    log(`probe: reading ${neurons.length} ${site} neurons for ${task.train.label.length} train rows`);
    const read = (name: SplitName) =>
      readSplit(stores[name], filterClasses(task[name], opts.classes), columns, join(taskDir, `${name}.tsv`));
    const train = await read("train");
    const valid = await read("valid");
    const test = await read("test");
    const classes = [...new Set(train.labels)].sort();
    if (classes.length < 2) throw new InputError(join(taskDir, "train.tsv"), "needs at least two classes");
    checkClassesKnown(valid.labels, classes, join(taskDir, "valid.tsv"));
    checkClassesKnown(test.labels, classes, join(taskDir, "test.tsv"));
    const readSeconds = secondsSince(t0);

    // Rankings that read raw activations come before the training matrix is standardized in place.
    const trainCodes = encodeLabels(train.labels, classes).codes;
    const probeless = probelessRanking(train.x, trainCodes, classes.length);
    const t1 = performance.now();
    const fitted = await fitProbe(train, valid, test, classes, opts);
    const fitSeconds = secondsSince(t1);
    const probe = fitted.probe;
    const metrics = {
      train: await probe.evaluate(fitted.trainDesign, train.labels),
      valid: await probe.evaluate(fitted.validDesign, valid.labels),
      test: await probe.evaluate(fitted.testDesign, test.labels),
    };
    const t2 = performance.now();
    const control = opts.selectivity
      ? await controlAccuracy(stores, opts, columns, probe, classes, { task, fitted })
      : undefined;
    const controlSeconds = secondsSince(t2);
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
      control,
    );
    const warnings = [...storeWarnings(stores), ...(probe.fitInfo?.warnings ?? [])];
    // On stderr even when quiet or with --json: a result that may be meaningless must not pass unnoticed.
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    if (warnings.length > 0) summary.warnings = warnings;
    await writeOutputs(opts, {
      probe,
      neurons,
      space,
      meta,
      metrics,
      grid: fitted.grid,
      summary,
      probeless,
      classes,
    });
    const record = await writeRunRecord(opts.out, "probe", {
      total: secondsSince(t0),
      read: readSeconds,
      fit: fitSeconds,
      ...(control ? { control: controlSeconds } : {}),
    });
    return {
      summary,
      fitted: {
        probe,
        neurons,
        site,
        grid: fitted.grid ? { lambdas: LAMBDA_GRID, points: fitted.grid } : null,
        solver: { patience: opts.patience, maxIter: opts.maxIter },
        control: opts.control === true,
      },
      record,
    };
  } finally {
    closeSplitStores(stores);
  }
}

/**
 * The stage's peak before any activation is read: every split's activations (z-scored in place), the
 * transposed training rows, and the grid's probes (or one probe).
 */
function checkProbeMemory(opts: ProbeStageOptions, d: number, task: Task, layers: number[]): void {
  const split = (s: SplitName) => filterClasses(task[s], opts.classes).label;
  const rows = { train: split("train").length, valid: split("valid").length, test: split("test").length };
  const k = Math.max(2, new Set(split("train")).size);
  const single = opts.lambda1 !== undefined || opts.lambda2 !== undefined;
  const need =
    designMemoryBytes(d, rows) +
    (single ? probeMemoryBytes(d, k, rows.train) : gridMemoryBytes(d, k, rows.train, LAMBDA_GRID.length));
  const bound = opts.maxMemoryBytes ?? defaultMemoryBound();
  if (need <= bound) return;
  const fit = Math.max(1, Math.floor((bound / need) * layers.length));
  throw new UserError(
    `probe: ${d} neurons over ${rows.train}/${rows.valid}/${rows.test} rows need about ${fmtGiB(need)} (activations ${fmtGiB(designMemoryBytes(d, rows))}, ${single ? "one probe" : `${LAMBDA_GRID.length} grid probes fitted together`}), over the memory bound of ${fmtGiB(bound)} (this machine has ${fmtGiB(totalmem())}): probe fewer neurons (--layers with about ${fit} of the ${layers.length} layers, or --neurons), or raise the bound with --max-memory <GiB> on a machine with more memory`,
  );
}

/** The warnings the stores' index.json files carry (mostly unknown words), each store once. */
function storeWarnings(stores: SplitStores): string[] {
  const out: string[] = [];
  for (const store of new Set(Object.values(stores)))
    for (const w of store.index.warnings ?? []) out.push(`store ${store.dir}: ${w}`);
  return out;
}

function checkOptions(opts: ProbeStageOptions): void {
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

/** A split's activations (rows in task order) and labels. */
async function readSplit(
  store: ActivationStore,
  split: TaskSplit,
  columns: { neurons: number[]; site: Site },
  file: string,
): Promise<SplitData> {
  if (split.label.length === 0) throw new InputError(file, "no rows (after --classes)");
  return { x: await readTaskActivations(store, split, columns, file), labels: split.label };
}

interface Fitted {
  probe: LogisticProbe;
  trainDesign: DesignMatrix;
  validDesign: DesignMatrix;
  testDesign: DesignMatrix;
  grid?: GridPoint[];
}

async function fitProbe(
  train: SplitData,
  valid: SplitData,
  test: SplitData,
  classes: string[],
  opts: ProbeStageOptions,
): Promise<Fitted> {
  // The store gave us fresh matrices: standardize them in place (no second copy; the raw values are
  // not read again, and the control probe reuses these designs).
  const trainDesign = DesignMatrix.build(train.x, { inPlace: true });
  const std = trainDesign.standardizer;
  const validDesign = DesignMatrix.wrap(std.apply(valid.x, { inPlace: true }), std);
  const testDesign = DesignMatrix.wrap(std.apply(test.x, { inPlace: true }), std);
  const single = opts.lambda1 !== undefined || opts.lambda2 !== undefined;
  const common = { patience: opts.patience, maxIter: opts.maxIter };
  if (single) {
    log(
      `probe: fitting λ1=${opts.lambda1 ?? 0} λ2=${opts.lambda2 ?? 0} on ${train.x.rows} × ${train.x.cols}`,
    );
    const probe = new LogisticProbe({ ...common, lambda1: opts.lambda1 ?? 0, lambda2: opts.lambda2 ?? 0 });
    await probe.fit(trainDesign, train.labels, { valid: { x: validDesign, y: valid.labels }, classes });
    return { probe, trainDesign, validDesign, testDesign };
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
      test: { x: testDesign, y: test.labels },
      onProgress: (done) => bar.update(done),
    },
  );
  bar.finish(`best λ1=${r.best.lambda1} λ2=${r.best.lambda2} dev acc ${r.best.dev.accuracy.toFixed(4)}`);
  return { probe: r.probe, trainDesign, validDesign, testDesign, grid: r.points };
}

/** Whether two task splits list the same rows (sentence and word), whatever their labels. */
function sameRows(a: TaskSplit, b: TaskSplit): boolean {
  return (
    a.sentence.length === b.sentence.length &&
    a.sentence.every((v, i) => v === b.sentence[i] && a.word[i] === b.word[i])
  );
}

/**
 * The control probe (probe/control.ts) on the same neurons and rows with the chosen λs. When the
 * control task lists the real task's rows (as `codeneurons task` writes it), the real probe's
 * standardized designs serve it (the same values fitControlProbe would make from the raw rows);
 * otherwise its rows are read.
 */
async function controlAccuracy(
  stores: SplitStores,
  opts: ProbeStageOptions,
  columns: { neurons: number[]; site: Site },
  probe: LogisticProbe,
  realClasses: string[],
  real: { task: Task; fitted: Fitted },
): Promise<{ valid: number; test: number }> {
  const task = await readTask(opts.task, { control: true });
  const dir = join(opts.task, "control");
  // With --classes the two tasks keep different rows (each by its own labels).
  const reuse = !opts.classes && SPLITS.every((s) => sameRows(real.task[s], task[s]));
  const designs = {
    train: real.fitted.trainDesign,
    valid: real.fitted.validDesign,
    test: real.fitted.testDesign,
  };
  const read = async (name: SplitName): Promise<{ x: DesignMatrix | Matrix; labels: string[] }> =>
    reuse
      ? { x: designs[name], labels: task[name].label }
      : readSplit(stores[name], filterClasses(task[name], opts.classes), columns, join(dir, `${name}.tsv`));
  const train = await read("train");
  const valid = await read("valid");
  const test = await read("test");
  log(`probe: control task with λ1=${probe.lambda1} λ2=${probe.lambda2}`);
  const fit = await fitControlProbe(
    {
      train: { x: train.x, y: train.labels },
      valid: { x: valid.x, y: valid.labels },
      test: { x: test.x, y: test.labels },
    },
    {
      lambda1: probe.lambda1,
      lambda2: probe.lambda2,
      patience: opts.patience,
      maxIter: opts.maxIter,
      classes: controlClasses(realClasses, [...train.labels, ...valid.labels, ...test.labels]),
    },
  );
  return { valid: fit.valid.accuracy, test: fit.test.accuracy };
}

function summarize(
  opts: ProbeStageOptions,
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
  const accuracy = {
    train: metrics.train.accuracy,
    valid: metrics.valid.accuracy,
    test: metrics.test.accuracy,
  };
  return {
    out: opts.out,
    site,
    control: opts.control === true,
    lambda1: probe.lambda1,
    lambda2: probe.lambda2,
    neurons,
    rows: { train: metrics.train.rows, valid: metrics.valid.rows, test: metrics.test.rows },
    accuracy,
    interceptOnly: {
      valid: interceptOnlyAccuracy(trainCodes, encodeLabels(valid.labels, classes).codes, k),
      test: interceptOnlyAccuracy(trainCodes, encodeLabels(test.labels, classes).codes, k),
    },
    ...(control ? { controlAccuracy: control, selectivity: selectivityOf(accuracy, control) } : {}),
  };
}

async function writeOutputs(
  opts: ProbeStageOptions,
  r: {
    probe: LogisticProbe;
    neurons: number[];
    space: NeuronSpace;
    meta: ActivationStore["meta"];
    metrics: Record<SplitName, ClassificationMetrics>;
    grid?: GridPoint[];
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
    // The inputs (columns of `weights`) are these neurons; the concepts stage reads them.
    neurons,
    ...where,
    task: opts.task,
    controlTask: opts.control === true,
  });
  const metricsFile: ProbeMetricsFile = {
    format: METRICS_FORMAT,
    version: METRICS_VERSION,
    ...r.summary,
    ...where,
    task: opts.task,
    classes: r.classes,
    fit: probe.fitInfo,
    train: r.metrics.train,
    valid: r.metrics.valid,
    test: r.metrics.test,
    ...(r.grid ? { grid: r.grid } : {}),
  };
  await writeJsonAtomic(join(opts.out, "metrics.json"), metricsFile);
  const weights = probe.weightsByOutput();
  const stride = opts.stride ?? 100;
  const lca = neuronOrdering(weights, stride);
  const percentage = opts.percentage ?? 0.05;
  const top = topNeurons(weights, percentage);
  const seed = opts.seed ?? 1;
  const rankings: RankingsFile = {
    format: RANKINGS_FORMAT,
    version: RANKINGS_VERSION,
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
  };
  await writeJsonAtomic(join(opts.out, "rankings.json"), rankings);
}
