import {
  type CondensedDistances,
  condensedLength,
  type SquareDistances,
  squareFromCondensed,
} from "../linalg/correlation.js";
import { Progress } from "../util/progress.js";

/**
 * Average-linkage (UPGMA) hierarchical clustering by the nearest-neighbour chain algorithm, O(n²)
 * time, on a square distance matrix (twice the condensed form's memory, but every scan reads one
 * contiguous row, where the condensed layout's column reads miss the cache: about twice as fast,
 * bench/RESULTS.md, "Design choices"). It reproduces scipy's
 * `linkage(y, 'average')` (scipy.cluster._hierarchy.nn_chain) bit for bit, ties included:
 * - the chain starts at the lowest-numbered live cluster;
 * - a cluster's nearest neighbour is the first live cluster, in index order, with the strictly
 *   smallest distance, except that the chain's previous element wins ties (this prevents cycles);
 * - merging x < y keeps the new cluster in slot y and updates d(i, y) = (nx·d(i,x) + ny·d(i,y)) /
 *   (nx + ny) in float64, with exactly that operation order;
 * - merges are then stably sorted by height and relabelled with a union-find (scipy's `label`).
 */

/** scipy's linkage matrix Z, one array per column: merge k joins `left[k]` and `right[k]`. */
export interface LinkageTree {
  /** Number of leaves (observations). */
  readonly n: number;
  /** Smaller child id (leaves 0…n−1, merge k makes node n+k). */
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Distance between the two children when they were merged. */
  readonly height: Float64Array;
  /** Number of leaves under the new node. */
  readonly size: Int32Array;
}

export interface LinkageOptions {
  /** Work in the given distance array instead of a copy (it is destroyed). Default false. */
  overwrite?: boolean;
  /** Show progress (default false: a library call stays quiet unless asked). */
  progress?: boolean;
}

/**
 * Live clusters in increasing index order, with O(1) removal: nearest-neighbour chains restart at the
 * lowest live cluster, as scipy does (also latent/ward.ts).
 */
export class LiveList {
  readonly next: Int32Array;
  private readonly prev: Int32Array;
  head = 0;

  constructor(n: number) {
    this.next = new Int32Array(n);
    this.prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.next[i] = i + 1 < n ? i + 1 : -1;
      this.prev[i] = i - 1;
    }
  }

  remove(i: number): void {
    const p = this.prev[i];
    const q = this.next[i];
    if (p >= 0) this.next[p] = q;
    else this.head = q;
    if (q >= 0) this.prev[q] = p;
  }
}

function validateCondensed(d: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`averageLinkage: need at least one observation, got ${n}`);
  if (d.length !== condensedLength(n)) {
    throw new Error(`averageLinkage: condensed length ${d.length} != n(n-1)/2 = ${condensedLength(n)}`);
  }
  for (let k = 0; k < d.length; k++) {
    if (!Number.isFinite(d[k])) throw new Error(`averageLinkage: distance #${k} is not finite (${d[k]})`);
  }
}

/** Finite and exactly symmetric, checked in tiles so that the column reads stay in cache. */
function validateSquare(d: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`averageLinkageSquare: need at least one observation, got ${n}`);
  if (d.length !== n * n) throw new Error(`averageLinkageSquare: length ${d.length} != n² = ${n * n}`);
  const T = 64;
  for (let i0 = 0; i0 < n; i0 += T) {
    for (let j0 = i0; j0 < n; j0 += T) {
      for (let i = i0; i < Math.min(n, i0 + T); i++) {
        for (let j = Math.max(j0, i + 1); j < Math.min(n, j0 + T); j++) {
          const v = d[i * n + j];
          const w = d[j * n + i];
          if (!Number.isFinite(v))
            throw new Error(`averageLinkageSquare: distance (${i}, ${j}) is not finite (${v})`);
          if (!Number.isFinite(w))
            throw new Error(`averageLinkageSquare: distance (${j}, ${i}) is not finite (${w})`);
          if (v !== w) throw new Error(`averageLinkageSquare: not symmetric at (${i}, ${j}): ${v} != ${w}`);
        }
      }
    }
  }
}

