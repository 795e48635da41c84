import { matmulTransB } from "../linalg/products.js";
import { type LinkageTree, LiveList, type RawMerges, relabel } from "../redundancy/linkage.js";
import { type Matrix, matrix } from "../util/matrix.js";
import { Progress } from "../util/progress.js";

/**
 * Ward's minimum-variance hierarchical clustering of the rows of a matrix, with the merges of scipy's
 * `linkage(X, 'ward')` (which scikit-learn's AgglomerativeClustering(linkage="ward") runs) and memory
 * linear in the data (scipy holds two n²/2 float64 distance matrices).
 *
 * The merge order is scipy's nearest-neighbour chain (scipy.cluster._hierarchy.nn_chain), step for step:
 * the chain starts at the lowest-numbered live cluster; a cluster's nearest neighbour is the
 * lowest-numbered one at the smallest distance, except that the chain's previous element wins a tie;
 * merging x < y keeps the new cluster in slot y; merges are then stably sorted by height and relabelled.
 * What differs is how a distance is obtained. scipy updates a distance matrix by the Lance–Williams
 * recurrence; here a cluster is its size and centroid (float64), and the Ward distance of a and b is
 * computed directly in the recurrence's closed form, d(a, b) = sqrt(2·|a||b|/(|a|+|b|)·‖c_a − c_b‖²)
 * (for two points, their Euclidean distance, bit for bit what scipy's pdist gives when its sum runs in
 * the same order). Both are the same number up to rounding in the last bits, so the trees agree except
 * where two distances differ only by rounding: exact ties from duplicated rows keep scipy's order (a
 * merge of identical clusters gives back the same centroid exactly).
 *
 * Finding a nearest neighbour without the matrix: every cluster x keeps a short list of clusters with a
 * lower bound (or the exact value) of their distance, and a bound B_x below which no other cluster
 * lies. Ward's distance is reducible (when a and b are mutual nearest neighbours, d(a∪b, i) ≥
 * min(d(a, i), d(b, i)) for every i), so the bound survives merges among the others, and a list entry
 * whose cluster was merged away stands for the cluster that absorbed it. A merged cluster's entries and
 * bound come from its parts' by the Lance–Williams formula (monotone in the parts' distances, so lower
 * bounds give lower bounds). Exact distances are computed only for the entries that reach the smallest
 * bound, until the smallest entry is exact; when it is not below B_x, x is rescanned against every live
 * cluster: one GEMM (onnxruntime) of a batch of such clusters against all centroids gives float32
 * distances with a rigorous error bound; the candidates with the smallest lower bounds are kept and the
 * bound is the smallest lower bound of the rest. Clusters whose certificate has failed are batched
 * together, so the products run as matrix-matrix, not matrix-vector, work.
 */

export interface WardOptions {
  /** Show progress (default false: a library call stays quiet unless asked). */
  progress?: boolean;
  /** Progress label. */
  label?: string;
  /** Clusters rescanned together in one product (default 256). */
  batchRows?: number;
  /** Exact distances each cluster keeps after a rescan (default 24). */
  candidates?: number;
}

/** Statistics of one run, for tuning and tests. */
export interface WardStats {
  /** Cluster rows compared with all live clusters (the initial pass included). */
  scannedRows: number;
  /** Products run. */
  scans: number;
  /** Exact distances computed. */
  exactDistances: number;
  /** Rows with more than `candidates` clusters that may be nearest, compared with all on their own. */
  overflows: number;
}

/** Float32 unit roundoff. */
const U32 = 2 ** -24;
/** Relative slack on bounds for the float64 rounding of the exact distances and centroids. */
const SLACK = 1e-9;

/**
 * A cluster's known neighbours: slot, the slot's version when measured, and a lower bound of the
 * distance that is the exact distance when `exact` is set. Entries from a product keep its estimate
 * (squared) and error bound, to check the product when the exact value comes.
 */
class Known {
  ids: Int32Array;
  versions: Int32Array;
  dists: Float64Array;
  exact: Uint8Array;
  estimate: Float64Array;
  error: Float64Array;
  length = 0;

  constructor(capacity: number) {
    this.ids = new Int32Array(capacity);
    this.versions = new Int32Array(capacity);
    this.dists = new Float64Array(capacity);
    this.exact = new Uint8Array(capacity);
    this.estimate = new Float64Array(capacity);
    this.error = new Float64Array(capacity);
  }

