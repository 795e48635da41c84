import { constants as bufferConstants } from "node:buffer";
import { totalmem } from "node:os";
import {
  type CorrelationOptions,
  condensedFromSquare,
  condensedLength,
  correlationDistance,
  crossCorrelationBlock,
  distanceMatrixOfStandardized,
  type Standardized,
  standardizeColumnsT,
} from "../linalg/correlation.js";
import { fmtGiB } from "../probe/memory.js";
import { UserError } from "../util/errors.js";
import { type ColumnSource, columnSource, type Matrix } from "../util/matrix.js";
import { prefaultedBuffer } from "../util/prefault.js";
import { log, Progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { clusterMembers, cutTree, maxHeights } from "./cut.js";
import { averageLinkageSquare, type LinkageTree, linkageMatrix } from "./linkage.js";
import { medoidRepresentatives, type RepresentativeRule, randomRepresentatives } from "./representatives.js";

/**
 * Correlation clustering of neurons (Dalvi et al. 2020, as NeuroX's create_correlation_clusters):
 * Pearson r over tokens, distance 1 − |r|, average linkage, flat clusters where the largest merge
 * height ≤ t, one representative per cluster. The tree is built once and cut at every threshold.
 *
 * Scopes (docs/clustering.md):
 * - "all": one exact tree over all neurons (scipy's linkage + fcluster, cluster numbers included).
 *   Memory: the distances are a square float64 matrix, 8·n² bytes (9,984 neurons: 797 MB; medoids keep
 *   a condensed copy, 4·n(n−1) more): twice the condensed form, because the linkage's scans then read
 *   contiguous rows, which more than halves its time.
 * - "per-layer": an exact tree per layer; clusters never span layers.
 * - "per-layer-linked": the per-layer trees, then one cross-layer step per threshold t: a cluster of
 *   one layer and a cluster of the next stored layer are joined when their average distance (the mean
 *   of 1 − |r| over all pairs of their members, the quantity average linkage merges on) is ≤ t; the
 *   flat clusters are the connected groups of joined per-layer clusters. Memory is bounded by a layer
 *   pair (two layers' distances and their cross block), so it scales to any number of layers; only
 *   neighbouring layers are compared, so clusters span layers through chains of neighbours.
 * Above `maxMemoryBytes` "all" refuses with a message, or, with `tooLarge`, clusters per layer.
 */

export const DEFAULT_THRESHOLDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => k / 10);

/** One tree over all neurons, one per layer, or one per layer and the cross-layer step (see above). */
export type ClusterScope = "all" | "per-layer" | "per-layer-linked";
export const CLUSTER_SCOPES: readonly ClusterScope[] = ["all", "per-layer", "per-layer-linked"];

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
  /**
   * Per-layer-linked only: layers (⌊id / hidden⌋) per side of a pair task's features; layers on two
   * sides are never linked (default: one side).
   */
  layersPerSide?: number;
  /** Memory the clustering may use, in bytes (default half of the machine's memory). */
  maxMemoryBytes?: number;
  /**
   * When "all" exceeds the bound: refuse (default), cluster each layer separately, or per layer with
   * the cross-layer step.
   */
  tooLarge?: "error" | "per-layer" | "per-layer-linked";
  /** A scope to use whatever the memory ("auto", the default: "all" when it fits, else `tooLarge`). */
  scope?: "auto" | ClusterScope;
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
  /** Per-layer-linked: joins of per-layer clusters that merged two groups (a spanning forest's edges). */
  links?: number;
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
  scope: ClusterScope;
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

/**
 * Peak bytes of one step of per-layer clustering on layers of at most `width` neurons: the layer's
 * activations and their standardised copy, its tree's distances; linked, also the previous layer's
 * standardised copy, their cross block (float32) and the per-threshold sums of distances between
 * their clusters (float64).
 */
export function perLayerMemoryBytes(
  width: number,
  tokens: number,
  linked: boolean,
  representative: RepresentativeRule = "random",
  blockSize = 1024,
): number {
  const layer = 4 * width * tokens + clusteringMemoryBytes(width, tokens, representative, blockSize);
  return linked ? layer + 4 * width * tokens + 12 * width * width : layer;
}

export function defaultMaxMemoryBytes(): number {
  return Math.floor(totalmem() / 2);
}