/** Merges in the order an algorithm found them: slots x < y, y keeps the new cluster (scipy's convention). */
export interface RawMerges {
  x: Int32Array;
  y: Int32Array;
  height: Float64Array;
}

/**
 * The nearest-neighbour chain proper, on a symmetric n × n matrix (row-major): scanning cluster x's
 * neighbours reads row x contiguously, and a merge rewrites row y and column y. The diagonal is never
 * read. Merges in the order found, slots not yet relabelled.
 */
function nnChain(D: Float64Array, n: number, progress?: Progress): RawMerges {
  const size = new Int32Array(n).fill(1);
  const live = new LiveList(n);
  const next = live.next;
  const chain = new Int32Array(n);
  const mx = new Int32Array(n - 1);
  const my = new Int32Array(n - 1);
  const mh = new Float64Array(n - 1);
  let chainLength = 0;
  let y = 0;
  for (let k = 0; k < n - 1; k++) {
    if (chainLength === 0) {
      chain[0] = live.head;
      chainLength = 1;
    }
    let x: number;
    let currentMin: number;
    for (;;) {
      x = chain[chainLength - 1];
      const row = x * n;
      if (chainLength > 1) {
        y = chain[chainLength - 2];
        currentMin = D[row + y];
      } else {
        currentMin = Number.POSITIVE_INFINITY;
      }
      for (let i = live.head; i !== -1; i = next[i]) {
        if (i === x) continue;
        const d = D[row + i];
        if (d < currentMin) {
          currentMin = d;
          y = i;
        }
      }
      if (chainLength > 1 && y === chain[chainLength - 2]) break;
      chain[chainLength++] = y;
    }
    chainLength -= 2;
    if (x > y) {
      const t = x;
      x = y;
      y = t;
    }
    const nx = size[x];
    const ny = size[y];
    mx[k] = x;
    my[k] = y;
    mh[k] = currentMin;
    size[x] = 0;
    live.remove(x);
    size[y] = nx + ny;
    updateDistances(D, n, next, live.head, x, y, nx, ny);
    if ((k & 255) === 0) progress?.update(k);
  }
  progress?.finish();
  return { x: mx, y: my, height: mh };
}

/** d(i, y) ← (nx·d(i,x) + ny·d(i,y)) / (nx+ny) for every live i ≠ y (x is already gone). */
function updateDistances(
  D: Float64Array,
  n: number,
  next: Int32Array,
  head: number,
  x: number,
  y: number,
  nx: number,
  ny: number,
): void {
  const total = nx + ny;
  const rowX = x * n;
  const rowY = y * n;
  for (let i = head; i !== -1; i = next[i]) {
    if (i === y) continue;
    const v = (nx * D[rowX + i] + ny * D[rowY + i]) / total;
    D[rowY + i] = v;
    D[i * n + y] = v;
  }
}

/** Stable sort by height, then union-find relabelling (scipy's `label`). */
export function relabel(raw: RawMerges, n: number): LinkageTree {
  const m = n - 1;
  const order = Array.from({ length: m }, (_, k) => k);
  order.sort((a, b) => raw.height[a] - raw.height[b] || a - b);
  const parent = new Int32Array(2 * n - 1);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const ufSize = new Int32Array(2 * n - 1).fill(1);
  const find = (v: number): number => {
    let root = v;
    while (parent[root] !== root) root = parent[root];
    while (parent[v] !== root) {
      const up = parent[v];
      parent[v] = root;
      v = up;
    }
    return root;
  };
  const left = new Int32Array(m);
  const right = new Int32Array(m);
  const height = new Float64Array(m);
  const size = new Int32Array(m);
  for (let k = 0; k < m; k++) {
    const src = order[k];
    const rx = find(raw.x[src]);
    const ry = find(raw.y[src]);
    left[k] = Math.min(rx, ry);
    right[k] = Math.max(rx, ry);
    height[k] = raw.height[src];
    const label = n + k;
    parent[rx] = label;
    parent[ry] = label;
    ufSize[label] = ufSize[rx] + ufSize[ry];
    size[k] = ufSize[label];
  }
  return { n, left, right, height, size };
}

