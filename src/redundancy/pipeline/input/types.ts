import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type PerSplit, SPLITS, type SplitName } from "../../../data/splits.js";
import type { Site, SplitStores } from "../../../store/index.js";
import { InputError } from "../../../util/errors.js";
import type { Matrix } from "../../../util/matrix.js";
import { siteLayers } from "../../../util/neurons.js";
import type { RedundancyInput } from "../results.js";

/**
 * The pipeline's input: a task (token tagging: DIR/{train,valid,test}.tsv; sentence-level: the
 * DIR/<split>.in or DIR/<split>.a.in + .b.in files and DIR/<split>.label that `codeneurons task
 * sentence` writes) over activation stores. Opening a source reads only the task files and store
 * indexes (cheap: enough to decide whether cached results are still valid); `load` reads the activations.
 *
 * Pair tasks: each row is the concatenation [v(a); v(b)] of the two sides' sentence vectors. The
 * stores of the b side come from `storeB`, or, when it is absent, `store` must hold a/ and b/, each a
 * store directory with train/, valid/, test/ (or one store).
 */
export interface PipelineInputOptions {
  store: string;
  storeB?: string;
  task: string;
  /** Which neurons to analyse: the residual stream (default) or the MLP neurons of every block. */
  site?: Site;
  /** Seed of a generated control task (sentence-level tasks without control/ label files). */
  seed?: number;
  /** Analyse only these stored layers of the site (model layer numbers); default all. */
  layers?: readonly number[];
}

export { type PerSplit, SPLITS, type SplitName } from "../../../data/splits.js";

export interface LabelledRows {
  x: Matrix;
  y: Int32Array;
}

export interface ControlLabels {
  source: string;
  classes: string[];
  y: PerSplit<Int32Array>;
}

/** Activations of every split with the task's labels; columns are the FeatureSpace's columns. */
export interface PipelineData {
  train: LabelledRows;
  valid: LabelledRows;
  test: LabelledRows;
  control: ControlLabels | null;
}

/**
 * Feature-space layout: sides × the site's stored layers × width (neurons per layer of the site),
 * layer-major within a side. Neuron ids are ids of the site (layer × width + unit).
 */
export class FeatureSpace {
  constructor(
    readonly width: number,
    readonly layers: readonly number[],
    readonly sides: number,
  ) {}

  get perSide(): number {
    return this.layers.length * this.width;
  }

  get total(): number {
    return this.sides * this.perSide;
  }

  /** Offset of side s's neuron ids: (max layer + 1) × width per side. */
  get sideOffset(): number {
    return (Math.max(...this.layers) + 1) * this.width;
  }

  /** Global neuron id of full-matrix column c. */
  id(c: number): number {
    const side = Math.floor(c / this.perSide);
    const inSide = c - side * this.perSide;
    const layer = this.layers[Math.floor(inSide / this.width)];
    return side * this.sideOffset + layer * this.width + (inSide % this.width);
  }

  ids(columns: ArrayLike<number>): number[] {
    return Array.from(columns, (c) => this.id(c));
  }

  /** Columns of the first `count` stored layers (on every side). */
  prefixColumns(count: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.sides; s++)
      for (let c = 0; c < count * this.width; c++) out.push(s * this.perSide + c);
    return out;
  }

  /** Columns of stored layer index `index` (on every side). */
  layerColumns(index: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.sides; s++)
      for (let u = 0; u < this.width; u++) out.push(s * this.perSide + index * this.width + u);
    return out;
  }
}

export interface PipelineSource {
  input: RedundancyInput;
  space: FeatureSpace;
  load(): Promise<PipelineData>;
  /** The raw activations of some feature columns (FeatureSpace columns, in the given order) of a split. */
  readColumns(split: SplitName, columns: readonly number[]): Promise<Matrix>;
  close(): void;
}

export function sha256(parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) {
    h.update(typeof p === "string" ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    h.update("\u0000");
  }
  return h.digest("hex");
}

export async function fileHash(path: string): Promise<string> {
  try {
    return sha256([await readFile(path)]);
  } catch (e) {
    throw new InputError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * What the data fingerprint says about the site: nothing for the residual stream, so that results
 * cached before sites existed stay valid; the site otherwise (the same stores give other features).
 */
export function siteKey(site: Site, layers?: readonly number[]): string[] {
  return [...(site === "hidden" ? [] : [`site ${site}`]), ...(layers ? [`layers ${layers.join(",")}`] : [])];
}

/**
 * The layers the pipeline analyses: the site's stored layers, or the chosen ones (each must be
 * stored; kept in increasing order).
 */
export function chosenLayers(
  site: Site,
  stored: readonly number[],
  chosen: readonly number[] | undefined,
  store: string,
): number[] {
  const available = siteLayers(site, stored);
  if (!chosen) return available;
  const wanted = [...new Set(chosen)].sort((a, b) => a - b);
  if (wanted.length === 0) throw new InputError(store, "--layers: give at least one layer");
  for (const l of wanted)
    if (!available.includes(l))
      throw new InputError(
        store,
        `--layers: ${site} layer ${l} is not in the store (${site} layers ${available.join(",")})`,
      );
  return wanted;
}

/** The store indexes (their shard checksums identify the activations) in split order. */
export async function storeHashes(stores: SplitStores): Promise<string[]> {
  // Content, not the index file: a resumed extraction rewrites index.json with a new date.
  return SPLITS.map((s) => stores[s].contentFingerprint());
}

export function classesOf(trainLabels: readonly string[], file: string): string[] {
  const classes = [...new Set(trainLabels)].sort();
  if (classes.length < 2) throw new InputError(file, "the train split needs at least two classes");
  return classes;
}

export function checkStores(
  stores: SplitStores,
  level: "word" | "sentence",
  where: string,
  site: Site,
): void {
  for (const s of SPLITS) {
    if (stores[s].meta.level !== level)
      throw new InputError(
        stores[s].dir,
        `is a ${stores[s].meta.level}-level store; this task needs ${level}-level`,
      );
    // Up front, so that a store without the site fails before any step runs.
    stores[s].dimOf(site);
  }
  const layers = stores.train.meta.layers;
  for (let i = 1; i < layers.length; i++)
    if (!(layers[i] > layers[i - 1]))
      throw new InputError(where, `stored layers must be increasing, got ${layers.join(",")}`);
}