  push(id: number, version: number, dist: number, exact: boolean, estimate = Number.NaN, error = 0): void {
    if (this.length === this.ids.length) this.grow(this.ids.length * 2);
    const e = this.length++;
    this.ids[e] = id;
    this.versions[e] = version;
    this.dists[e] = dist;
    this.exact[e] = exact ? 1 : 0;
    this.estimate[e] = estimate;
    this.error[e] = error;
  }

  /** Copies entry `from` over entry `to` (to ≤ from). */
  move(from: number, to: number): void {
    this.ids[to] = this.ids[from];
    this.versions[to] = this.versions[from];
    this.dists[to] = this.dists[from];
    this.exact[to] = this.exact[from];
    this.estimate[to] = this.estimate[from];
    this.error[to] = this.error[from];
  }

  private grow(cap: number): void {
    const ids = new Int32Array(cap);
    const versions = new Int32Array(cap);
    const dists = new Float64Array(cap);
    const exact = new Uint8Array(cap);
    const estimate = new Float64Array(cap);
    const error = new Float64Array(cap);
    ids.set(this.ids);
    versions.set(this.versions);
    dists.set(this.dists);
    exact.set(this.exact);
    estimate.set(this.estimate);
    error.set(this.error);
    this.ids = ids;
    this.versions = versions;
    this.dists = dists;
    this.exact = exact;
    this.estimate = estimate;
    this.error = error;
  }
}

/**
 * scipy's `linkage(X, 'ward')` for the rows of `x` (finite values; at least one row). Heights are
 * scipy's Ward distances.
 */
export async function wardLinkage(x: Matrix, opts: WardOptions = {}): Promise<LinkageTree> {
  return (await wardLinkageWithStats(x, opts)).tree;
}

export async function wardLinkageWithStats(
  x: Matrix,
  opts: WardOptions = {},
): Promise<{ tree: LinkageTree; stats: WardStats }> {
  const { rows: n, cols: d } = x;
  if (!Number.isInteger(n) || n < 1) throw new Error(`wardLinkage: need at least one row, got ${n}`);
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i]))
      throw new Error(`wardLinkage: value (${Math.floor(i / d)}, ${i % d}) is not finite (${x.data[i]})`);
  }
  const ward = new WardChain(x, opts);
  const raw = await ward.run();
  return { tree: relabel(raw, n), stats: ward.stats };
}

/** A growable list of (watcher slot, the watcher's list id when it registered) pairs. */
class Watchers {
  data = new Int32Array(8);
  length = 0;

  push(slot: number, listId: number): void {
    if (this.length + 2 > this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = slot;
    this.data[this.length++] = listId;
  }
}

class WardChain {
  readonly stats: WardStats = { scannedRows: 0, scans: 0, exactDistances: 0, overflows: 0 };
  private readonly n: number;
  private readonly d: number;
  private readonly batchRows: number;
  private readonly candidates: number;
  /** Centroids by slot (float64). */
  private readonly cent: Float64Array;
  private readonly size: Int32Array;
  /** Bumped when a slot receives a new cluster. */
  private readonly version: Int32Array;
  /** The slot a dead slot's cluster went into (path-compressed); a live slot points to itself. */
  private readonly into: Int32Array;
  private readonly live: LiveList;
  private readonly known: (Known | undefined)[];
  /** Bumped when a slot's list is rebuilt (a scan, a merge): older registrations with watchers lapse. */
  private readonly listId: Int32Array;
  /** No live cluster outside `known` is nearer than this. */
  private readonly bound: Float64Array;
  /** Smallest known distance when last refreshed (refreshing can only raise it). */
  private readonly knownMin: Float64Array;
  /** watchers[j]: the clusters whose lists name slot j, told when j's cluster changes. */
  private readonly watchers: (Watchers | undefined)[];
  /** Clusters whose lists name a cluster merged away since they were last refreshed. */
  private readonly dirty: Uint8Array;
  private dirtyList: number[] = [];
  /** Clusters whose certificate has failed (smallest known distance not below the bound). */
  private readonly failing: Uint8Array;
  private failingList: number[] = [];
  /** Centred float32 centroids, packed: live slots' rows, some dead ones until the next compaction. */
  private readonly packed: Float32Array;
  private packedRows: number;
  private readonly posOf: Int32Array;
  private readonly slotAt: Int32Array;
  /** ‖row‖² of the packed float32 rows, by position. */
  private readonly packedNorm2: Float64Array;
  private deadPacked = 0;
  private readonly mean: Float64Array;
  /** Scratch, by slot: stamps for de-duplication. */
  private readonly stamp: Int32Array;
  private stampNow = 0;
  private progress?: Progress;
  private dotBuffer = new Float32Array(0);
  /** Per-scan work arrays, by packed position. */
  private readonly scratch: {
    sizeAt: Float64Array;
    norm: Float64Array;
  };

