import type { Matrix } from "../util/matrix.js";
import { prefaultedBuffer } from "../util/prefault.js";
import { Progress } from "../util/progress.js";
import { matmulTransB } from "./products.js";
import { transposeBlocked } from "./standardize.js";

/**
 * Pearson correlation of all columns (neurons) of X over its rows (tokens). The columns are centred
 * and scaled in float64 (centring before the product matters in float32: raw activations have large
 * means, and Xᵀ·X − n·μμᵀ would cancel catastrophically), rounded to float32 and multiplied on
 * onnxruntime. The result is symmetric, so only the upper block triangle is computed: row block I
 * times the columns I…n−1, which halves the flops.
 *
 * A column with zero variance correlates 0 with every other column (distance 1), as NeuroX's
 * `np.nan_to_num(np.corrcoef(...))` makes it.
 */

export interface CorrelationOptions {
  /**
   * Rows of the correlation matrix computed per onnxruntime call (default 256). The diagonal blocks
   * compute n·b/2 entries twice, so smaller blocks waste less; 256 rows still keep the GEMM at full
   * speed (bench/RESULTS.md, "Design choices").
   */
  blockSize?: number;
  /** Show progress (default true; CODENEURONS_QUIET=1 silences it). */
  progress?: boolean;
}

/** Condensed distances in scipy's layout: entry (i, j), i < j, at condensedIndex(n, i, j). */
export interface CondensedDistances {
  readonly n: number;
  readonly data: Float64Array;
}

/**
 * All n × n distances, row-major and symmetric, diagonal 0: twice the memory of the condensed form,
 * but every row is contiguous, which is what the nearest-neighbour chain scans (see linkage.ts).
 */
export interface SquareDistances {
  readonly n: number;
  readonly data: Float64Array;
}

export interface CorrelationDistances extends CondensedDistances {
  /** Columns with zero variance over the rows (their correlation with anything is 0). */
  readonly constantColumns: number[];
}

export interface CorrelationDistanceMatrix extends SquareDistances {
  /** Columns with zero variance over the rows (their correlation with anything is 0). */
  readonly constantColumns: number[];
}

/** Number of entries of the condensed form of an n × n symmetric matrix: n(n−1)/2. */
export function condensedLength(n: number): number {
  return (n * (n - 1)) / 2;
}

/** Index of (i, j), i ≠ j, in the condensed vector (scipy's `condensed_index`). */
export function condensedIndex(n: number, i: number, j: number): number {
  if (i === j) throw new Error(`condensedIndex: i = j = ${i} has no entry`);
  const a = Math.min(i, j);
  const b = Math.max(i, j);
  return n * a - (a * (a + 1)) / 2 + (b - a - 1);
}

export interface Standardized {
  /** n × rows, row-major: row j is column j of X centred and scaled to unit Euclidean norm. */
  readonly zt: Float32Array;
  readonly constantColumns: number[];
}

/** Σ d[o…o+len) (or Σ (d − m)² with `squares`), in four interleaved float64 accumulators. */
function rowSum(d: Float32Array, o: number, len: number, m: number, squares: boolean): number {
  // Four independent sums keep the adds from waiting on each other (~3× faster than one running sum)
  // and are at least as accurate.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = o + len;
  let r = o;
  if (squares) {
    for (; r + 4 <= end; r += 4) {
      const v0 = d[r] - m;
      const v1 = d[r + 1] - m;
      const v2 = d[r + 2] - m;
      const v3 = d[r + 3] - m;
      s0 += v0 * v0;
      s1 += v1 * v1;
      s2 += v2 * v2;
      s3 += v3 * v3;
    }
    for (; r < end; r++) s0 += (d[r] - m) * (d[r] - m);
  } else {
    for (; r + 4 <= end; r += 4) {
      s0 += d[r];
      s1 += d[r + 1];
      s2 += d[r + 2];
      s3 += d[r + 3];
    }
    for (; r < end; r++) s0 += d[r];
  }
  return s0 + s1 + (s2 + s3);
}

/**
 * The standardised columns of X, transposed: one cache-blocked transpose, then each row of the copy
 * (a column of X, contiguous and in cache) is centred by its float64 mean and scaled to unit norm in
 * float64 (two-pass statistics: raw activations have large means, which a one-pass variance or
 * centring after the float32 product would cancel away). A column whose centred norm is 0 (or whose
 * inverse overflows) is zeroed and reported as constant.
 */