/** Whether n neurons cluster as one tree within `bound` bytes (the "auto" scope's choice of "all"). */
export function fitsOneTree(
  n: number,
  tokens: number,
  opts: Pick<ClusterOptions, "representative" | "blockSize">,
  bound = defaultMaxMemoryBytes(),
): boolean {
  return (
    n <= MAX_CLUSTER_NEURONS && clusteringMemoryBytes(n, tokens, opts.representative, opts.blockSize) <= bound
  );
}

/** Columns grouped by layer, in column order within each layer, layers in increasing order. */
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

interface Plan {
  scope: ClusterScope;
  groups: { layer: number | null; columns: number[] }[];
  note?: string;
}

function planGroups(n: number, rows: number, ids: readonly number[], opts: ClusterOptions): Plan {
  const bound = opts.maxMemoryBytes ?? defaultMaxMemoryBytes();
  const forced = opts.scope && opts.scope !== "auto" ? opts.scope : null;
  if (forced === "all" || (!forced && fitsOneTree(n, rows, opts, bound))) {
    if (forced && !fitsOneTree(n, rows, opts, bound))
      throw new UserError(`${overBound(n, rows, opts, bound)}.`);
    return { scope: "all", groups: [{ layer: null, columns: ids.map((_, c) => c) }] };
  }
  const why = overBound(n, rows, opts, bound);
  const scope = forced ?? (opts.tooLarge === "error" ? undefined : opts.tooLarge);
  if (!scope || !opts.hidden) {
    throw new UserError(
      `${why}. Cluster each layer separately (per-layer clustering${opts.hidden ? "" : ", which needs the layer size"}), ` +
        "select fewer layers, or raise the memory bound.",
    );
  }
  const linked = scope === "per-layer-linked";
  if (linked && opts.representative === "medoid")
    throw new UserError(
      "medoid representatives need the distances between all members of a cluster, which the cross-layer step does not compute; use random representatives (--representative random)",
    );
  const groups = layerGroups(ids, opts.hidden).sort((a, b) => a.layer - b.layer);
  const largest = Math.max(...groups.map((g) => g.columns.length));
  const need = perLayerMemoryBytes(largest, rows, linked, opts.representative, opts.blockSize);
  if (largest > MAX_CLUSTER_NEURONS || need > bound) {
    throw new UserError(
      `${why}; even one layer (${largest} neurons) is over the bound (${fmtGiB(need)} per ${linked ? "pair of layers" : "layer"}): raise it.`,
    );
  }
  const joined = "then joined clusters of neighbouring layers whose average distance is ≤ t";
  const note = forced
    ? `${scope} clustering of ${groups.length} layers: each layer clustered separately${linked ? `, ${joined} (docs/clustering.md)` : ""}.`
    : `${why}: clustered each of the ${groups.length} layers separately${linked ? `, ${joined} (per-layer-linked; docs/clustering.md)` : " (clusters do not span layers)"}.`;
  log(note);
  return { scope, groups, note };
}