  constructor(x: Matrix, opts: WardOptions) {
    const { rows: n, cols: d } = x;
    this.n = n;
    this.d = d;
    this.batchRows = Math.max(1, opts.batchRows ?? 256);
    this.candidates = Math.max(1, opts.candidates ?? 24);
    this.cent = Float64Array.from(x.data);
    this.size = new Int32Array(n).fill(1);
    this.version = new Int32Array(n);
    this.into = Int32Array.from({ length: n }, (_, i) => i);
    this.live = new LiveList(n);
    this.known = new Array(n);
    this.listId = new Int32Array(n);
    this.bound = new Float64Array(n);
    this.knownMin = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    this.watchers = new Array(n);
    this.dirty = new Uint8Array(n);
    this.failing = new Uint8Array(n);
    this.stamp = new Int32Array(n);
    // Centring makes the float32 products' error (relative to the rows' norms) small against distances.
    this.mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) this.mean[k] += this.cent[i * d + k];
    for (let k = 0; k < d; k++) this.mean[k] /= n;
    this.packed = new Float32Array(n * d);
    this.packedRows = n;
    this.posOf = Int32Array.from({ length: n }, (_, i) => i);
    this.slotAt = Int32Array.from({ length: n }, (_, i) => i);
    this.packedNorm2 = new Float64Array(n);
    for (let i = 0; i < n; i++) this.writePacked(i);
    this.scratch = {
      sizeAt: new Float64Array(n),
      norm: new Float64Array(n),
    };
    if (opts.progress)
      this.progress = new Progress(opts.label ?? "ward clustering", n - 1, { unit: "merges" });
  }

  async run(): Promise<RawMerges> {
    const n = this.n;
    const merges: RawMerges = {
      x: new Int32Array(Math.max(0, n - 1)),
      y: new Int32Array(Math.max(0, n - 1)),
      height: new Float64Array(Math.max(0, n - 1)),
    };
    if (n === 1) return merges;
    // Every cluster is searched at least once as a point: one pass over all rows first.
    await this.initialPass();
    const chain = new Int32Array(n);
    let chainLength = 0;
    for (let k = 0; k < n - 1; k++) {
      if (chainLength === 0) {
        chain[0] = this.live.head;
        chainLength = 1;
      }
      let x = chain[chainLength - 1];
      let y = -1;
      let current = 0;
      for (;;) {
        x = chain[chainLength - 1];
        const [nn, nnDist] = await this.nearest(x);
        if (chainLength > 1) {
          const prev = chain[chainLength - 2];
          const dPrev = this.exact(x, prev);
          // d(x, prev) ≥ the smallest distance; scipy keeps prev on a tie.
          if (dPrev <= nnDist) {
            y = prev;
            current = dPrev;
            break;
          }
        }
        chain[chainLength++] = nn;
      }
      chainLength -= 2;
      if (x > y) {
        const t = x;
        x = y;
        y = t;
      }
      merges.x[k] = x;
      merges.y[k] = y;
      merges.height[k] = current;
      this.merge(x, y, current);
      if ((k & 255) === 0) this.progress?.update(k);
    }
    this.progress?.finish();
    return merges;
  }

  /** The exact Ward distance between live slots i and j (symmetric bit for bit). */
  private exact(i: number, j: number): number {
    const d = this.d;
    const c = this.cent;
    const a = i * d;
    const b = j * d;
    let s = 0;
    for (let k = 0; k < d; k++) {
      const t = c[a + k] - c[b + k];
      s += t * t;
    }
    this.stats.exactDistances++;
    const ni = this.size[i];
    const nj = this.size[j];
    return Math.sqrt(((2 * ni * nj) / (ni + nj)) * s);
  }

