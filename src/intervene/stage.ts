import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseConcepts } from "../concepts/format.js";
import type { SplitName } from "../data/splits.js";
import { readTask, type TaskSplit } from "../data/task/tsv.js";
import { compileInterventions, type InterventionSpec, type UnitEdit } from "../model/intervention.js";
import { parseProbeFile } from "../probe/format.js";
import { LogisticProbe } from "../probe/logistic.js";
import {
  type ActivationStore,
  closeSplitStores,
  openSplitStores,
  readTaskActivations,
  storeRowsOfTask,
} from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { UserError } from "../util/errors.js";
import { readJsonFile } from "../util/json.js";
import type { Matrix } from "../util/matrix.js";
import { type NeuronSpace, neuronName, neuronSpace, type Site, siteLayers } from "../util/neurons.js";
import { Progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { secondsSince, writeRunRecord } from "../util/run-record.js";
import {
  chooseEvaluation,
  type EditableModel,
  type EvaluationPlan,
  openEditableModel,
  planEvaluation,
  type RowScores,
  scoreRows,
  type TaskRowRef,
} from "./evaluate.js";
import {
  type Evaluation,
  type Experiment,
  INTERVENTION_FORMAT,
  INTERVENTION_VERSION,
  type InterventionResults,
  type Scores,
} from "./format.js";
import { classRanking, type NeuronSelection, type SelectionContext, selectNeurons } from "./neurons.js";

/**
 * The intervention stage (`codeneurons intervene`): change chosen neurons inside the model's forward
 * pass and measure the model's own predictions on a task split's rows, per class — against the same
 * model unchanged and against random neuron sets of the same size, site and layers. Reads a results
 * directory of `codeneurons run` (activations/, task/, probe/probe.json, concepts/concepts.json) and
 * writes OUT/intervention.json (intervene/format.ts) and OUT/run-record.json.
 */
export interface InterventionStageOptions {
  /** A results directory of `codeneurons run`. */
  results: string;
  /** The model (directory or hub id); default the one the stores were extracted from. */
  model?: string;
  /** One experiment per spec (intervene/neurons.ts). */
  neurons?: readonly string[];
  /**
   * Effect of the top-K neurons of `class` for each K of `ks`. A K beyond the class's ranking is an
   * error, unless `clip` (`codeneurons run`, whose config cannot know the ranking's length): then it is
   * left out, and the whole ranking is the last point.
   */
  sweep?: { class: string; ks?: readonly number[]; clip?: boolean };
  /** zero | mean | scale:K | set:V. */
  mode: string;
  /** Neuron site; default the probe's. */
  site?: Site;
  /** Random neuron sets per experiment (default 10). */
  controls?: number;
  seed?: number;
  split?: SplitName;
  evaluation?: Evaluation | "auto";
  batchTokens?: number;
  threads?: number;
  out: string;
  quiet?: boolean;
}

export const DEFAULT_SWEEP_KS = [1, 2, 5, 10, 20, 50, 100] as const;

export interface InterventionMode {
  kind: "zero" | "mean" | "scale" | "set";
  value: number | null;
}

export function parseMode(text: string): InterventionMode {
  const t = text.trim();
  if (t === "zero" || t === "mean") return { kind: t, value: null };
  const m = /^(scale|set):(.+)$/.exec(t);
  const value = m ? Number(m[2]) : Number.NaN;
  if (!m || !Number.isFinite(value)) {
    throw new UserError(`--mode: zero, mean, scale:K or set:V (K and V finite numbers); got '${text}'`);
  }
  return { kind: m[1] as "scale" | "set", value };
}

interface Inputs {
  model: EditableModel;
  space: NeuronSpace;
  layers: number[];
  rows: TaskRowRef[];
  classes: string[];
  train: ActivationStore;
  selection: SelectionContext;
}

/** What an intervention run works on, set up once: the model, the evaluation plan, the neuron sets. */
export interface InterventionSetup {
  readonly model: EditableModel;
  readonly plan: EvaluationPlan;
  readonly rows: readonly TaskRowRef[];
  readonly classes: readonly string[];
  readonly space: NeuronSpace;
  readonly layers: readonly number[];
  readonly selections: readonly NeuronSelection[];
  /** The sweep's K values (its experiments are the last selections). */
  readonly sweepKs: readonly number[];
  readonly mode: InterventionMode;
  readonly modelSource: string;
  /** Edits of a neuron set in this run's mode (means from the train split). */
  editsOf(ids: readonly number[]): Promise<UnitEdit[]>;
  /** Scores every row with `edits`. */
  score(edits: readonly UnitEdit[]): Promise<RowScores>;
  close(): Promise<void>;
}

/**
 * Reads the results directory, resolves and checks every argument (neuron sets, classes, K, the head
 * the evaluation needs) before any forward pass, opens the model and plans the batches.
 */
export async function setUpIntervention(opts: InterventionStageOptions): Promise<InterventionSetup> {
  const mode = parseMode(opts.mode);
  const split = opts.split ?? "test";
  if ((opts.neurons?.length ?? 0) === 0 && !opts.sweep) {
    throw new UserError("nothing to do: give --neurons and/or --sweep CLASS");
  }
  const probeFile = join(opts.results, "probe", "probe.json");
  const probe = await readJsonFile(
    probeFile,
    parseProbeFile,
    "no probe.json: is this a results directory of `codeneurons run`?",
  );
  const site: Site = opts.site ?? probe.site ?? "hidden";
  const stores = await openSplitStores(join(opts.results, "activations"));
  let model: EditableModel | null = null;
  try {
    const taskDir = join(opts.results, "task");
    const task = await readTask(taskDir);
    const taskSplit: TaskSplit = task[split];
    const store = stores[split];
    const space = neuronSpace(site, store.dimOf(site));
    const layers = siteLayers(site, store.meta.layers);
    const conceptsFile = join(opts.results, "concepts", "concepts.json");
    const concepts = existsSync(conceptsFile) ? await readJsonFile(conceptsFile, parseConcepts) : null;
    const selection: SelectionContext = { space, layers, probe, probeFile, concepts, conceptsFile };
    const selections: NeuronSelection[] = [];
    for (const spec of opts.neurons ?? []) selections.push(await selectNeurons(spec, selection));
    let sweepKs: number[] = [];
    if (opts.sweep) {
      const ranking = classRanking(selection, opts.sweep.class);
      sweepKs = sweepSizes(ranking.length, opts.sweep.ks, opts.sweep.clip ?? false);
      for (const k of sweepKs)
        selections.push({ label: `top:${opts.sweep.class}:${k}`, ids: ranking.slice(0, k) });
    }
    const storeRows = storeRowsOfTask(store, taskSplit, join(taskDir, `${split}.tsv`));
    const rows: TaskRowRef[] = Array.from(storeRows, (_, i) => ({
      sentence: store.words(taskSplit.sentence[i]),
      sentenceId: taskSplit.sentence[i],
      word: taskSplit.word[i],
      label: taskSplit.label[i],
    }));
    const classes = [...new Set(taskSplit.label)].sort();

    const modelSource = opts.model ?? store.meta.model;
    model = await openEditableModel(modelSource, opts.threads);
    const opened = model;
    if (
      opened.config.hiddenSize !== store.meta.hidden ||
      opened.config.numLayers !== Math.max(...store.meta.layers)
    ) {
      throw new UserError(
        `--model ${modelSource} is not the model of the stores in ${opts.results} (hidden ${opened.config.hiddenSize} vs ${store.meta.hidden})`,
      );
    }
    const evaluation = chooseEvaluation(opened, opts.evaluation ?? "auto");
    const plan = planEvaluation(opened, evaluation, rows, opts.batchTokens ?? 1024);
    const inputs: Inputs = { model: opened, space, layers, rows, classes, train: stores.train, selection };
    const words =
      evaluation === "probe"
        ? await lastLayerProbe(inputs, task.train, join(taskDir, "train.tsv"), probe)
        : undefined;
    const means = new NeuronMeans(stores.train, space);
    return {
      model: opened,
      plan,
      rows,
      classes,
      space,
      layers,
      selections,
      sweepKs,
      mode,
      modelSource,
      editsOf: (ids) => editsOf(ids, mode, space, opened, means),
      score: (edits) => scoreRows(opened, plan, rows.length, edits, words),
      async close() {
        await opened.release();
        closeSplitStores(stores);
      },
    };
  } catch (e) {
    await model?.release();
    closeSplitStores(stores);
    throw e;
  }
}

export async function runInterventionStage(opts: InterventionStageOptions): Promise<InterventionResults> {
  const t0 = performance.now();
  const controls = opts.controls ?? 10;
  if (!Number.isInteger(controls) || controls < 0)
    throw new UserError(`--controls: a count >= 0; got ${controls}`);
  const seed = opts.seed ?? 1;
  const setup = await setUpIntervention(opts);
  try {
    const { rows, classes, space, layers, selections, sweepKs, plan } = setup;
    const evaluation = plan.evaluation;
    const runs = selections.length * (1 + controls) + 1;
    const progress = new Progress("intervene", runs, { quiet: opts.quiet, unit: "runs" });
    const baseline = summarize(await setup.score([]), rows, classes, evaluation);
    progress.tick();
    const rng = new Rng(seed);
    const experiments: Experiment[] = [];
    for (const sel of selections) {
      const after = summarize(await setup.score(await setup.editsOf(sel.ids)), rows, classes, evaluation);
      progress.tick();
      const sets: number[][] = [];
      const controlScores: Scores[] = [];
      for (let c = 0; c < controls; c++) {
        const ids = matchedRandomSet(sel.ids, space, layers, rng);
        sets.push(ids);
        controlScores.push(summarize(await setup.score(await setup.editsOf(ids)), rows, classes, evaluation));
        progress.tick();
      }
      experiments.push({
        label: sel.label,
        neurons: sel.ids.map((id) => neuronName(id, space)),
        ids: [...sel.ids],
        after,
        controls: {
          overall: spreadOf(controlScores.map((s) => s.overall)),
          perClass: Object.fromEntries(
            classes.map((c) => [c, spreadOf(controlScores.map((s) => s.perClass[c]))]),
          ),
          sets,
        },
      });
    }
    progress.finish();
    const firstSweep = selections.length - sweepKs.length;
    const results: InterventionResults = {
      format: INTERVENTION_FORMAT,
      version: INTERVENTION_VERSION,
      model: setup.modelSource,
      modelType: setup.model.config.modelType,
      evaluation,
      results: opts.results,
      split: opts.split ?? "test",
      site: space.site,
      width: space.width,
      mode: opts.mode.trim(),
      controls: { count: controls, seed, matching: "same-layers" },
      skippedRows: plan.skipped,
      classes: [...classes],
      baseline,
      experiments,
      sweep: opts.sweep
        ? { class: opts.sweep.class, points: sweepKs.map((k, i) => ({ k, experiment: firstSweep + i })) }
        : null,
    };
    await writeJsonAtomic(join(opts.out, "intervention.json"), results);
    await writeRunRecord(opts.out, "intervene", { total: secondsSince(t0) }, { runs });
    return results;
  } finally {
    await setup.close();
  }
}

/**
 * The sweep's K values: the given ones (or 1, 2, 5, 10, 20, 50, 100) up to the class's ranking. Given
 * ones beyond it are an error unless `clip`, which replaces them by the ranking's length.
 */
function sweepSizes(rankingLength: number, ks: readonly number[] | undefined, clip: boolean): number[] {
  const wanted = ks ?? DEFAULT_SWEEP_KS;
  for (const k of wanted) {
    if (!Number.isInteger(k) || k < 1) throw new UserError(`--ks: positive integers; got ${k}`);
  }
  if (ks && clip) {
    const kept = [...new Set(ks.map((k) => Math.min(k, rankingLength)))];
    return kept.sort((a, b) => a - b);
  }
  if (ks) {
    const over = ks.filter((k) => k > rankingLength);
    if (over.length > 0) {
      throw new UserError(
        `--ks ${over.join(",")}: larger than the class's ranking (${rankingLength} neurons with a nonzero weight)`,
      );
    }
    return [...new Set(ks)].sort((a, b) => a - b);
  }
  const out = wanted.filter((k) => k <= rankingLength);
  return out.length > 0 ? out : [rankingLength];
}

/** Per-neuron means over every row of the train store, read when first asked for. */
class NeuronMeans {
  private readonly cache = new Map<number, number>();

  constructor(
    private readonly store: ActivationStore,
    private readonly space: NeuronSpace,
  ) {}

  async of(ids: readonly number[]): Promise<number[]> {
    const missing = [...new Set(ids.filter((id) => !this.cache.has(id)))];
    if (missing.length > 0) {
      const rows = Array.from({ length: this.store.meta.numRows }, (_, i) => i);
      const m = await this.store.readRows(rows, { neurons: missing, site: this.space.site });
      missing.forEach((id, j) => {
        let sum = 0;
        for (let r = 0; r < m.rows; r++) sum += m.data[r * m.cols + j];
        this.cache.set(id, sum / m.rows);
      });
    }
    return ids.map((id) => this.cache.get(id) as number);
  }
}

async function editsOf(
  ids: readonly number[],
  mode: InterventionMode,
  space: NeuronSpace,
  model: EditableModel,
  means: NeuronMeans,
): Promise<UnitEdit[]> {
  const byLayer = new Map<number, { units: number[]; values: number[] }>();
  const values = mode.kind === "mean" ? await means.of(ids) : null;
  ids.forEach((id, i) => {
    const layer = Math.floor(id / space.width);
    const entry = byLayer.get(layer) ?? { units: [], values: [] };
    entry.units.push(id % space.width);
    entry.values.push(values ? values[i] : (mode.value ?? 0));
    byLayer.set(layer, entry);
  });
  const specs: InterventionSpec[] = [...byLayer].map(([layer, e]) => ({
    site: space.site,
    layer,
    units: e.units,
    mode: mode.kind === "mean" ? "set" : mode.kind,
    value: mode.kind === "zero" ? undefined : e.values,
  }));
  const cfg = model.config;
  return compileInterventions(specs, {
    hidden: cfg.hiddenSize,
    mlp: cfg.intermediateSize,
    layers: cfg.numLayers,
  });
}

/** As many random neurons from each layer as `ids` has there, none of `ids` (seeded, reproducible). */
export function matchedRandomSet(
  ids: readonly number[],
  space: NeuronSpace,
  layers: readonly number[],
  rng: Rng,
): number[] {
  const chosen = new Set(ids);
  const perLayer = new Map<number, number>();
  for (const id of ids) {
    const l = Math.floor(id / space.width);
    perLayer.set(l, (perLayer.get(l) ?? 0) + 1);
  }
  const out: number[] = [];
  for (const [layer, count] of [...perLayer].sort((a, b) => a[0] - b[0])) {
    if (!layers.includes(layer)) throw new UserError(`neuron layer ${layer} is not among the stored layers`);
    const pool: number[] = [];
    for (let u = 0; u < space.width; u++) {
      const id = layer * space.width + u;
      if (!chosen.has(id)) pool.push(id);
    }
    if (pool.length < count) {
      throw new UserError(
        `layer ${layer} has too few other neurons (${pool.length}) for a random control of ${count}`,
      );
    }
    // Partial Fisher–Yates: the first `count` of a seeded shuffle.
    for (let i = 0; i < count; i++) {
      const j = i + rng.int(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
      out.push(pool[i]);
    }
  }
  return out;
}

function summarize(
  scores: RowScores,
  rows: readonly TaskRowRef[],
  classes: readonly string[],
  evaluation: Evaluation,
): Scores {
  const acc = (filter: (i: number) => boolean) => {
    let n = 0;
    let right = 0;
    let nll = 0;
    for (let i = 0; i < rows.length; i++) {
      if (!scores.scored[i] || !filter(i)) continue;
      n++;
      right += scores.correct[i];
      nll -= scores.logProb[i];
    }
    return {
      rows: n,
      accuracy: n > 0 ? right / n : 0,
      loss: evaluation === "probe" ? null : n > 0 ? nll / n : 0,
    };
  };
  return {
    overall: acc(() => true),
    perClass: Object.fromEntries(classes.map((c) => [c, acc((i) => rows[i].label === c)])),
  };
}

function spread(values: readonly number[]): { mean: number; sd: number } {
  if (values.length === 0) return { mean: 0, sd: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  if (values.length === 1) return { mean, sd: 0 };
  const v = values.reduce((s, x) => s + (x - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(v) };
}

function spreadOf(scores: readonly { accuracy: number; loss: number | null }[]) {
  return {
    accuracy: spread(scores.map((s) => s.accuracy)),
    loss: scores.length > 0 && scores[0].loss !== null ? spread(scores.map((s) => s.loss as number)) : null,
  };
}

/**
 * For models without a prediction head: a probe on the last layer's word vectors (the oracle's λs),
 * trained on the train split's stored vectors; an intervention on an earlier layer is then measured by
 * this probe's accuracy on the recomputed last layer.
 */
async function lastLayerProbe(
  inputs: Inputs,
  train: TaskSplit,
  trainFile: string,
  oracle: { lambda1: number; lambda2: number },
): Promise<(vectors: Matrix, rows: readonly number[]) => Promise<Uint8Array>> {
  const L = inputs.model.config.numLayers;
  const x = await readTaskActivations(inputs.train, train, { layers: [L], site: "hidden" }, trainFile);
  const probe = await new LogisticProbe({ lambda1: oracle.lambda1, lambda2: oracle.lambda2 }).fit(
    x,
    train.label,
  );
  return async (vectors, rows) => {
    const predicted = await probe.predictLabels(vectors);
    return Uint8Array.from(rows, (row, i) => (predicted[i] === inputs.rows[row].label ? 1 : 0));
  };
}