function overBound(n: number, rows: number, opts: ClusterOptions, bound: number): string {
  const need = clusteringMemoryBytes(n, rows, opts.representative, opts.blockSize);
  return (
    `clustering ${n} neurons over ${rows} tokens needs about ${fmtGiB(need)} ` +
    `(float64 distances 8·n² bytes${opts.representative === "medoid" ? " and a condensed copy for medoids" : ""}, ` +
    `plus a float32 copy of the activations), over the memory bound of ${fmtGiB(bound)}` +
    (n > MAX_CLUSTER_NEURONS ? ` and over the ${MAX_CLUSTER_NEURONS} neurons a typed array can hold` : "")
  );
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
  source: ColumnSource,
  group: { layer: number | null; columns: number[] },
  opts: ClusterOptions,
): Promise<{ tree: GroupTree; std: Standardized }> {
  const n = group.columns.length;
  // The matrix's pages are faulted in by a worker while this thread standardises (see prefault.ts).
  const memory = prefaultedBuffer(8 * n * n);
  const sub = await source.columns(group.columns);
  const std = standardizeColumnsT(sub);
  await memory.ready;
  const d = await distanceMatrixOfStandardized(std, sub.rows, opts, new Float64Array(memory.buffer));
  // Medoids need the original distances, which the linkage overwrites: keep the condensed half.
  const original = opts.representative === "medoid" ? condensedFromSquare(d).data : undefined;
  const tree = averageLinkageSquare(d, {
    overwrite: true,
    checked: true,
    progress: opts.progress !== false && n > 2048,
  });
  return {
    tree: {
      layer: group.layer,
      columns: group.columns,
      tree,
      distances: original,
      constantColumns: d.constantColumns.map((c) => group.columns[c]),
    },
    std,
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

/** Union-find over the per-layer clusters of one threshold (their global numbers). */
class Components {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(v: number): number {
    let root = v;
    while (this.parent[root] !== root) root = this.parent[root];
    while (this.parent[v] !== root) {
      const up = this.parent[v];
      this.parent[v] = root;
      v = up;
    }
    return root;
  }
  /** Joins the sets of a and b; false when they were one already. */
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    // The smaller root wins, so that the result does not depend on the order of unions.
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
    return true;
  }
}

/** A layer's cuts at every threshold: cluster number (1-based) of each of its columns, and counts. */
interface LayerCuts {
  labels: Int32Array[];
  counts: number[];
  /** Global number of the layer's cluster 1 at each threshold. */
  offsets: number[];
}

/** A join of two per-layer clusters (their global numbers) at threshold k. */
interface Link {
  a: number;
  b: number;
  k: number;
}

/**
 * The cross-layer step between two neighbouring layers at every threshold: for each pair of clusters
 * (A of the first, B of the second), the mean of 1 − |r| over A × B in float64; joined when ≤ t.
 * `sums` is scratch space for the largest pair of cluster counts.
 */
function linkLayers(
  cross: Matrix,
  a: LayerCuts,
  b: LayerCuts,
  thresholds: readonly number[],
  absolute: boolean,
  sums: Float64Array,
): Link[] {
  const na = cross.rows;
  const nb = cross.cols;
  const links: Link[] = [];
  // The distances once (float64), then summed per cluster pair at each threshold.
  const d = new Float64Array(na * nb);
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < d.length; i++) {
    const v = correlationDistance(cross.data[i], absolute);
    d[i] = v;
    if (v < min) min = v;
  }
  thresholds.forEach((t, k) => {
    // A mean ≤ t needs one pair ≤ t.
    if (!(min <= t)) return;
    const la = a.labels[k];
    const lb = b.labels[k];
    const ma = a.counts[k];
    const mb = b.counts[k];
    const s = sums.subarray(0, ma * mb);
    s.fill(0);
    for (let i = 0; i < na; i++) {
      const row = (la[i] - 1) * mb - 1;
      const o = i * nb;
      for (let j = 0; j < nb; j++) s[row + lb[j]] += d[o + j];
    }
    const sizeA = new Int32Array(ma);
    const sizeB = new Int32Array(mb);
    for (const c of la) sizeA[c - 1]++;
    for (const c of lb) sizeB[c - 1]++;
    for (let p = 0; p < ma; p++)
      for (let q = 0; q < mb; q++)
        if (s[p * mb + q] / (sizeA[p] * sizeB[q]) <= t)
          links.push({ a: a.offsets[k] + p, b: b.offsets[k] + q, k });
  });
  return links;
}

/** Per-layer trees, and with `linked` the cross-layer step between neighbouring layers. */
async function clusterPerLayer(
  source: ColumnSource,
  plan: Plan,
  thresholds: readonly number[],
  ids: readonly number[],
  opts: ClusterOptions,
): Promise<{ trees: GroupTree[]; cuts: ThresholdClusters[] }> {
  const linked = plan.scope === "per-layer-linked";
  const absolute = opts.absolute !== false;
  const trees: GroupTree[] = [];
  const layerCuts: LayerCuts[] = [];
  const totals = thresholds.map(() => 0);
  let previous: { std: Standardized; cuts: LayerCuts; layer: number } | null = null;
  // Union-finds need every layer's cluster count first: links are recorded and applied at the end.
  const links: Link[] = [];
  const maxWidth = Math.max(...plan.groups.map((g) => g.columns.length));
  const sums = linked ? new Float64Array(maxWidth * maxWidth) : new Float64Array(0);
  const bar = new Progress(
    linked ? "per-layer clustering and cross-layer step" : "per-layer clustering",
    plan.groups.length,
    {
      quiet: opts.progress === false ? true : undefined,
      unit: "layers",
    },
  );
  for (const [gi, group] of plan.groups.entries()) {
    const { tree, std } = await buildGroupTree(source, group, opts);
    trees.push(tree);
    const labels = thresholds.map((t) => cutTree(tree.tree, t, maxHeightCache(tree.tree)));
    const counts = labels.map((l) => l.reduce((m, c) => Math.max(m, c), 0));
    const cuts: LayerCuts = { labels, counts, offsets: [...totals] };
    counts.forEach((c, k) => {
      totals[k] += c;
    });
    layerCuts.push(cuts);
    const layer = group.layer ?? 0;
    if (linked && previous && sameSide(previous.layer, layer, opts.layersPerSide)) {
      const cross = await crossCorrelationBlock(previous.std, std, source.rows);
      links.push(...linkLayers(cross, previous.cuts, cuts, thresholds, absolute, sums));
    }
    previous = linked ? { std, cuts, layer } : null;
    bar.update(gi + 1);
  }
  bar.finish();
  const components = totals.map((m) => new Components(m));
  const joined = thresholds.map(() => 0);
  for (const { a, b, k } of links) if (components[k].union(a, b)) joined[k]++;
  const cuts = thresholds.map((t, k) =>
    linked
      ? linkedCut(trees, layerCuts, components[k], t, k, ids, opts, joined[k])
      : cutAll(trees, t, ids, opts),
  );
  return { trees, cuts };
}