  private find(i: number): number {
    const into = this.into;
    let r = i;
    while (into[r] !== r) r = into[r];
    while (into[i] !== r) {
      const up = into[i];
      into[i] = r;
      i = up;
    }
    return r;
  }

  private writePacked(slot: number): void {
    const d = this.d;
    const pos = this.posOf[slot];
    let s = 0;
    for (let k = 0; k < d; k++) {
      const v = Math.fround(this.cent[slot * d + k] - this.mean[k]);
      this.packed[pos * d + k] = v;
      s += v * v;
    }
    this.packedNorm2[pos] = s;
  }

  private watch(watcher: number, slot: number): void {
    let w = this.watchers[slot];
    if (!w) {
      w = new Watchers();
      this.watchers[slot] = w;
    }
    w.push(watcher, this.listId[watcher]);
  }

  /** Gives slot i a new list and bound. */
  private setList(i: number, known: Known, bound: number): void {
    this.known[i] = known;
    this.listId[i]++;
    this.bound[i] = bound;
    this.knownMin[i] = minOf(known);
    this.failing[i] = 0;
    this.dirty[i] = 0;
    for (let e = 0; e < known.length; e++) this.watch(i, known.ids[e]);
    this.checkCertificate(i);
  }

  /** Flags i for the next batch when even its list's lower bounds cannot beat its bound. */
  private checkCertificate(i: number): void {
    if (!(this.knownMin[i] < this.bound[i] * (1 - SLACK)) && !this.failing[i]) {
      this.failing[i] = 1;
      this.failingList.push(i);
    }
  }

  /** Merges slot x into slot y (x < y): y holds the new cluster. */
  private merge(x: number, y: number, height: number): void {
    const d = this.d;
    // The parts' lists, brought up to date while x and y are still themselves.
    const kx = this.refresh(x);
    const ky = this.refresh(y);
    const nx = this.size[x];
    const ny = this.size[y];
    const bx = this.bound[x];
    const by = this.bound[y];
    const c = this.cent;
    // c_y + (c_x − c_y)·nx/(nx+ny): identical centroids give back the same centroid exactly.
    const w = nx / (nx + ny);
    for (let k = 0; k < d; k++) c[y * d + k] += (c[x * d + k] - c[y * d + k]) * w;
    this.size[x] = 0;
    this.size[y] = nx + ny;
    this.version[y]++;
    this.into[x] = y;
    this.live.remove(x);
    this.slotAt[this.posOf[x]] = -1;
    this.deadPacked++;
    this.failing[x] = 0;
    this.known[x] = undefined;
    this.writePacked(y);
    // Clusters that knew x or y must refresh before their certificate means anything again.
    for (const slot of [x, y]) {
      const ws = this.watchers[slot];
      if (!ws) continue;
      for (let e = 0; e < ws.length; e += 2) {
        const i = ws.data[e];
        if (this.listId[i] === ws.data[e + 1] && this.size[i] > 0 && i !== y && !this.dirty[i]) {
          this.dirty[i] = 1;
          this.dirtyList.push(i);
        }
      }
      this.watchers[slot] = undefined;
    }
    // The new cluster's entries: the Lance–Williams distance from its parts' (a part that does not
    // list r is at least its bound from r), as lower bounds.
    const fromX = new Map<number, number>();
    if (kx) for (let e = 0; e < kx.length; e++) if (kx.ids[e] !== y) fromX.set(kx.ids[e], kx.dists[e]);
    const fromY = new Map<number, number>();
    if (ky) for (let e = 0; e < ky.length; e++) if (ky.ids[e] !== x) fromY.set(ky.ids[e], ky.dists[e]);
    const known = new Known(fromX.size + fromY.size + 1);
    const h2 = height * height;
    for (const [r, vx] of fromX) {
      known.push(r, this.version[r], lanceWilliams(vx, fromY.get(r) ?? by, nx, ny, this.size[r], h2), false);
    }
    for (const [r, vy] of fromY) {
      if (!fromX.has(r))
        known.push(r, this.version[r], lanceWilliams(bx, vy, nx, ny, this.size[r], h2), false);
    }
    const bound = this.trim(known, mergedBound(bx, by, nx, ny, height));
    this.setList(y, known, bound);
  }

