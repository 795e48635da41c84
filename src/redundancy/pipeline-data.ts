import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkClassesKnown, readSplit } from "../cli/probe.js";
import { decodeToken } from "../data/escape.js";
import { readText, splitLines } from "../data/io.js";
import { readSentenceSplit, type SentenceSplit } from "../data/sentence/index.js";
import { readTask, type Task, type TaskSplit } from "../data/task/tsv.js";
import { encodeLabels } from "../probe/labels.js";
import { type ActivationStore, closeSplitStores, openSplitStores, type SplitStores } from "../store/index.js";
import { InputError } from "../util/errors.js";
import { type Matrix, matrix } from "../util/matrix.js";
import { neuronIdsOfLayers } from "../util/neurons.js";
import { log } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import type { RedundancyInput } from "./results.js";

/**
 * The pipeline's input: a task (token tagging: DIR/{train,valid,test}.tsv; sentence-level: the
 * DIR/<split>.in or DIR/<split>.a.in + .b.in files and DIR/<split>.label that `codeneurons task
 * sentence` writes) over activation stores. `describe` reads only the task files and store indexes
 * (cheap: enough to decide whether cached results are still valid); `load` reads the activations.
 *
 * Pair tasks: each row is the concatenation [v(a); v(b)] of the two sides' sentence vectors. The
 * stores of the b side come from `storeB`, or, when it is absent, `store` must hold a/ and b/, each a
 * store directory with train/, valid/, test/ (or one store).
 */
export interface PipelineInputOptions {
  store: string;
  storeB?: string;
  task: string;
  /** Seed of a generated control task (sentence-level tasks without control/ label files). */
  seed?: number;
}

export const SPLIT_NAMES = ["train", "valid", "test"] as const;
export type Split = (typeof SPLIT_NAMES)[number];

export interface LabelledRows {
  x: Matrix;
  y: Int32Array;
}

export interface ControlLabels {
  source: string;
  classes: string[];
  y: Record<Split, Int32Array>;
}

/** Activations of every split with the task's labels; columns are `columnIds` (full feature space). */
export interface PipelineData {
  train: LabelledRows;
  valid: LabelledRows;
  test: LabelledRows;
  control: ControlLabels | null;
}

/** Feature-space layout: sides × stored layers × hidden, layer-major within a side. */
export class FeatureSpace {
  constructor(
    readonly hidden: number,
    readonly layers: readonly number[],
    readonly sides: number,
  ) {}

  get perSide(): number {
    return this.layers.length * this.hidden;
  }

  get total(): number {
    return this.sides * this.perSide;
  }

  /** Offset of side s's neuron ids: (max layer + 1) × hidden per side. */
  get sideOffset(): number {
    return (Math.max(...this.layers) + 1) * this.hidden;
  }

  /** Global neuron id of full-matrix column c. */
  id(c: number): number {
    const side = Math.floor(c / this.perSide);
    const inSide = c - side * this.perSide;
    const layer = this.layers[Math.floor(inSide / this.hidden)];
    return side * this.sideOffset + layer * this.hidden + (inSide % this.hidden);
  }

  ids(columns: ArrayLike<number>): number[] {
    return Array.from(columns, (c) => this.id(c));
  }

  /** Columns of the first `count` stored layers (on every side). */
  prefixColumns(count: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.sides; s++)
      for (let c = 0; c < count * this.hidden; c++) out.push(s * this.perSide + c);
    return out;
  }

  /** Columns of stored layer index `index` (on every side). */
  layerColumns(index: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.sides; s++)
      for (let u = 0; u < this.hidden; u++) out.push(s * this.perSide + index * this.hidden + u);
    return out;
  }
}

export interface PipelineSource {
  input: RedundancyInput;
  space: FeatureSpace;
  load(): Promise<PipelineData>;
  close(): void;
}

function sha256(parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) {
    h.update(typeof p === "string" ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    h.update("\u0000");
  }
  return h.digest("hex");
}