function sameSide(a: number, b: number, layersPerSide?: number): boolean {
  return !layersPerSide || Math.floor(a / layersPerSide) === Math.floor(b / layersPerSide);
}

/**
 * The flat clusters of one threshold after the cross-layer step: clusters numbered in the order of
 * their first column, a seeded random member as each one's representative.
 */
function linkedCut(
  trees: GroupTree[],
  layerCuts: LayerCuts[],
  components: Components,
  t: number,
  k: number,
  ids: readonly number[],
  opts: ClusterOptions,
  links: number,
): ThresholdClusters {
  const n = ids.length;
  const root = new Int32Array(n);
  trees.forEach((g, gi) => {
    const cuts = layerCuts[gi];
    g.columns.forEach((c, i) => {
      root[c] = components.find(cuts.offsets[k] + cuts.labels[k][i] - 1);
    });
  });
  const number = new Map<number, number>();
  const assignment = new Array<number>(n);
  const members: number[][] = [];
  for (let c = 0; c < n; c++) {
    let id = number.get(root[c]);
    if (id === undefined) {
      id = number.size + 1;
      number.set(root[c], id);
      members.push([]);
    }
    assignment[c] = id;
    members[id - 1].push(c);
  }
  const rng = new Rng(opts.seed ?? 0);
  const representatives = randomRepresentatives(members, rng).map((c) => ids[c]);
  return {
    threshold: t,
    clusterCount: members.length,
    assignment,
    representatives,
    sizes: members.map((m) => m.length),
    links,
  };
}

/**
 * Correlation clustering of the columns of X (tokens × neurons): the tree is computed once and cut
 * at every threshold. Same flat clusters as scipy's linkage(…, 'average') + fcluster(…, t,
 * 'distance') on the same distances; the distances come from a float32 product (see correlation.ts).
 * X may be a ColumnSource that reads columns on demand: per-layer scopes then hold one or two layers'
 * activations at a time.
 */
export async function clusterNeurons(
  x: Matrix | ColumnSource,
  opts: ClusterOptions = {},
): Promise<NeuronClusters> {
  const source = "columns" in x ? x : columnSource(x);
  const ids = opts.neuronIds ? [...opts.neuronIds] : Array.from({ length: source.cols }, (_, c) => c);
  if (ids.length !== source.cols)
    throw new Error(`clusterNeurons: ${ids.length} neuron ids for ${source.cols} columns`);
  const thresholds = [...(opts.thresholds ?? DEFAULT_THRESHOLDS)];
  for (const t of thresholds)
    if (!Number.isFinite(t)) throw new UserError(`clustering threshold ${t} is not a number`);
  const plan = planGroups(source.cols, source.rows, ids, opts);
  let trees: GroupTree[];
  let cuts: ThresholdClusters[];
  if (plan.scope === "all") {
    trees = [(await buildGroupTree(source, plan.groups[0], opts)).tree];
    cuts = thresholds.map((t) => cutAll(trees, t, ids, opts));
  } else ({ trees, cuts } = await clusterPerLayer(source, plan, thresholds, ids, opts));
  return {
    neurons: source.cols,
    tokens: source.rows,
    method: "average",
    distance: opts.absolute === false ? "1-r" : "1-|r|",
    representative: opts.representative ?? "random",
    seed: opts.seed ?? 0,
    scope: plan.scope,
    ...(plan.note ? { note: plan.note } : {}),
    neuronIds: ids,
    constantNeurons: trees.flatMap((g) => g.constantColumns.map((c) => ids[c])),
    groups: trees.map((g) => ({ layer: g.layer, columns: g.columns, linkage: linkageMatrix(g.tree) })),
    cuts,
  };
}
