import { existsSync } from "node:fs";
import { join } from "node:path";
import { readText, splitLines } from "../../../data/io.js";
import { readSentenceSplit, type SentenceSplit } from "../../../data/sentence/index.js";
import { checkClassesKnown } from "../../../data/task/tsv.js";
import { controlClasses } from "../../../probe/control.js";
import { encodeLabels } from "../../../probe/labels.js";
import {
  closeSplitStores,
  openSplitStores,
  type Site,
  type SplitStores,
  storeRowsOfSentences,
} from "../../../store/index.js";
import { InputError } from "../../../util/errors.js";
import { type Matrix, matrix } from "../../../util/matrix.js";
import { type NeuronSpace, neuronIdsOfLayers, neuronSpace } from "../../../util/neurons.js";
import { log } from "../../../util/progress.js";
import { Rng } from "../../../util/rng.js";
import type { RedundancyInput } from "../results.js";
import {
  type ControlLabels,
  checkStores,
  chosenLayers,
  classesOf,
  FeatureSpace,
  fileHash,
  type LabelledRows,
  type PerSplit,
  type PipelineData,
  type PipelineInputOptions,
  type PipelineSource,
  SPLITS,
  type SplitName,
  sha256,
  siteKey,
  storeHashes,
} from "./types.js";

/**
 * Sentence-level tasks as `codeneurons task sentence` writes them: DIR/<split>.in (or .a.in + .b.in for
 * pairs) and DIR/<split>.label, over sentence-level stores (one row per sentence). A pair's row is the
 * concatenation [v(a); v(b)]; the b side's stores come from `storeB`, or from STORE/a and STORE/b.
 */
type SentenceKind = "sentence" | "pair";

async function sideStores(opts: PipelineInputOptions, kind: SentenceKind): Promise<SplitStores[]> {
  if (kind === "sentence") return [await openSplitStores(opts.store)];
  if (opts.storeB) return [await openSplitStores(opts.store), await openSplitStores(opts.storeB)];
  if (!existsSync(join(opts.store, "a")) || !existsSync(join(opts.store, "b")))
    throw new InputError(
      opts.store,
      "a pair task needs the stores of both sides: give --store-b, or a --store directory holding a/ and b/",
    );
  return [await openSplitStores(join(opts.store, "a")), await openSplitStores(join(opts.store, "b"))];
}

function checkSides(sides: SplitStores[], opts: PipelineInputOptions, site: Site): void {
  const bDir = opts.storeB ?? join(opts.store, "b");
  for (const [i, st] of sides.entries()) checkStores(st, "sentence", i === 0 ? opts.store : bDir, site);
  const [a, b] = sides.map((s) => s.train);
  if (b && (b.dimOf(site) !== a.dimOf(site) || `${b.meta.layers}` !== `${a.meta.layers}`))
    throw new InputError(bDir, "the two sides' stores hold different layers");
}

function hstack(a: Matrix, b: Matrix): Matrix {
  const out = matrix(a.rows, a.cols + b.cols);
  for (let r = 0; r < a.rows; r++) {
    out.data.set(a.data.subarray(r * a.cols, (r + 1) * a.cols), r * out.cols);
    out.data.set(b.data.subarray(r * b.cols, (r + 1) * b.cols), r * out.cols + a.cols);
  }
  return out;
}

interface SentenceTask {
  kind: SentenceKind;
  /** The neurons read: one site's layers and width. */
  ids: NeuronSpace;
  layers: number[];
  dir: string;
  splits: PerSplit<SentenceSplit>;
  classes: string[];
  /** The .in file suffix of each side. */
  suffixes: string[];
  controlFiles: string[] | null;
}

async function readSentenceTask(
  dir: string,
  kind: SentenceKind,
  ids: NeuronSpace,
  layers: number[],
): Promise<SentenceTask> {
  const splits = {} as PerSplit<SentenceSplit>;
  for (const s of SPLITS) splits[s] = await readSentenceSplit(dir, s);
  const classes = classesOf(splits.train.labels, join(dir, "train.label"));
  for (const s of ["valid", "test"] as const)
    checkClassesKnown(splits[s].labels, classes, join(dir, `${s}.label`), 1);
  const controlFiles = SPLITS.map((s) => join(dir, "control", `${s}.label`));
  return {
    kind,
    ids,
    layers,
    dir,
    splits,
    classes,
    suffixes: kind === "pair" ? [".a.in", ".b.in"] : [".in"],
    controlFiles: controlFiles.every((f) => existsSync(f)) ? controlFiles : null,
  };
}

async function fingerprintOf(
  task: SentenceTask,
  sides: SplitStores[],
  chosen: readonly number[] | undefined,
): Promise<string> {
  const files = SPLITS.flatMap((s) => [...task.suffixes, ".label"].map((x) => join(task.dir, `${s}${x}`)));
  return sha256([
    task.kind,
    ...siteKey(task.ids.site, chosen),
    ...(await Promise.all(sides.map(storeHashes))).flat(),
    ...(await Promise.all([...files, ...(task.controlFiles ?? [])].map(fileHash))),
    task.controlFiles ? "control-files" : "generated-control",
  ]);
}

const generatedSource = (seed: number, kind: SentenceKind) =>
  `generated (seed ${seed}, one label per distinct ${kind === "pair" ? "pair" : "sentence"})`;