  /** Keeps the list at most 2 × candidates long; a dropped entry's lower bound lowers the bound. */
  private trim(known: Known, bound: number): number {
    const cap = 2 * this.candidates;
    if (known.length <= cap) return bound;
    const order = Array.from({ length: known.length }, (_, e) => e).sort(
      (a, b) => known.dists[a] - known.dists[b] || a - b,
    );
    const kept = new Known(cap);
    for (let t = 0; t < known.length; t++) {
      const e = order[t];
      if (t < cap)
        kept.push(
          known.ids[e],
          known.versions[e],
          known.dists[e],
          known.exact[e] === 1,
          known.estimate[e],
          known.error[e],
        );
      else bound = Math.min(bound, known.dists[e]);
    }
    Object.assign(known, kept);
    return bound;
  }

  /**
   * Brings x's list up to date: entries whose cluster was merged away become one entry for the
   * cluster that holds them now, whose distance is at least the smallest of theirs and of B_x (by
   * reducibility). The bound stays valid.
   */
  private refresh(x: number): Known | undefined {
    const list = this.known[x];
    this.dirty[x] = 0;
    if (!list) return undefined;
    const live = (e: number) => this.size[list.ids[e]] > 0 && this.version[list.ids[e]] === list.versions[e];
    let stale = 0;
    for (let e = 0; e < list.length; e++) if (!live(e)) stale++;
    if (stale === 0) return list;
    const stamp = ++this.stampNow;
    this.stamp[x] = stamp;
    for (let e = 0; e < list.length; e++) if (live(e)) this.stamp[list.ids[e]] = stamp;
    const lowest = new Map<number, number>();
    for (let e = 0; e < list.length; e++) {
      if (live(e)) continue;
      const r = this.find(list.ids[e]);
      if (this.stamp[r] === stamp) continue;
      lowest.set(r, Math.min(lowest.get(r) ?? Number.POSITIVE_INFINITY, list.dists[e]));
    }
    let out = 0;
    for (let e = 0; e < list.length; e++) {
      if (!live(e)) continue;
      if (out !== e) list.move(e, out);
      out++;
    }
    list.length = out;
    for (const [r, v] of lowest) {
      list.push(r, this.version[r], Math.min(v, this.bound[x]), false);
      this.watch(x, r);
    }
    this.knownMin[x] = minOf(list);
    this.checkCertificate(x);
    return list;
  }

  /**
   * The nearest live cluster to x in x's list (the lowest slot among the nearest) and its distance:
   * entries are made exact from the smallest lower bound up until the smallest is exact.
   */
  private resolve(x: number): [number, number] {
    const list = this.known[x]!;
    for (;;) {
      let at = -1;
      for (let e = 0; e < list.length; e++) {
        const v = list.dists[e];
        if (at < 0) at = e;
        else {
          const best = list.dists[at];
          // A lower bound equal to an exact minimum must be resolved: it may tie.
          if (v < best || (v === best && !list.exact[e] && list.exact[at])) at = e;
        }
      }
      if (at < 0) return [-1, Number.POSITIVE_INFINITY];
      if (list.exact[at]) break;
      const v = this.exact(x, list.ids[at]);
      if (!Number.isNaN(list.estimate[at])) checkEstimate(v * v, list.estimate[at], list.error[at]);
      list.dists[at] = v;
      list.exact[at] = 1;
    }
    let best = -1;
    let bestDist = Number.POSITIVE_INFINITY;
    for (let e = 0; e < list.length; e++) {
      if (!list.exact[e]) continue;
      const v = list.dists[e];
      const j = list.ids[e];
      if (v < bestDist || (v === bestDist && j < best)) {
        bestDist = v;
        best = j;
      }
    }
    this.knownMin[x] = bestDist;
    return [best, bestDist];
  }

  /** The nearest live cluster to x (lowest slot among the nearest) and its distance. */
  private async nearest(x: number): Promise<[number, number]> {
    const list = this.refresh(x);
    if (list && !this.failing[x]) {
      const found = this.resolve(x);
      if (found[1] < this.bound[x] * (1 - SLACK)) return found;
      this.checkCertificate(x);
    }
    await this.scan(this.batchFor(x));
    // A fresh list holds every cluster that may be nearest: no certificate needed.
    return this.resolve(x);
  }

