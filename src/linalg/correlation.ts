import type { Matrix } from "../util/matrix.js";
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
   * speed (9,984 neurons × 12,000 tokens, 2 threads: 7.5 s at 256, 8.5 s at 512, 9.2 s at 1024).
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

export interface CorrelationDistances extends CondensedDistances {
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

interface Standardized {
  /** n × rows, row-major: row j is column j of X centred and scaled to unit Euclidean norm. */
  readonly zt: Float32Array;
  readonly constantColumns: number[];
}

/**
 * Per-column mean and 1 / centred norm of row-major X, in float64, summing each column in row order
 * (two sequential passes over X with n accumulators, which stay in cache). A column whose centred
 * norm is 0 (or whose inverse overflows) gets inv = 0: it is zeroed and reported as constant.
 */
function columnScales(x: Matrix): { mean: Float64Array; inv: Float64Array; constantColumns: number[] } {
  const { rows, cols, data } = x;
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let j = 0; j < cols; j++) mean[j] += data[off + j];
  }
  for (let j = 0; j < cols; j++) {
    // float32 values cannot overflow a float64 sum, so a non-finite sum means NaN or ±Inf in the data.
    if (!Number.isFinite(mean[j])) throw new Error(`correlation: column ${j} holds NaN or infinite values`);
    mean[j] /= rows;
  }
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let j = 0; j < cols; j++) {
      const d = data[off + j] - mean[j];
      sq[j] += d * d;
    }
  }
  const inv = new Float64Array(cols);
  const constantColumns: number[] = [];
  for (let j = 0; j < cols; j++) {
    const v = 1 / Math.sqrt(sq[j]);
    if (!(sq[j] > 0) || !Number.isFinite(v)) constantColumns.push(j);
    else inv[j] = v;
  }
  return { mean, inv, constantColumns };
}

/**
 * The standardised columns of X, transposed: column statistics in two sequential passes, then one
 * cache-blocked pass that centres, scales and transposes.
 */
export function standardizeColumnsT(x: Matrix): Standardized {
  if (x.rows < 2) throw new Error(`correlation needs at least 2 rows (tokens), got ${x.rows}`);
  const { mean, inv, constantColumns } = columnScales(x);
  return { zt: transposeBlocked(x, { mean, inv }).data, constantColumns };
}

/**
 * Calls `visit(i0, block)` for consecutive row blocks of the upper triangle: `block` holds rows
 * i0…i0+b−1 of the correlation matrix restricted to columns i0…n−1 (row-major, width n − i0).
 * The next block's product runs on onnxruntime while `visit` consumes the current one.
 */
async function forEachUpperBlock(
  std: Standardized,
  n: number,
  rows: number,
  opts: CorrelationOptions,
  visit: (i0: number, b: number, width: number, block: Float32Array) => void,
): Promise<void> {
  const bs = Math.max(1, Math.floor(opts.blockSize ?? 256));
  const starts: number[] = [];
  for (let i0 = 0; i0 < n; i0 += bs) starts.push(i0);
  const progress = new Progress("correlation", condensedLength(n) + n, {
    quiet: opts.progress === false ? true : undefined,
    unit: "pairs",
  });
  const product = (i0: number) => {
    const b = Math.min(bs, n - i0);
    const a = { data: std.zt.subarray(i0 * rows, (i0 + b) * rows), rows: b, cols: rows };
    const rest = { data: std.zt.subarray(i0 * rows), rows: n - i0, cols: rows };
    return matmulTransB(a, rest);
  };
  let pending = product(starts[0]);
  let done = 0;
  for (let k = 0; k < starts.length; k++) {
    const block = await pending;
    if (k + 1 < starts.length) pending = product(starts[k + 1]);
    const i0 = starts[k];
    visit(i0, block.rows, block.cols, block.data);
    done += block.rows * block.cols - (block.rows * (block.rows - 1)) / 2;
    progress.update(done);
  }
  progress.finish();
}

function clampCorrelation(v: number): number {
  return Math.min(1, Math.max(-1, v));
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
      for (let c = r + 1; c < width; c++) {
        const v = clampCorrelation(block[off + c]);
        out[k++] = 1 - (absolute ? Math.abs(v) : v);
      }
    }
  });
  return { n, data: out, constantColumns: std.constantColumns };
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