/** One split's rows: each side's sentence vectors, side by side. */
async function readSentenceRows(
  task: SentenceTask,
  sides: SplitStores[],
  s: SplitName,
): Promise<LabelledRows> {
  const neurons = neuronIdsOfLayers(task.layers, task.ids);
  const site = task.ids.site;
  const sentences = task.kind === "pair" ? [task.splits[s].a, task.splits[s].b ?? []] : [task.splits[s].a];
  const parts: Matrix[] = [];
  for (const [i, st] of sides.entries()) {
    const rows = storeRowsOfSentences(st[s], sentences[i], join(task.dir, `${s}${task.suffixes[i]}`));
    parts.push(await st[s].readRows(rows, { neurons, site }));
  }
  const x = parts.length === 2 ? hstack(parts[0], parts[1]) : parts[0];
  return { x, y: encodeLabels(task.splits[s].labels, task.classes).codes };
}

/** Some feature columns of one split: each side's stores read for the columns on that side. */
async function readSentenceColumns(
  task: SentenceTask,
  sides: SplitStores[],
  space: FeatureSpace,
  s: SplitName,
  columns: readonly number[],
): Promise<Matrix> {
  const site = task.ids.site;
  const sentences = task.kind === "pair" ? [task.splits[s].a, task.splits[s].b ?? []] : [task.splits[s].a];
  const out = matrix(sentences[0].length, columns.length);
  for (const [side, st] of sides.entries()) {
    const at: number[] = [];
    const neurons: number[] = [];
    columns.forEach((c, i) => {
      if (Math.floor(c / space.perSide) !== side) return;
      at.push(i);
      // The id within the side (FeatureSpace.id adds the side offset).
      neurons.push(space.id(c) - side * space.sideOffset);
    });
    if (at.length === 0) continue;
    const rows = storeRowsOfSentences(st[s], sentences[side], join(task.dir, `${s}${task.suffixes[side]}`));
    const part = await st[s].readRows(rows, { neurons, site });
    for (let r = 0; r < out.rows; r++)
      for (let k = 0; k < at.length; k++) out.data[r * out.cols + at[k]] = part.data[r * part.cols + k];
  }
  return out;
}

export async function openSentenceSource(
  opts: PipelineInputOptions,
  kind: SentenceKind,
): Promise<PipelineSource> {
  const sides = await sideStores(opts, kind);
  const close = () => {
    for (const s of sides) closeSplitStores(s);
  };
  try {
    const site = opts.site ?? "hidden";
    checkSides(sides, opts, site);
    const meta = sides[0].train.meta;
    const ids = neuronSpace(site, sides[0].train.dimOf(site));
    const layers = chosenLayers(site, meta.layers, opts.layers, opts.store);
    const task = await readSentenceTask(opts.task, kind, ids, layers);
    const space = new FeatureSpace(ids.width, layers, sides.length);
    const seed = opts.seed ?? 1;
    const { splits } = task;
    const input: RedundancyInput = {
      store: opts.store,
      ...(kind === "pair" ? { storeB: opts.storeB ?? join(opts.store, "b") } : {}),
      task: opts.task,
      kind,
      model: meta.model,
      site,
      width: ids.width,
      hidden: meta.hidden,
      layers,
      sides: sides.length,
      ...(kind === "pair" ? { sideOffset: space.sideOffset } : {}),
      classes: task.classes,
      control: task.controlFiles ? join(opts.task, "control") : generatedSource(seed, kind),
      rows: {
        train: splits.train.labels.length,
        valid: splits.valid.labels.length,
        test: splits.test.labels.length,
      },
      fingerprint: await fingerprintOf(task, sides, opts.layers && layers),
    };
    const load = async (): Promise<PipelineData> => {
      log(`redundancy: reading ${space.total} features for ${input.rows.train} train ${kind}s`);
      const read = (s: SplitName) => readSentenceRows(task, sides, s);
      const data = { train: await read("train"), valid: await read("valid"), test: await read("test") };
      const control = task.controlFiles
        ? await readControlLabelFiles(opts.task, splits, task.classes)
        : generatedControl(splits, task.classes, kind, seed);
      return { ...data, control };
    };
    const readColumns = (s: SplitName, columns: readonly number[]) =>
      readSentenceColumns(task, sides, space, s, columns);
    return { input, space, load, readColumns, close };
  } catch (e) {
    close();
    throw e;
  }
}

async function readControlLabelFiles(
  task: string,
  splits: PerSplit<SentenceSplit>,
  realClasses: string[],
): Promise<ControlLabels> {
  const labels = {} as PerSplit<string[]>;
  for (const s of SPLITS) {
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
  // The classes of the one control probe (probe/control.ts).
  const classes = controlClasses(
    realClasses,
    SPLITS.flatMap((s) => labels[s]),
  );
  const codes = (s: SplitName) => encodeLabels(labels[s], classes).codes;
  return {
    source: join(task, "control"),
    classes,
    y: { train: codes("train"), valid: codes("valid"), test: codes("test") },
  };
}

/** A stream of its own, so that the control labels never change other random choices. */
const CONTROL_STREAM = 0x2545f491;

/**
 * Control task for sentence-level tasks (Hewitt & Liang's idea at the sentence level): every distinct
 * sentence (pair) text gets one fixed label drawn from the train class distribution, seeded.
 */
export function generatedControl(
  splits: PerSplit<SentenceSplit>,
  classes: string[],
  kind: SentenceKind,
  seed: number,
): ControlLabels {
  const weights = classes.map((c) => splits.train.labels.filter((l) => l === c).length);
  const rng = new Rng((seed ^ CONTROL_STREAM) >>> 0);
  const labelOf = new Map<string, number>();
  const y = {} as PerSplit<Int32Array>;
  for (const s of SPLITS) {
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
  return { source: generatedSource(seed, kind), classes, y };
}
