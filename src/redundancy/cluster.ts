import { constants as bufferConstants } from "node:buffer";
import { totalmem } from "node:os";
import {
  type CorrelationOptions,
  condensedFromSquare,
  condensedLength,
  correlationDistanceMatrix,
} from "../linalg/correlation.js";
import { UserError } from "../util/errors.js";
import { type Matrix, selectColumns } from "../util/matrix.js";
import { log } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { clusterMembers, cutTree, maxHeights } from "./cut.js";
import { averageLinkageSquare, type LinkageTree, linkageMatrix } from "./linkage.js";
import { medoidRepresentatives, type RepresentativeRule, randomRepresentatives } from "./representatives.js";

/**
 * Correlation clustering of neurons (Dalvi et al. 2020, as NeuroX's create_correlation_clusters):
 * Pearson r over tokens, distance 1 − |r|, average linkage, flat clusters where the largest merge
 * height ≤ t, one representative per cluster. The tree is built once and cut at every threshold.
 *
 * Memory: the distances are a square float64 matrix, 8·n² bytes (9,984 neurons: 797 MB; medoids keep a
 * condensed copy, 4·n(n−1) more): twice the condensed form, because the linkage's scans then read
 * contiguous rows, which more than halves its time. Above `maxMemoryBytes` the call refuses with a
 * message, or, with `tooLarge: "per-layer"`, clusters each layer on its own (clusters then never span
 * layers).
 */

export const DEFAULT_THRESHOLDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => k / 10);

export interface ClusterOptions extends CorrelationOptions {
  /** Distance thresholds t (default 0.1 … 0.9). */
  thresholds?: readonly number[];
  /** How a cluster's representative is chosen (default "random", as NeuroX). */
  representative?: RepresentativeRule;
  /** Seed of the random representatives (default 0). */
  seed?: number;
  /** Distance 1 − |r| (default, NeuroX's use_abs_correlation) or 1 − r. */
  absolute?: boolean;
  /** Global neuron ids of X's columns (default 0 … n−1). */
  neuronIds?: readonly number[];
  /** Neurons per layer: the layer of id is ⌊id / hidden⌋. Needed for per-layer clustering. */
  hidden?: number;
  /** Memory the clustering may use, in bytes (default half of the machine's memory). */
  maxMemoryBytes?: number;
  /** When the estimate exceeds the bound: refuse (default) or cluster each layer separately. */
  tooLarge?: "error" | "per-layer";
}

export interface ThresholdClusters {
  threshold: number;
  clusterCount: number;
  /** Cluster number (1-based, fcluster's numbering) of every column of X, in column order. */
  assignment: number[];
  /** Neuron id of each cluster's representative, cluster 1 first. */
  representatives: number[];
  /** Number of neurons in each cluster, cluster 1 first. */
  sizes: number[];
}

export interface ClusterGroup {
  /** The layer these columns belong to (per-layer clustering), or null when all were clustered. */
  layer: number | null;
  /** Column indices of X in this group. */
  columns: number[];
  /** scipy's linkage matrix of the group: rows [left, right, height, size], leaves = group order. */
  linkage: number[][];
}

/** A JSON-serialisable clustering result. */
export interface NeuronClusters {
  neurons: number;
  tokens: number;
  method: "average";
  distance: "1-|r|" | "1-r";
  representative: RepresentativeRule;
  seed: number;
  scope: "all" | "per-layer";
  note?: string;
  /** Global neuron id of each column of X. */
  neuronIds: number[];
  /** Neurons with zero variance over the tokens (correlation 0 with all others). */
  constantNeurons: number[];
  groups: ClusterGroup[];
  cuts: ThresholdClusters[];
}

/** Largest n whose n × n distance matrix a Float64Array can hold (V8's typed-array length limit). */
export const MAX_CLUSTER_NEURONS = Math.floor(Math.sqrt(bufferConstants.MAX_LENGTH));

/** Bytes clustering n neurons over `tokens` tokens needs at its peak (not counting X itself). */
export function clusteringMemoryBytes(
  n: number,
  tokens: number,
  representative: RepresentativeRule = "random",
  blockSize = 1024,
): number {
  const square = 8 * n * n;
  const medoidCopy = representative === "medoid" ? 8 * condensedLength(n) : 0;
  const standardized = 4 * n * tokens;
  const blocks = 2 * 4 * Math.min(blockSize, n) * n;
  return square + medoidCopy + standardized + blocks;
}

export function defaultMaxMemoryBytes(): number {
  return Math.floor(totalmem() / 2);
}

const GiB = 1024 ** 3;
const fmt = (bytes: number) => `${(bytes / GiB).toFixed(2)} GiB`;

function fits(n: number, tokens: number, opts: ClusterOptions, bound: number): boolean {
  return (
    n <= MAX_CLUSTER_NEURONS && clusteringMemoryBytes(n, tokens, opts.representative, opts.blockSize) <= bound
  );
}

/** Columns grouped by layer, in column order within each layer, layers in first-seen order. */
function layerGroups(ids: readonly number[], hidden: number): { layer: number; columns: number[] }[] {
  const byLayer = new Map<number, number[]>();
  ids.forEach((id, c) => {
    const layer = Math.floor(id / hidden);
    const list = byLayer.get(layer) ?? [];
    list.push(c);
    byLayer.set(layer, list);
  });
  return [...byLayer].map(([layer, columns]) => ({ layer, columns }));
}