export function standardizeColumnsT(x: Matrix): Standardized {
  const { rows, cols } = x;
  if (rows < 2) throw new Error(`correlation needs at least 2 rows (tokens), got ${rows}`);
  const zt = transposeBlocked(x).data;
  const constantColumns: number[] = [];
  for (let j = 0; j < cols; j++) {
    const o = j * rows;
    const sum = rowSum(zt, o, rows, 0, false);
    // float32 values cannot overflow a float64 sum, so a non-finite sum means NaN or ±Inf in the data.
    if (!Number.isFinite(sum)) throw new Error(`correlation: column ${j} holds NaN or infinite values`);
    const mean = sum / rows;
    const sq = rowSum(zt, o, rows, mean, true);
    const inv = 1 / Math.sqrt(sq);
    if (!(sq > 0) || !Number.isFinite(inv)) {
      constantColumns.push(j);
      zt.fill(0, o, o + rows);
      continue;
    }
    for (let r = o; r < o + rows; r++) zt[r] = (zt[r] - mean) * inv;
  }
  return { zt, constantColumns };
}

/**
 * Calls `visit(i0, block)` for consecutive row blocks of the upper triangle: `block` holds rows
 * i0…i0+b−1 of the correlation matrix restricted to columns i0…n−1 (row-major, width n − i0).
 * onnxruntime-node runs a session synchronously on this thread, so products and visits alternate;
 * every product writes into one reused buffer (no fresh pages per block).
 */
async function forEachUpperBlock(
  std: Standardized,
  n: number,
  rows: number,
  opts: CorrelationOptions,
  visit: (i0: number, b: number, width: number, block: Float32Array) => void,
): Promise<void> {
  const bs = Math.max(1, Math.min(n, Math.floor(opts.blockSize ?? 256)));
  const progress = new Progress("correlation", condensedLength(n) + n, {
    quiet: opts.progress === false ? true : undefined,
    unit: "pairs",
  });
  const buffer = new Float32Array(bs * n);
  let done = 0;
  for (let i0 = 0; i0 < n; i0 += bs) {
    const b = Math.min(bs, n - i0);
    const width = n - i0;
    const a = { data: std.zt.subarray(i0 * rows, (i0 + b) * rows), rows: b, cols: rows };
    const rest = { data: std.zt.subarray(i0 * rows), rows: width, cols: rows };
    const block = await matmulTransB(a, rest, buffer.subarray(0, b * width));
    visit(i0, b, width, block.data);
    done += b * width - (b * (b - 1)) / 2;
    progress.update(done);
  }
  progress.finish();
}

function clampCorrelation(v: number): number {
  return Math.min(1, Math.max(-1, v));
}

/** The distance of a float32 correlation: 1 − |r| (or 1 − r), r clamped to [−1, 1], in float64. */
export function correlationDistance(v: number, absolute: boolean): number {
  const r = clampCorrelation(v);
  return 1 - (absolute ? Math.abs(r) : r);
}

/**
 * Distances 1 − |r| (or 1 − r with `absolute: false`) between all columns of X, in scipy's condensed
 * layout and float64, ready for `averageLinkage`. Memory: 8·n(n−1)/2 bytes plus a float32 copy of X.
 */
export async function correlationDistances(
  x: Matrix,
  opts: CorrelationOptions & { absolute?: boolean } = {},
): Promise<CorrelationDistances> {
  const n = x.cols;
  const absolute = opts.absolute ?? true;
  const out = new Float64Array(condensedLength(n));
  const std = standardizeColumnsT(x);
  if (n < 2) return { n, data: out, constantColumns: std.constantColumns };
  await forEachUpperBlock(std, n, x.rows, opts, (i0, b, width, block) => {
    for (let r = 0; r < b; r++) {
      const i = i0 + r;
      // Row i of the condensed vector starts at condensedIndex(n, i, i + 1).
      let k = n * i - (i * (i + 1)) / 2;
      const off = r * width;
      for (let c = r + 1; c < width; c++) out[k++] = correlationDistance(block[off + c], absolute);
    }
  });
  return { n, data: out, constantColumns: std.constantColumns };
}

/** Columns of a correlation block mirrored per tile of this many, so that both writes stay in cache. */
const MIRROR_TILE = 32;