async function fileHash(path: string): Promise<string> {
  try {
    return sha256([await readFile(path)]);
  } catch (e) {
    throw new InputError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** The store indexes (their shard checksums identify the activations) in split order. */
async function storeHashes(stores: SplitStores): Promise<string[]> {
  // Content, not the index file: a resumed extraction rewrites index.json with a new date.
  return SPLIT_NAMES.map((s) => stores[s].contentFingerprint());
}

function taskKind(task: string): "token" | "sentence" | "pair" {
  if (existsSync(join(task, "train.tsv"))) return "token";
  if (existsSync(join(task, "train.a.in"))) return "pair";
  if (existsSync(join(task, "train.in")) && existsSync(join(task, "train.label"))) return "sentence";
  throw new InputError(
    task,
    "is not a task directory: expected train.tsv (token tagging) or train.in / train.a.in + train.label (sentence-level)",
  );
}

function classesOf(trainLabels: readonly string[], file: string): string[] {
  const classes = [...new Set(trainLabels)].sort();
  if (classes.length < 2) throw new InputError(file, "the train split needs at least two classes");
  return classes;
}

function checkStores(stores: SplitStores, level: "word" | "sentence", where: string): void {
  for (const s of SPLIT_NAMES) {
    if (stores[s].meta.level !== level)
      throw new InputError(
        stores[s].dir,
        `is a ${stores[s].meta.level}-level store; this task needs ${level}-level`,
      );
  }
  const layers = stores.train.meta.layers;
  for (let i = 1; i < layers.length; i++)
    if (!(layers[i] > layers[i - 1]))
      throw new InputError(where, `stored layers must be increasing, got ${layers.join(",")}`);
}

/** Opens the stores and reads the task files; activations are read later by `load()`. */
export async function openPipelineSource(opts: PipelineInputOptions): Promise<PipelineSource> {
  const kind = taskKind(opts.task);
  return kind === "token" ? openTokenSource(opts) : openSentenceSource(opts, kind);
}

async function openTokenSource(opts: PipelineInputOptions): Promise<PipelineSource> {
  const stores = await openSplitStores(opts.store);
  try {
    checkStores(stores, "word", opts.store);
    const task = await readTask(opts.task);
    const controlDir = join(opts.task, "control");
    const hasControl = existsSync(join(controlDir, "train.tsv"));
    const control = hasControl ? await readTask(opts.task, { control: true }) : null;
    const classes = classesOf(task.train.label, join(opts.task, "train.tsv"));
    for (const s of ["valid", "test"] as const)
      checkClassesKnown({ x: matrix(0, 0), labels: task[s].label }, classes, join(opts.task, `${s}.tsv`));
    if (control) checkSameRows(task, control, controlDir);
    const taskFiles = SPLIT_NAMES.map((s) => join(opts.task, `${s}.tsv`));
    const controlFiles = hasControl ? SPLIT_NAMES.map((s) => join(controlDir, `${s}.tsv`)) : [];
    const fingerprint = sha256([
      "token",
      ...(await storeHashes(stores)),
      ...(await Promise.all([...taskFiles, ...controlFiles].map(fileHash))),
    ]);
    const meta = stores.train.meta;
    const space = new FeatureSpace(meta.hidden, meta.layers, 1);
    const input: RedundancyInput = {
      store: opts.store,
      task: opts.task,
      kind: "token",
      model: meta.model,
      hidden: meta.hidden,
      layers: [...meta.layers],
      sides: 1,
      classes,
      control: hasControl ? controlDir : null,
      rows: { train: task.train.label.length, valid: task.valid.label.length, test: task.test.label.length },
      fingerprint,
    };
    const load = async (): Promise<PipelineData> => {
      const neurons = neuronIdsOfLayers(meta.layers, meta.hidden);
      const split = async (s: Split): Promise<LabelledRows> => {
        const read = await readSplit(stores, s, task[s], neurons, join(opts.task, `${s}.tsv`));
        return { x: read.x, y: encodeLabels(read.labels, classes).codes };
      };
      log(`redundancy: reading ${neurons.length} neurons for ${input.rows.train} train tokens`);
      const data = { train: await split("train"), valid: await split("valid"), test: await split("test") };
      return { ...data, control: control ? controlLabelsOf(control, controlDir) : null };
    };
    return { input, space, load, close: () => closeSplitStores(stores) };
  } catch (e) {
    closeSplitStores(stores);
    throw e;
  }
}

/** The control task must label the real task's rows (only the labels differ). */
function checkSameRows(task: Task, control: Task, dir: string): void {
  for (const s of SPLIT_NAMES) {
    const a: TaskSplit = task[s];
    const b: TaskSplit = control[s];
    const same =
      a.sentence.length === b.sentence.length &&
      a.sentence.every((v, i) => v === b.sentence[i] && a.word[i] === b.word[i]);
    if (!same)
      throw new InputError(
        join(dir, `${s}.tsv`),
        "the control task must list the same rows as the real task",
      );
  }
}

function controlLabelsOf(control: Task, dir: string): ControlLabels {
  const all = SPLIT_NAMES.flatMap((s) => control[s].label);
  const classes = [...new Set(all)].sort();
  return {
    source: dir,
    classes,
    y: {
      train: encodeLabels(control.train.label, classes).codes,
      valid: encodeLabels(control.valid.label, classes).codes,
      test: encodeLabels(control.test.label, classes).codes,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Sentence-level tasks

async function pairStores(opts: PipelineInputOptions): Promise<[SplitStores, SplitStores]> {
  if (opts.storeB) return [await openSplitStores(opts.store), await openSplitStores(opts.storeB)];
  if (!existsSync(join(opts.store, "a")) || !existsSync(join(opts.store, "b")))
    throw new InputError(
      opts.store,
      "a pair task needs the stores of both sides: give --store-b, or a --store directory holding a/ and b/",
    );
  return [await openSplitStores(join(opts.store, "a")), await openSplitStores(join(opts.store, "b"))];
}

/** Rows of the store for each sentence, after checking that the store holds that sentence. */
function sentenceRows(store: ActivationStore, sentences: string[][], file: string): Int32Array {
  const rows = new Int32Array(sentences.length);
  sentences.forEach((words, i) => {
    const stored = i < store.numLines ? store.words(i) : [];
    const same = stored.length === words.length && stored.every((w, k) => decodeToken(w) === words[k]);
    if (!same)
      throw new InputError(file, `sentence ${i} is not the store's line ${i} (${store.dir})`, {
        line: i + 1,
      });
    rows[i] = store.row(i, 0);
  });
  return rows;
}

function hstack(a: Matrix, b: Matrix): Matrix {
  const out = matrix(a.rows, a.cols + b.cols);
  for (let r = 0; r < a.rows; r++) {
    out.data.set(a.data.subarray(r * a.cols, (r + 1) * a.cols), r * out.cols);
    out.data.set(b.data.subarray(r * b.cols, (r + 1) * b.cols), r * out.cols + a.cols);
  }
  return out;
}

async function openSentenceSource(
  opts: PipelineInputOptions,
  kind: "sentence" | "pair",
): Promise<PipelineSource> {
  const sides = kind === "pair" ? await pairStores(opts) : [await openSplitStores(opts.store)];
  const closeAll = () => {
    for (const s of sides) closeSplitStores(s);
  };
  try {
    for (const [i, st] of sides.entries())
      checkStores(st, "sentence", i === 0 ? opts.store : (opts.storeB ?? opts.store));
    const a = sides[0].train.meta;
    if (
      sides[1] &&
      (sides[1].train.meta.hidden !== a.hidden || `${sides[1].train.meta.layers}` !== `${a.layers}`)
    )
      throw new InputError(
        opts.storeB ?? join(opts.store, "b"),
        "the two sides' stores hold different layers",
      );
    const splits = {} as Record<Split, SentenceSplit>;
    for (const s of SPLIT_NAMES) splits[s] = await readSentenceSplit(opts.task, s);
    const classes = classesOf(splits.train.labels, join(opts.task, "train.label"));
    for (const s of ["valid", "test"] as const)
      checkClassesKnown(
        { x: matrix(0, 0), labels: splits[s].labels },
        classes,
        join(opts.task, `${s}.label`),
      );
    const suffixes = kind === "pair" ? [".a.in", ".b.in"] : [".in"];
    const taskFiles = SPLIT_NAMES.flatMap((s) =>
      [...suffixes, ".label"].map((x) => join(opts.task, `${s}${x}`)),
    );
    const controlFiles = SPLIT_NAMES.map((s) => join(opts.task, "control", `${s}.label`));
    const hasControl = controlFiles.every((f) => existsSync(f));
    const seed = opts.seed ?? 1;
    const fingerprint = sha256([
      kind,
      ...(await Promise.all(sides.map(storeHashes))).flat(),
      ...(await Promise.all([...taskFiles, ...(hasControl ? controlFiles : [])].map(fileHash))),
      hasControl ? "control-files" : "generated-control",
    ]);
    const space = new FeatureSpace(a.hidden, a.layers, sides.length);
    const input: RedundancyInput = {
      store: opts.store,
      ...(kind === "pair" ? { storeB: opts.storeB ?? join(opts.store, "b") } : {}),
      task: opts.task,
      kind,
      model: a.model,
      hidden: a.hidden,
      layers: [...a.layers],
      sides: sides.length,
      ...(kind === "pair" ? { sideOffset: space.sideOffset } : {}),
      classes,
      control: hasControl
        ? join(opts.task, "control")
        : `generated (seed ${seed}, one label per distinct ${kind === "pair" ? "pair" : "sentence"})`,
      rows: {
        train: splits.train.labels.length,
        valid: splits.valid.labels.length,
        test: splits.test.labels.length,
      },
      fingerprint,
    };
    const load = async (): Promise<PipelineData> => {
      const neurons = neuronIdsOfLayers(a.layers, a.hidden);
      const split = async (s: Split): Promise<LabelledRows> => {
        const sideSentences = kind === "pair" ? [splits[s].a, splits[s].b ?? []] : [splits[s].a];
        const parts: Matrix[] = [];
        for (const [i, st] of sides.entries()) {
          const file = join(opts.task, `${s}${suffixes[i]}`);
          parts.push(await st[s].readRows(sentenceRows(st[s], sideSentences[i], file), { neurons }));
        }
        const x = parts.length === 2 ? hstack(parts[0], parts[1]) : parts[0];
        return { x, y: encodeLabels(splits[s].labels, classes).codes };
      };
      log(
        `redundancy: reading ${space.total} features for ${input.rows.train} train ${kind === "pair" ? "pairs" : "sentences"}`,
      );
      const data = { train: await split("train"), valid: await split("valid"), test: await split("test") };
      const control = hasControl
        ? await readControlLabelFiles(opts.task, splits)
        : generatedControl(splits, classes, kind, seed);
      return { ...data, control };
    };
    return { input, space, load, close: closeAll };
  } catch (e) {
    closeAll();
    throw e;
  }
}

async function readControlLabelFiles(
  task: string,
  splits: Record<Split, SentenceSplit>,
): Promise<ControlLabels> {
  const labels = {} as Record<Split, string[]>;
  for (const s of SPLIT_NAMES) {
    const file = join(task, "control", `${s}.label`);
    const lines = splitLines(await readText(file));
    if (lines.length !== splits[s].labels.length)
      throw new InputError(
        file,
        `${lines.length} labels but the task's ${s} split has ${splits[s].labels.length}`,
      );
    lines.forEach((l, i) => {
      if (!/^\S+$/u.test(l)) throw new InputError(file, `bad label '${l}'`, { line: i + 1 });
    });
    labels[s] = lines;
  }
  const classes = [...new Set(SPLIT_NAMES.flatMap((s) => labels[s]))].sort();
  return {
    source: join(task, "control"),
    classes,
    y: {
      train: encodeLabels(labels.train, classes).codes,
      valid: encodeLabels(labels.valid, classes).codes,
      test: encodeLabels(labels.test, classes).codes,
    },
  };
}

/** A stream of its own, so that the control labels never change other random choices. */
const CONTROL_STREAM = 0x2545f491;

/**
 * Control task for sentence-level tasks (Hewitt & Liang's idea at the sentence level): every distinct
 * sentence (pair) text gets one fixed label drawn from the train class distribution, seeded.
 */
export function generatedControl(
  splits: Record<Split, SentenceSplit>,
  classes: string[],
  kind: "sentence" | "pair",
  seed: number,
): ControlLabels {
  const weights = classes.map((c) => splits.train.labels.filter((l) => l === c).length);
  const rng = new Rng((seed ^ CONTROL_STREAM) >>> 0);
  const labelOf = new Map<string, number>();
  const y = {} as Record<Split, Int32Array>;
  for (const s of SPLIT_NAMES) {
    const sp = splits[s];
    y[s] = Int32Array.from(sp.a, (words, i) => {
      const text = kind === "pair" ? `${words.join(" ")}\t${(sp.b?.[i] ?? []).join(" ")}` : words.join(" ");
      let label = labelOf.get(text);
      if (label === undefined) {
        label = rng.categorical(weights);
        labelOf.set(text, label);
      }
      return label;
    });
  }
  return {
    source: `generated (seed ${seed}, one label per distinct ${kind === "pair" ? "pair" : "sentence"})`,
    classes,
    y,
  };
}
