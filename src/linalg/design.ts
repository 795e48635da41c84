import { type Matrix, matrix, selectColumns, selectRows } from "../util/matrix.js";
import { matmul, matmulTransA } from "./products.js";
import { Standardizer, transposeBlocked } from "./standardize.js";

/**
 * Below this share of the parent's columns, a contiguous view's X·W runs as Wᵀ·Xᵀ on its rows of the
 * transposed copy: that MatMul costs about 2 × (share) of one pass over the parent, against one whole
 * pass for the scattered product and 3.3 × (share) for Gemm(transA) on the same rows (bench/
 * RESULTS.md, "Design choices").
 */
const TRANSPOSED_FORWARD_MAX = 0.45;

/**
 * A sparse product gathers the columns it reads up to this share of all columns (a wider one multiplies
 * the whole matrix); the design keeps the largest gather's buffer (probe/memory.ts counts it).
 */
export const SPARSE_GATHER_MAX_FRACTION = 0.1;

/**
 * A data matrix prepared once for many passes: z-scored, and (by default) also kept transposed so that
 * both X·W and Xᵀ·G are plain MatMuls that stream memory in order (docs/DESIGN.md, "Numbers to keep in
 * mind"). Probes, the grid search and ablations all reuse one.
 *
 * A design can also be a view of some columns of another (`DesignMatrix.columns`): nothing is copied;
 * products run on the parent's matrices (a contiguous range of columns reads its rows of the
 * parent's transposed copy, other column sets multiply the parent with the view's weights scattered
 * into its width), so a probe on most of a wide matrix's columns costs no second copy of it.
 */
export class DesignMatrix {
  private rowMajor: Matrix | null;
  /** X transposed [cols × rows], or null when built without it (memory over speed). */
  readonly xt: Matrix | null;
  readonly standardizer: Standardizer;
  private readonly parent: DesignMatrix | null;
  /** A view's columns of the parent, in the view's order. */
  private readonly picked: Int32Array | null;
  readonly rows: number;
  readonly cols: number;
  /**
   * The columns a sparse product gathered last, kept for the next one: on a wide matrix a fresh buffer
   * per product costs more in page faults than the product itself (line searches run many).
   */
  private gatherScratch: Float32Array | null = null;
  private gatherBusy = false;

  private constructor(
    x: Matrix | null,
    xt: Matrix | null,
    standardizer: Standardizer,
    view?: { parent: DesignMatrix; columns: Int32Array },
  ) {
    this.rowMajor = x;
    this.xt = xt;
    this.standardizer = standardizer;
    this.parent = view?.parent ?? null;
    this.picked = view?.columns ?? null;
    this.rows = view ? view.parent.rows : (x as Matrix).rows;
    this.cols = view ? view.columns.length : (x as Matrix).cols;
  }

  /** The standardized rows [rows × cols]; a view copies its columns out the first time (avoid on wide views). */
  get x(): Matrix {
    if (!this.rowMajor) {
      const parent = this.parent as DesignMatrix;
      this.rowMajor = selectColumns(parent.x, this.picked as Int32Array);
    }
    return this.rowMajor;
  }

  /** The matrix this design's values live in (a view's parent's), for scans such as finiteness checks. */
  get source(): Matrix {
    return this.parent ? this.parent.source : this.x;
  }

  /** True for a view of another design's columns. */
  get isView(): boolean {
    return this.parent !== null;
  }

  /**
   * Standardizes `x` with `standardizer` (default: fitted on `x`). `inPlace` overwrites the caller's
   * matrix instead of copying it; `transposed: false` skips the transposed copy (half the memory,
   * slower gradients).
   */
  static build(
    x: Matrix,
    opts: { standardizer?: Standardizer; inPlace?: boolean; transposed?: boolean } = {},
  ): DesignMatrix {
    const std = opts.standardizer ?? Standardizer.fit(x);
    if (!(opts.transposed ?? true))
      return new DesignMatrix(std.apply(x, { inPlace: opts.inPlace }), null, std);
    const both = std.applyWithTransposed(x, { inPlace: opts.inPlace });
    return new DesignMatrix(both.x, both.xt, std);
  }

  /** Wraps an already standardized matrix (e.g. dev/test rows, which never need the gradient). */
  static wrap(xStandardized: Matrix, standardizer: Standardizer, xt: Matrix | null = null): DesignMatrix {
    return new DesignMatrix(xStandardized, xt, standardizer);
  }

  /**
   * A view of `columns` of `parent` (in that order) with their standardizer, copying nothing. A
   * contiguous range of columns keeps the parent's transposed rows as its own transposed copy.
   */
  static columns(parent: DesignMatrix, columns: ArrayLike<number>, standardizer: Standardizer): DesignMatrix {
    const picked = Int32Array.from(columns);
    for (const c of picked)
      if (!(c >= 0 && c < parent.cols))
        throw new Error(`DesignMatrix.columns: column ${c} of ${parent.cols}`);
    if (standardizer.cols !== picked.length)
      throw new Error(
        `DesignMatrix.columns: standardizer of ${standardizer.cols} for ${picked.length} columns`,
      );
    const first = picked[0] ?? 0;
    const range = picked.every((c, i) => c === first + i);
    const pxt = parent.parent ? null : parent.xt;
    const xt =
      range && pxt && picked.length > 0
        ? matrix(
            picked.length,
            parent.rows,
            pxt.data.subarray(first * parent.rows, (first + picked.length) * parent.rows),
          )
        : null;
    // A view of a view reads the root's columns directly.
    if (parent.parent) {
      const root = parent.picked as Int32Array;
      return new DesignMatrix(null, null, standardizer, {
        parent: parent.parent,
        columns: picked.map((c) => root[c]),
      });
    }
    return new DesignMatrix(null, xt, standardizer, { parent, columns: picked });
  }