/**
 * scipy `linkage(condensed, method='average')` for n observations. Distances must be finite. The
 * condensed input is left untouched: the chain works on a square copy (8·n² bytes).
 */
export function averageLinkage(
  distances: Float64Array | CondensedDistances,
  n?: number,
  opts: Pick<LinkageOptions, "progress"> = {},
): LinkageTree {
  const data = distances instanceof Float64Array ? distances : distances.data;
  const count = n ?? (distances instanceof Float64Array ? inferN(data.length) : distances.n);
  validateCondensed(data, count);
  if (count === 1) return emptyTree(1);
  const square = squareFromCondensed({ n: count, data });
  return averageLinkageSquare(square, { ...opts, overwrite: true, checked: true });
}

/**
 * The same tree from a square symmetric distance matrix (`correlationDistanceMatrix`'s layout), which
 * is what the chain works in: no condensed copy. Checks finiteness and symmetry unless `checked`.
 */
export function averageLinkageSquare(
  square: SquareDistances,
  opts: LinkageOptions & { checked?: boolean } = {},
): LinkageTree {
  const { n, data } = square;
  if (!opts.checked) validateSquare(data, n);
  if (n === 1) return emptyTree(1);
  const D = opts.overwrite ? data : data.slice();
  const progress = opts.progress ? new Progress("average linkage", n - 1, { unit: "merges" }) : undefined;
  return relabel(nnChain(D, n, progress), n);
}

function emptyTree(n: number): LinkageTree {
  return {
    n,
    left: new Int32Array(0),
    right: new Int32Array(0),
    height: new Float64Array(0),
    size: new Int32Array(0),
  };
}

/** n from a condensed length n(n−1)/2. */
export function inferN(length: number): number {
  const n = Math.round((1 + Math.sqrt(1 + 8 * length)) / 2);
  if (condensedLength(n) !== length) throw new Error(`${length} is not a condensed length n(n-1)/2`);
  return n;
}

/** The tree as scipy's Z matrix rows [left, right, height, size]. */
export function linkageMatrix(tree: LinkageTree): number[][] {
  return Array.from(tree.height, (h, k) => [tree.left[k], tree.right[k], h, tree.size[k]]);
}

/**
 * Reads a Z matrix (rows [left, right, height, size], e.g. from a results JSON) back into a tree.
 * Checks what cutting relies on: integer children that exist and are used once, finite heights and
 * consistent sizes.
 */
export function treeFromLinkageMatrix(z: readonly (readonly number[])[], n: number): LinkageTree {
  if (!Number.isInteger(n) || n < 1) throw new Error(`linkage matrix: bad number of observations ${n}`);
  if (!Array.isArray(z) || z.length !== n - 1) {
    throw new Error(`linkage matrix has ${Array.isArray(z) ? z.length : "no"} rows, expected ${n - 1}`);
  }
  const tree = {
    n,
    left: new Int32Array(n - 1),
    right: new Int32Array(n - 1),
    height: new Float64Array(n - 1),
    size: new Int32Array(n - 1),
  };
  const used = new Uint8Array(2 * n - 1);
  const sizeOf = (id: number) => (id < n ? 1 : tree.size[id - n]);
  for (let k = 0; k < n - 1; k++) {
    const row = z[k];
    const bad = (why: string) => new Error(`linkage matrix row ${k} ${JSON.stringify(row)}: ${why}`);
    if (!Array.isArray(row) || row.length !== 4) throw bad("expected [left, right, height, size]");
    const [l, r, h, s] = row;
    for (const id of [l, r]) {
      if (!Number.isInteger(id) || id < 0 || id >= n + k)
        throw bad(`child ${id} is not a node made before it`);
      if (used[id]) throw bad(`node ${id} is merged twice`);
      used[id] = 1;
    }
    if (typeof h !== "number" || !Number.isFinite(h)) throw bad("height is not a finite number");
    if (s !== sizeOf(l) + sizeOf(r)) throw bad(`size ${s} != ${sizeOf(l)} + ${sizeOf(r)}`);
    tree.left[k] = Math.min(l, r);
    tree.right[k] = Math.max(l, r);
    tree.height[k] = h;
    tree.size[k] = s;
  }
  return tree;
}