/**
 * Distances 1 − |r| (or 1 − r) between all columns of X as a full symmetric matrix (float64, diagonal
 * 0), the layout `averageLinkageSquare` works in. Each correlation is computed once and written to
 * (i, j) and (j, i) in tiles: the row writes are contiguous and the column writes advance together.
 * Memory: 8·n² bytes plus a float32 copy of X.
 */
export async function correlationDistanceMatrix(
  x: Matrix,
  opts: CorrelationOptions & { absolute?: boolean } = {},
): Promise<CorrelationDistanceMatrix> {
  // The matrix's pages are faulted in by a worker while this thread standardises (see prefault.ts).
  const memory = prefaultedBuffer(8 * x.cols * x.cols);
  const std = standardizeColumnsT(x);
  await memory.ready;
  return distanceMatrixOfStandardized(std, x.rows, opts, new Float64Array(memory.buffer));
}

/**
 * `correlationDistanceMatrix` from columns already standardised by `standardizeColumnsT` (n = the
 * number of its rows), into `out` (n² float64, zero-filled) when given.
 */
export async function distanceMatrixOfStandardized(
  std: Standardized,
  rows: number,
  opts: CorrelationOptions & { absolute?: boolean } = {},
  out: Float64Array = new Float64Array((std.zt.length / rows) ** 2),
): Promise<CorrelationDistanceMatrix> {
  const n = std.zt.length / rows;
  const absolute = opts.absolute ?? true;
  if (out.length !== n * n) throw new Error(`distance matrix: ${out.length} entries for ${n} columns`);
  if (n < 2) return { n, data: out, constantColumns: std.constantColumns };
  await forEachUpperBlock(std, n, rows, opts, (i0, b, width, block) => {
    for (let c0 = 0; c0 < width; c0 += MIRROR_TILE) {
      const c1 = Math.min(width, c0 + MIRROR_TILE);
      for (let r = 0; r < b && r + 1 < c1; r++) {
        const i = i0 + r;
        const rowOut = i * n + i0;
        const off = r * width;
        for (let c = Math.max(c0, r + 1); c < c1; c++) {
          const d = correlationDistance(block[off + c], absolute);
          out[rowOut + c] = d;
          out[(i0 + c) * n + i] = d;
        }
      }
    }
  });
  return { n, data: out, constantColumns: std.constantColumns };
}

/**
 * Correlations between the columns of two standardised sets (`standardizeColumnsT` of two matrices
 * over the same rows): a [na × nb] float32 block, entry (i, j) the correlation of column i of the
 * first with column j of the second, from the same float32 product as the square matrix's entries.
 */
export async function crossCorrelationBlock(a: Standardized, b: Standardized, rows: number): Promise<Matrix> {
  const na = a.zt.length / rows;
  const nb = b.zt.length / rows;
  return matmulTransB({ data: a.zt, rows: na, cols: rows }, { data: b.zt, rows: nb, cols: rows });
}

/** The condensed form (scipy's layout) of a square distance matrix: its upper triangle, row by row. */
export function condensedFromSquare(square: SquareDistances): CondensedDistances {
  const { n, data } = square;
  const out = new Float64Array(condensedLength(n));
  let k = 0;
  for (let i = 0; i < n; i++) {
    out.set(data.subarray(i * n + i + 1, (i + 1) * n), k);
    k += n - i - 1;
  }
  return { n, data: out };
}

/** The square form of condensed distances (diagonal 0). */
export function squareFromCondensed(condensed: CondensedDistances): SquareDistances {
  const { n, data } = condensed;
  const out = new Float64Array(n * n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = data[k++];
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
  return { n, data: out };
}

/**
 * The full n × n correlation matrix (row-major, float64, diagonal 1 except for constant columns,
 * whose diagonal is 0). For small n: it holds n² numbers.
 */
export async function correlationMatrix(x: Matrix, opts: CorrelationOptions = {}): Promise<Float64Array> {
  const n = x.cols;
  const out = new Float64Array(n * n);
  const std = standardizeColumnsT(x);
  const constant = new Set(std.constantColumns);
  await forEachUpperBlock(std, n, x.rows, opts, (i0, b, width, block) => {
    for (let r = 0; r < b; r++) {
      const i = i0 + r;
      out[i * n + i] = constant.has(i) ? 0 : 1;
      for (let c = r + 1; c < width; c++) {
        const j = i0 + c;
        const v = clampCorrelation(block[r * width + c]);
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    }
  });
  return out;
}