  /**
   * x and the other live clusters that will need a scan when asked for their nearest neighbour
   * (their certificate has failed, once refreshed): scanning them together costs about one scan.
   */
  private batchFor(x: number): Int32Array {
    // A refreshed cluster whose lower bounds cannot decide is resolved: its exact smallest distance
    // says whether it will need a scan.
    for (const i of this.dirtyList) {
      if (!this.dirty[i] || this.size[i] === 0) continue;
      this.refresh(i);
      if (!this.failing[i] && !(this.resolve(i)[1] < this.bound[i] * (1 - SLACK))) this.checkCertificate(i);
    }
    this.dirtyList = [];
    const rows = [x];
    const rest: number[] = [];
    const stamp = ++this.stampNow;
    this.stamp[x] = stamp;
    for (const i of this.failingList) {
      if (!this.failing[i] || this.size[i] === 0 || this.stamp[i] === stamp) continue;
      this.stamp[i] = stamp;
      if (rows.length < this.batchRows) rows.push(i);
      else rest.push(i);
    }
    this.failingList = rest;
    return Int32Array.from(rows);
  }

  private compact(): void {
    const d = this.d;
    let out = 0;
    for (let p = 0; p < this.packedRows; p++) {
      const slot = this.slotAt[p];
      if (slot < 0) continue;
      if (out !== p) {
        this.packed.copyWithin(out * d, p * d, (p + 1) * d);
        this.packedNorm2[out] = this.packedNorm2[p];
      }
      this.slotAt[out] = slot;
      this.posOf[slot] = out;
      out++;
    }
    this.packedRows = out;
    this.deadPacked = 0;
  }

  /**
   * Compares the given live slots with every live cluster (one product) and gives each a fresh list
   * and bound (see Candidates).
   */
  private async scan(slots: Int32Array): Promise<void> {
    const d = this.d;
    if (this.deadPacked > this.packedRows / 4) this.compact();
    const m = this.packedRows;
    const r = slots.length;
    const q = new Float32Array(r * d);
    for (let i = 0; i < r; i++) {
      const pos = this.posOf[slots[i]];
      q.set(this.packed.subarray(pos * d, (pos + 1) * d), i * d);
    }
    const dots = await this.product(matrix(r, d, q), matrix(m, d, this.packed.subarray(0, m * d)));
    this.stats.scans++;
    this.stats.scannedRows += r;
    const c = errorFactor(d);
    const norm2 = this.packedNorm2;
    const { norm, sizeAt } = this.scratch;
    for (let p = 0; p < m; p++) {
      const slot = this.slotAt[p];
      sizeAt[p] = slot < 0 ? 0 : this.size[slot];
      norm[p] = Math.sqrt(norm2[p]);
    }
    const cand = new Candidates(r, this.candidates);
    for (let i = 0; i < r; i++) {
      const x = slots[i];
      const px = this.posOf[x];
      const nx = this.size[x];
      const n2x = norm2[px];
      const normX = norm[px];
      const row = i * m;
      for (let p = 0; p < m; p++) {
        const np = sizeAt[p];
        if (np === 0 || p === px) continue;
        const coef = (2 * nx * np) / (nx + np);
        const s = normX + norm[p];
        cand.consider(i, p, coef * (n2x + norm2[p] - 2 * dots[row + p]), coef * c * s * s);
      }
    }
    for (let i = 0; i < r; i++) await this.finish(slots[i], cand, i);
  }

  /** A·Bᵀ into the reused buffer. */
  private async product(a: Matrix, b: Matrix): Promise<Float32Array> {
    const size = a.rows * b.rows;
    if (this.dotBuffer.length < size)
      this.dotBuffer = new Float32Array(Math.max(size, this.batchRows * this.n));
    return (await matmulTransB(a, b, this.dotBuffer.subarray(0, size))).data;
  }