function planGroups(x: Matrix, ids: readonly number[], opts: ClusterOptions) {
  const bound = opts.maxMemoryBytes ?? defaultMaxMemoryBytes();
  const n = x.cols;
  if (fits(n, x.rows, opts, bound))
    return { scope: "all" as const, groups: [{ layer: null, columns: ids.map((_, c) => c) }] };
  const need = clusteringMemoryBytes(n, x.rows, opts.representative, opts.blockSize);
  const why =
    `clustering ${n} neurons over ${x.rows} tokens needs about ${fmt(need)} ` +
    `(float64 distances 8·n² bytes${opts.representative === "medoid" ? " and a condensed copy for medoids" : ""}, ` +
    `plus a float32 copy of the activations), over the memory bound of ${fmt(bound)}` +
    (n > MAX_CLUSTER_NEURONS ? ` and over the ${MAX_CLUSTER_NEURONS} neurons a typed array can hold` : "");
  if (opts.tooLarge !== "per-layer" || !opts.hidden) {
    throw new UserError(
      `${why}. Cluster each layer separately (per-layer clustering${opts.hidden ? "" : ", which needs the layer size"}), ` +
        "select fewer layers, or raise the memory bound.",
    );
  }
  const groups = layerGroups(ids, opts.hidden);
  const largest = Math.max(...groups.map((g) => g.columns.length));
  // A layer's columns are first copied out of X: one more float32 copy of its activations.
  if (!fits(largest, x.rows, opts, bound - 4 * largest * x.rows)) {
    throw new UserError(`${why}; even one layer (${largest} neurons) is over the bound: raise it.`);
  }
  const note = `${why}: clustered each of the ${groups.length} layers separately (clusters do not span layers).`;
  log(note);
  return { scope: "per-layer" as const, groups, note };
}

interface GroupTree {
  layer: number | null;
  columns: number[];
  tree: LinkageTree;
  /** Original distances, kept only for medoids. */
  distances?: Float64Array;
  constantColumns: number[];
}

async function buildGroupTree(
  x: Matrix,
  group: { layer: number | null; columns: number[] },
  opts: ClusterOptions,
): Promise<GroupTree> {
  const whole = group.columns.length === x.cols;
  const sub = whole ? x : selectColumns(x, group.columns);
  const d = await correlationDistanceMatrix(sub, opts);
  // Medoids need the original distances, which the linkage overwrites: keep the condensed half.
  const original = opts.representative === "medoid" ? condensedFromSquare(d).data : undefined;
  const tree = averageLinkageSquare(d, { overwrite: true, checked: true, progress: opts.progress !== false });
  return {
    layer: group.layer,
    columns: group.columns,
    tree,
    distances: original,
    constantColumns: d.constantColumns.map((c) => group.columns[c]),
  };
}

function cutAll(
  groups: GroupTree[],
  t: number,
  ids: readonly number[],
  opts: ClusterOptions,
): ThresholdClusters {
  const assignment = new Array<number>(ids.length).fill(0);
  const representatives: number[] = [];
  const sizes: number[] = [];
  const rng = new Rng(opts.seed ?? 0);
  for (const g of groups) {
    const labels = cutTree(g.tree, t, maxHeightCache(g.tree));
    const members = clusterMembers(labels);
    const offset = sizes.length;
    labels.forEach((c, i) => {
      assignment[g.columns[i]] = offset + c;
    });
    const local =
      opts.representative === "medoid" && g.distances
        ? medoidRepresentatives(members, g.distances, g.columns.length)
        : randomRepresentatives(members, rng);
    for (const r of local) representatives.push(ids[g.columns[r]]);
    for (const m of members) sizes.push(m.length);
  }
  return { threshold: t, clusterCount: sizes.length, assignment, representatives, sizes };
}

const maxHeightsByTree = new WeakMap<LinkageTree, Float64Array>();
function maxHeightCache(tree: LinkageTree): Float64Array {
  let md = maxHeightsByTree.get(tree);
  if (!md) {
    md = maxHeights(tree);
    maxHeightsByTree.set(tree, md);
  }
  return md;
}

/**
 * Correlation clustering of the columns of X (tokens × neurons): the tree is computed once and cut
 * at every threshold. Same flat clusters as scipy's linkage(…, 'average') + fcluster(…, t,
 * 'distance') on the same distances; the distances come from a float32 product (see correlation.ts).
 */
export async function clusterNeurons(x: Matrix, opts: ClusterOptions = {}): Promise<NeuronClusters> {
  const ids = opts.neuronIds ? [...opts.neuronIds] : Array.from({ length: x.cols }, (_, c) => c);
  if (ids.length !== x.cols)
    throw new Error(`clusterNeurons: ${ids.length} neuron ids for ${x.cols} columns`);
  const thresholds = [...(opts.thresholds ?? DEFAULT_THRESHOLDS)];
  for (const t of thresholds)
    if (!Number.isFinite(t)) throw new UserError(`clustering threshold ${t} is not a number`);
  const plan = planGroups(x, ids, opts);
  const trees: GroupTree[] = [];
  for (const g of plan.groups) trees.push(await buildGroupTree(x, g, opts));
  return {
    neurons: x.cols,
    tokens: x.rows,
    method: "average",
    distance: opts.absolute === false ? "1-r" : "1-|r|",
    representative: opts.representative ?? "random",
    seed: opts.seed ?? 0,
    scope: plan.scope,
    ...(plan.note ? { note: plan.note } : {}),
    neuronIds: ids,
    constantNeurons: trees.flatMap((g) => g.constantColumns.map((c) => ids[c])),
    groups: trees.map((g) => ({ layer: g.layer, columns: g.columns, linkage: linkageMatrix(g.tree) })),
    cuts: thresholds.map((t) => cutAll(trees, t, ids, opts)),
  };
}