  /**
   * X·W for W [cols × K]. A view of a contiguous range of columns under TRANSPOSED_FORWARD_MAX of its
   * parent's computes (Wᵀ·Xᵀ)ᵀ on its rows of the transposed copy, which reads only its columns;
   * a wider view multiplies the whole parent (W scattered into its width, zeros elsewhere).
   */
  async times(w: Matrix): Promise<Matrix> {
    if (!this.parent) return matmul(this.x, w);
    if (this.xt && this.cols < TRANSPOSED_FORWARD_MAX * this.parent.cols) return timesFromColumns(this.xt, w);
    return (await this.parent.timesSparse(this.scatter(w))).z;
  }

  /** W [view cols × K] as the parent's [cols × K], zero outside the view's columns. */
  private scatter(w: Matrix): Matrix {
    const parent = this.parent as DesignMatrix;
    const picked = this.picked as Int32Array;
    const out = matrix(parent.cols, w.cols);
    for (let j = 0; j < picked.length; j++)
      out.data.set(w.data.subarray(j * w.cols, (j + 1) * w.cols), picked[j] * w.cols);
    return out;
  }

  /**
   * X·W reading only the columns of X whose row of W is not all zero (sparse probes under a strong L1
   * penalty use a few hundred of 9,984). Those columns are gathered from the transposed copy (or from X)
   * and multiplied there when they are at most `maxFraction` of all; otherwise this is `times`.
   * `fraction` is the share of X that was read.
   */
  async timesSparse(
    w: Matrix,
    maxFraction = SPARSE_GATHER_MAX_FRACTION,
  ): Promise<{ z: Matrix; fraction: number }> {
    if (w.rows !== this.cols)
      throw new Error(`timesSparse: W has ${w.rows} rows, X has ${this.cols} columns`);
    const used = nonZeroRows(w);
    if (used.length === 0) return { z: matrix(this.rows, w.cols), fraction: 0 };
    if (this.parent && !this.xt) {
      const picked = this.picked as Int32Array;
      const r = await this.parent.timesSparse(this.scatter(w), maxFraction);
      // The share of the view's columns read: all of them when the parent's product read them all.
      return { z: r.z, fraction: r.fraction === 1 ? 1 : used.length / picked.length };
    }
    if (used.length > maxFraction * this.cols) return { z: await this.times(w), fraction: 1 };
    const n = this.rows;
    const size = used.length * n;
    // Products on one design are awaited one after another; one that overlaps another gets its own buffer.
    const reuse = !this.gatherBusy;
    if (reuse && (this.gatherScratch?.length ?? 0) < size) this.gatherScratch = new Float32Array(size);
    const xa = matrix(used.length, n, reuse ? this.gatherScratch?.subarray(0, size) : undefined);
    if (reuse) this.gatherBusy = true;
    try {
      if (this.xt)
        for (let a = 0; a < used.length; a++)
          xa.data.set(this.xt.data.subarray(used[a] * n, (used[a] + 1) * n), a * n);
      else
        for (let i = 0; i < n; i++)
          for (let a = 0; a < used.length; a++) xa.data[a * n + i] = this.x.data[i * this.cols + used[a]];
      const wa = selectRows(w, used);
      return { z: await timesFromColumns(xa, wa), fraction: used.length / this.cols };
    } finally {
      if (reuse) this.gatherBusy = false;
    }
  }

  /** Xᵀ·G for G [rows × K]. */
  async transposeTimes(g: Matrix): Promise<Matrix> {
    if (this.xt) return matmul(this.xt, g);
    if (!this.parent) return matmulTransA(this.x, g);
    return selectRows(await this.parent.transposeTimes(g), this.picked as Int32Array);
  }
}

/**
 * X·W from X's columns held as rows (`columns` [cols × rows]: transposed rows, or gathered ones), as
 * (Wᵀ·columns)ᵀ: the MatMul that reads them in order (Gemm(transA) on them costs about 1.7× as much:
 * TRANSPOSED_FORWARD_MAX).
 */
async function timesFromColumns(columns: Matrix, w: Matrix): Promise<Matrix> {
  return transposeBlocked(await matmul(transposeBlocked(w), columns));
}

function nonZeroRows(w: Matrix): number[] {
  const out: number[] = [];
  for (let j = 0; j < w.rows; j++) {
    const o = j * w.cols;
    for (let c = 0; c < w.cols; c++)
      if (w.data[o + c] !== 0) {
        out.push(j);
        break;
      }
  }
  return out;
}