  /**
   * The first pass, every point against every point: the products of the upper triangle only, each
   * estimate offered to both rows. All slots are live single points here (packed position = slot).
   */
  private async initialPass(): Promise<void> {
    const { n, d } = this;
    const c = errorFactor(d);
    const norm2 = this.packedNorm2;
    const norm = this.scratch.norm;
    for (let p = 0; p < n; p++) norm[p] = Math.sqrt(norm2[p]);
    const cand = new Candidates(n, this.candidates);
    const R = this.batchRows;
    for (let i0 = 0; i0 < n; i0 += R) {
      const r = Math.min(R, n - i0);
      const cols = n - i0;
      const dots = await this.product(
        matrix(r, d, this.packed.subarray(i0 * d, (i0 + r) * d)),
        matrix(cols, d, this.packed.subarray(i0 * d, n * d)),
      );
      this.stats.scans++;
      this.stats.scannedRows += r;
      for (let a = 0; a < r; a++) {
        const i = i0 + a;
        const n2i = norm2[i];
        const normI = norm[i];
        const row = a * cols - i0;
        // Two single points: coef = 1.
        for (let j = i + 1; j < n; j++) {
          const s = normI + norm[j];
          const estimate = n2i + norm2[j] - 2 * dots[row + j];
          const e = c * s * s;
          cand.consider(i, j, estimate, e);
          cand.consider(j, i, estimate, e);
        }
      }
      this.progress?.update(0);
    }
    for (let i = 0; i < n; i++) await this.finish(i, cand, i);
  }

  /** Row `row` of `cand` becomes slot x's list and bound; a row whose heap overflowed is scanned alone. */
  private async finish(x: number, cand: Candidates, row: number): Promise<void> {
    const limit = cand.upper[row] * (1 + SLACK);
    if (!(cand.overflow[row] > limit)) {
      // More than `candidates` clusters may be nearest (many identical rows): compare x with all.
      this.stats.overflows++;
      await this.scanAll(x);
      return;
    }
    const base = row * this.candidates;
    const count = cand.count[row];
    const known = new Known(count + 8);
    for (let e = 0; e < count; e++) {
      const j = this.slotAt[cand.index[base + e]];
      const est = cand.estimate[base + e];
      known.push(j, this.version[j], boundOf(cand.lower[base + e]), false, est, est - cand.lower[base + e]);
    }
    this.setList(x, known, boundOf(cand.overflow[row]));
  }

  /** Slot x against every live cluster, keeping every cluster that may be nearest (no cap). */
  private async scanAll(x: number): Promise<void> {
    const d = this.d;
    const m = this.packedRows;
    const px = this.posOf[x];
    const dots = await this.product(
      matrix(1, d, this.packed.slice(px * d, (px + 1) * d)),
      matrix(m, d, this.packed.subarray(0, m * d)),
    );
    const c = errorFactor(d);
    const nx = this.size[x];
    const norm2 = this.packedNorm2;
    const mid = new Float64Array(m);
    const err = new Float64Array(m);
    let upper = Number.POSITIVE_INFINITY;
    for (let p = 0; p < m; p++) {
      const slot = this.slotAt[p];
      if (slot < 0 || p === px) continue;
      const np = this.size[slot];
      const coef = (2 * nx * np) / (nx + np);
      const s = Math.sqrt(norm2[px]) + Math.sqrt(norm2[p]);
      mid[p] = coef * (norm2[px] + norm2[p] - 2 * dots[p]);
      err[p] = coef * c * s * s;
      upper = Math.min(upper, mid[p] + err[p]);
    }
    const limit = upper * (1 + SLACK);
    const known = new Known(16);
    let bound = Number.POSITIVE_INFINITY;
    for (let p = 0; p < m; p++) {
      const j = this.slotAt[p];
      if (j < 0 || p === px) continue;
      const lo = mid[p] - err[p];
      if (lo <= limit) known.push(j, this.version[j], boundOf(lo), false, mid[p], err[p]);
      else if (lo < bound) bound = lo;
    }
    this.setList(x, known, boundOf(bound));
  }
}

/** A bound in squared units (from the products) as a distance, lowered by the float64 slack. */
function boundOf(squared: number): number {
  return squared === Number.POSITIVE_INFINITY ? squared : Math.sqrt(Math.max(0, squared)) * (1 - SLACK);
}

/**
 * |fl(a·b) − a·b| ≤ γ_d‖a‖‖b‖ for any order of summation, and the packed rows are float32 roundings of
 * the centred centroids: together the estimate of ‖a − b‖² is within c·(‖a‖ + ‖b‖)² of it.
 */
function errorFactor(d: number): number {
  return 2 * (d + 8) * U32;
}

/**
 * Per row, the `k` candidates with the smallest lower bounds (a max-heap on the lower bound), the
 * smallest upper bound seen, and the smallest lower bound of everything not kept (`overflow`). The
 * kept candidates get exact distances; `overflow` is the row's bound, valid when it exceeds the
 * smallest upper bound (then every cluster that may be nearest was kept).
 */
