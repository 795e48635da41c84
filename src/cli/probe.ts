import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { decodeToken } from "../data/escape.js";
import { readTask, type TaskSplit } from "../data/task/tsv.js";
import { DesignMatrix } from "../linalg/design.js";
import { type GridPoint, gridSearch, LAMBDA_GRID } from "../probe/grid.js";
import { encodeLabels } from "../probe/labels.js";
import { LogisticProbe } from "../probe/logistic.js";
import { type ClassificationMetrics, interceptOnlyAccuracy, selectivity } from "../probe/metrics.js";
import { randomOrdering } from "../rank/ablation.js";
import { neuronOrdering, topNeurons } from "../rank/lca.js";
import { probelessRanking } from "../rank/probeless.js";
import { type ActivationStore, closeSplitStores, openSplitStores, type SplitStores } from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { errorMessage, InputError, UserError } from "../util/errors.js";
import type { Matrix } from "../util/matrix.js";
import { neuronIdsOfLayers, neuronName, parseNeuronName } from "../util/neurons.js";
import { log, Progress } from "../util/progress.js";
import { action, parseFloatOption, parseIntList, parseIntOption, printJson } from "./common.js";

export interface ProbeCommandOptions {
  store: string;
  task: string;
  out: string;
  layers?: number[];
  neurons?: string;
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

export function register(program: Command): void {
  program
    .command("probe")
    .description(
      "Train a linear probe (elastic-net logistic regression, NeuroX's objective) on stored activations for a token-tagging task; tune λ1, λ2 on the dev split; write the probe, its train/valid/test metrics and neuron rankings (LCA, per-class top neurons, probeless, random) as JSON.",
    )
    .requiredOption("--store <dir>", "activation store, or a directory with train/, valid/, test/ stores")
    .requiredOption("--task <dir>", "task directory with {train,valid,test}.tsv (from `codeneurons task`)")
    .requiredOption("--out <dir>", "output directory (probe.json, metrics.json, rankings.json)")
    .option(
      "--layers <list>",
      "only these layers, e.g. 0,3-5 (default: all stored layers)",
      parseIntList("layers"),
    )
    .option(
      "--neurons <file>",
      "only these neurons: JSON list (or {neurons: [...]}) or text of ids / L{layer}:{unit} names",
    )
    .option("--classes <list>", "only rows of these classes, e.g. IDENT,NUMBER (default: all)", (v: string) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .option("--control", "train on the control task (DIR/control/) instead")
    .option("--selectivity", "also train on the control task with the chosen λs and report selectivity")
    .option("--lambda1 <x>", "L1 weight (no grid search when λ1 or λ2 is given)", parseFloatOption("lambda1"))
    .option("--lambda2 <x>", "L2 (Frobenius) weight", parseFloatOption("lambda2"))
    .option("--grid", "tune λ1, λ2 over {0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1}² on the dev split (the default)")
    .option("--seed <n>", "seed of the random ordering baseline", parseIntOption("seed", 0), 1)
    .option(
      "--patience <n>",
      "early stopping: iterations without dev improvement (accuracy, then loss); 0 = off",
      parseIntOption("patience", 0),
      5,
    )
    .option("--max-iter <n>", "iterations per fit at most", parseIntOption("max-iter", 1), 500)
    .option("--stride <n>", "LCA ordering steps of weight mass", parseIntOption("stride", 1), 100)
    .option(
      "--percentage <p>",
      "weight mass for the per-class top neurons",
      parseFloatOption("percentage"),
      0.05,
    )
    .option("--json", "print a summary as JSON on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(async (opts: ProbeCommandOptions & { json?: boolean }) => {
        const summary = await runProbe(opts);
        if (opts.json) printJson(summary);
        else printSummary(summary);
      }),
    );
}

export interface ProbeSummary {
  out: string;
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
export async function runProbe(opts: ProbeCommandOptions): Promise<ProbeSummary> {
  const t0 = performance.now();
  checkOptions(opts);
  const stores = await openSplitStores(opts.store);
  try {
    const meta = stores.train.meta;
    if (meta.level !== "word")
      throw new InputError(opts.store, "probing a token task needs a word-level store");
    const neurons = opts.neurons
      ? await readNeuronList(opts.neurons, meta.hidden, meta.layers)
      : neuronIdsOfLayers(checkLayers(opts.layers ?? meta.layers, meta.layers, opts.store), meta.hidden);
    const task = await readTask(opts.task, { control: opts.control });
    const taskDir = opts.control ? join(opts.task, "control") : opts.task;
    const read = async (name: "train" | "valid" | "test", split: TaskSplit) =>
      readSplit(stores, name, filterClasses(split, opts.classes), neurons, join(taskDir, `${name}.tsv`));
    log(`probe: reading ${neurons.length} neurons for ${task.train.label.length} train rows`);
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
      ? await controlAccuracy(stores, opts, neurons, probe, classes)
      : undefined;
    const summary = summarize(
      opts,
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

function checkOptions(opts: ProbeCommandOptions): void {
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

function checkLayers(layers: number[], stored: number[], storeDir: string): number[] {
  for (const l of layers)
    if (!stored.includes(l))
      throw new InputError(storeDir, `layer ${l} is not stored (layers ${stored.join(",")})`);
  return layers;
}

/** Neuron list file: JSON array (or {neurons: [...]}) of ids or names, or whitespace/comma-separated text. */
export async function readNeuronList(file: string, hidden: number, layers: number[]): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${errorMessage(e)})`);
  }
  return parseNeuronList(text, file, hidden, layers);
}

export function parseNeuronList(text: string, file: string, hidden: number, layers: number[]): number[] {
  let items: { value: unknown; where: { line?: number; field?: string } }[];
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new InputError(file, `not valid JSON: ${errorMessage(e)}`);
    }
    const list = Array.isArray(value) ? value : (value as { neurons?: unknown } | null)?.neurons;
    if (!Array.isArray(list))
      throw new InputError(file, "expected a JSON list of neurons", { field: "neurons" });
    items = list.map((v, i) => ({ value: v, where: { field: `neurons[${i}]` } }));
  } else {
    items = [];
    text.split("\n").forEach((line, i) => {
      for (const tok of line.split(/[\s,]+/).filter(Boolean))
        items.push({ value: tok, where: { line: i + 1 } });
    });
  }
  const seen = new Set<number>();
  const out: number[] = [];
  for (const { value, where } of items) {
    const id = neuronOf(value, hidden, file, where);
    if (!layers.includes(Math.floor(id / hidden)))
      throw new InputError(
        file,
        `neuron ${neuronName(id, hidden)} is in a layer the store does not hold`,
        where,
      );
    if (!seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  if (out.length === 0) throw new InputError(file, "the neuron list is empty");
  return out;
}

function neuronOf(
  value: unknown,
  hidden: number,
  file: string,
  where: { line?: number; field?: string },
): number {
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
    const id = Number(value);
    if (Number.isSafeInteger(id) && id >= 0) return id;
  } else if (typeof value === "string") {
    try {
      return parseNeuronName(value, hidden);
    } catch (e) {
      throw new InputError(file, errorMessage(e), where);
    }
  }
  throw new InputError(file, `'${String(value)}' is not a neuron id or L{layer}:{unit} name`, where);
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
  name: "train" | "valid" | "test",
  split: TaskSplit,
  neurons: number[],
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
  return { x: await store.readRows(rows, { neurons }), labels: split.label };
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
  opts: ProbeCommandOptions,
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
  opts: ProbeCommandOptions,
  neurons: number[],
  probe: LogisticProbe,
  realClasses: string[],
): Promise<{ valid: number; test: number }> {
  const task = await readTask(opts.task, { control: true });
  const dir = join(opts.task, "control");
  const read = (name: "train" | "valid" | "test", split: TaskSplit) =>
    readSplit(stores, name, filterClasses(split, opts.classes), neurons, join(dir, `${name}.tsv`));
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
  opts: ProbeCommandOptions,
  probe: LogisticProbe,
  neurons: number,
  metrics: Record<"train" | "valid" | "test", ClassificationMetrics>,
  trainCodes: Int32Array,
  classes: string[],
  valid: SplitData,
  test: SplitData,
  control?: { valid: number; test: number },
): ProbeSummary {
  const k = classes.length;
  return {
    out: opts.out,
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
  opts: ProbeCommandOptions,
  r: {
    probe: LogisticProbe;
    neurons: number[];
    meta: ActivationStore["meta"];
    metrics: Record<"train" | "valid" | "test", ClassificationMetrics>;
    fitted: Fitted;
    summary: ProbeSummary;
    probeless: ReturnType<typeof probelessRanking>;
    classes: string[];
  },
): Promise<void> {
  const { probe, neurons, meta } = r;
  const ids = (cols: ArrayLike<number>) => Array.from(cols, (c) => neurons[c]);
  const where = {
    model: meta.model,
    hidden: meta.hidden,
    layers: [...new Set(neurons.map((n) => Math.floor(n / meta.hidden)))],
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
    hidden: meta.hidden,
    neurons: neurons.length,
    lca: { stride, ordering: ids(lca.ordering), cutoffs: lca.cutoffs },
    bottom: { stride, ordering: ids(neuronOrdering(weights, stride, { bottom: true }).ordering) },
    topNeurons: {
      percentage,
      union: ids(top.union),
      perClass: Object.fromEntries(probe.classes.map((c, i) => [c, ids(top.perClass[i])])),
      names: Object.fromEntries(
        probe.classes.map((c, i) => [c, top.perClass[i].map((j) => neuronName(neurons[j], meta.hidden))]),
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

function printSummary(s: ProbeSummary): void {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const lines = [
    `probe${s.control ? " (control task)" : ""}: ${s.neurons} neurons, λ1=${s.lambda1} λ2=${s.lambda2}`,
    `  accuracy  train ${pct(s.accuracy.train)}  valid ${pct(s.accuracy.valid)}  test ${pct(s.accuracy.test)}`,
    `  intercept-only baseline  valid ${pct(s.interceptOnly.valid)}  test ${pct(s.interceptOnly.test)}`,
  ];
  if (s.selectivity && s.controlAccuracy)
    lines.push(
      `  control task  test ${pct(s.controlAccuracy.test)}  selectivity ${(100 * s.selectivity.test).toFixed(2)} points`,
    );
  lines.push(`  wrote ${join(s.out, "probe.json")}, metrics.json, rankings.json (${s.seconds.toFixed(1)} s)`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