class Candidates {
  readonly index: Int32Array;
  readonly lower: Float64Array;
  readonly estimate: Float64Array;
  readonly count: Int32Array;
  readonly upper: Float64Array;
  readonly overflow: Float64Array;

  constructor(
    rows: number,
    private readonly k: number,
  ) {
    this.index = new Int32Array(rows * k);
    this.lower = new Float64Array(rows * k);
    this.estimate = new Float64Array(rows * k);
    this.count = new Int32Array(rows);
    this.upper = new Float64Array(rows).fill(Number.POSITIVE_INFINITY);
    this.overflow = new Float64Array(rows).fill(Number.POSITIVE_INFINITY);
  }

  consider(row: number, p: number, estimate: number, err: number): void {
    const hi = estimate + err;
    if (hi < this.upper[row]) this.upper[row] = hi;
    const lo = estimate - err;
    const k = this.k;
    const base = row * k;
    const lower = this.lower;
    const n = this.count[row];
    if (n < k) {
      let i = n;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (lower[base + parent] >= lo) break;
        this.move(base + parent, base + i);
        i = parent;
      }
      this.put(base + i, p, lo, estimate);
      this.count[row] = n + 1;
      return;
    }
    const top = lower[base];
    if (lo >= top) {
      if (lo < this.overflow[row]) this.overflow[row] = lo;
      return;
    }
    if (top < this.overflow[row]) this.overflow[row] = top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) break;
      const r = l + 1;
      const child = r < k && lower[base + r] > lower[base + l] ? r : l;
      if (lower[base + child] <= lo) break;
      this.move(base + child, base + i);
      i = child;
    }
    this.put(base + i, p, lo, estimate);
  }

  private move(from: number, to: number): void {
    this.index[to] = this.index[from];
    this.lower[to] = this.lower[from];
    this.estimate[to] = this.estimate[from];
  }

  private put(at: number, p: number, lo: number, estimate: number): void {
    this.index[at] = p;
    this.lower[at] = lo;
    this.estimate[at] = estimate;
  }
}

/**
 * A lower bound on d(x∪y, j) for every cluster j that neither x nor y knew (d(x, j) ≥ bx, d(y, j) ≥ by),
 * from the Lance–Williams form of Ward's distance:
 * d²(x∪y, j) = ((nx+nj)·d²(x,j) + (ny+nj)·d²(y,j) − nj·h²) / (nx+ny+nj), with h = d(x, y). Over
 * nj ≥ 1 the right side's lower bound moves monotonically from its value at nj = 1 to bx² + by² − h².
 */
function mergedBound(bx: number, by: number, nx: number, ny: number, h: number): number {
  if (bx === Number.POSITIVE_INFINITY || by === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const a = nx * bx * bx + ny * by * by;
  const c = bx * bx + by * by - h * h;
  const b2 = Math.min((a + c) / (nx + ny + 1), c);
  return Math.max(0, Math.sqrt(Math.max(0, b2)) * (1 - SLACK));
}

/**
 * Lance–Williams for Ward: d(x∪y, r) from d(x, r) = vx, d(y, r) = vy and h² = d²(x, y), as a lower
 * bound (increasing in vx and vy, so lower bounds give a lower bound; lowered by the float64 slack).
 */
function lanceWilliams(vx: number, vy: number, nx: number, ny: number, nr: number, h2: number): number {
  if (vx === Number.POSITIVE_INFINITY || vy === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const d2 = ((nx + nr) * vx * vx + (ny + nr) * vy * vy - nr * h2) / (nx + ny + nr);
  return Math.sqrt(Math.max(0, d2)) * (1 - SLACK);
}

/**
 * The products' error bound is what makes the search exact: an estimate off by more than it (a device
 * computing float32 products at lower precision, such as TF32) must stop the run, not change the tree.
 */
function checkEstimate(exactSq: number, estimate: number, err: number): void {
  if (Math.abs(exactSq - estimate) > err * 1.5 + 1e-300)
    throw new Error(
      `ward: a float32 product's error (${Math.abs(exactSq - estimate)}) exceeds its bound (${err}); is the execution provider computing at lower precision (TF32)?`,
    );
}

function minOf(list: Known): number {
  let m = Number.POSITIVE_INFINITY;
  for (let e = 0; e < list.length; e++) if (list.dists[e] < m) m = list.dists[e];
  return m;
}
