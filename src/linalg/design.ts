import { type Matrix, matrix, selectRows } from "../util/matrix.js";
import { matmul, matmulTransA } from "./products.js";
import { Standardizer } from "./standardize.js";

/**
 * A data matrix prepared once for many passes: z-scored, and (by default) also kept transposed so that
 * both X·W and Xᵀ·G are plain MatMuls that stream memory in order (Gemm with transA was over twice as
 * slow: bench/RESULTS.md, "Design choices"). Probes, the grid search and ablations all reuse one.
 */
export class DesignMatrix {
  readonly x: Matrix;
  /** X transposed [cols × rows], or null when built without it (memory over speed). */
  readonly xt: Matrix | null;
  readonly standardizer: Standardizer;

  private constructor(x: Matrix, xt: Matrix | null, standardizer: Standardizer) {
    this.x = x;
    this.xt = xt;
    this.standardizer = standardizer;
  }

  get rows(): number {
    return this.x.rows;
  }

  get cols(): number {
    return this.x.cols;
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
    const xt = (opts.transposed ?? true) ? std.applyTransposed(x) : null;
    const xs = std.apply(x, { inPlace: opts.inPlace });
    return new DesignMatrix(xs, xt, std);
  }

  /** Wraps an already standardized matrix (e.g. dev/test rows, which never need the gradient). */
  static wrap(xStandardized: Matrix, standardizer: Standardizer, xt: Matrix | null = null): DesignMatrix {
    return new DesignMatrix(xStandardized, xt, standardizer);
  }

  /** X·W for W [cols × K]. */
  times(w: Matrix): Promise<Matrix> {
    return matmul(this.x, w);
  }

  /**
   * X·W reading only the columns of X whose row of W is not all zero (sparse probes under a strong L1
   * penalty use a few hundred of 9,984). Those columns are gathered from the transposed copy (or from X)
   * and multiplied there when they are at most `maxFraction` of all; otherwise this is `times`.
   * `fraction` is the share of X that was read.
   */
  async timesSparse(w: Matrix, maxFraction = 0.1): Promise<{ z: Matrix; fraction: number }> {
    if (w.rows !== this.cols)
      throw new Error(`timesSparse: W has ${w.rows} rows, X has ${this.cols} columns`);
    const used = nonZeroRows(w);
    if (used.length === 0) return { z: matrix(this.rows, w.cols), fraction: 0 };
    if (used.length > maxFraction * this.cols) return { z: await this.times(w), fraction: 1 };
    const n = this.rows;
    const xa = matrix(used.length, n);
    if (this.xt)
      for (let a = 0; a < used.length; a++)
        xa.data.set(this.xt.data.subarray(used[a] * n, (used[a] + 1) * n), a * n);
    else
      for (let i = 0; i < n; i++)
        for (let a = 0; a < used.length; a++) xa.data[a * n + i] = this.x.data[i * this.cols + used[a]];
    const wa = selectRows(w, used);
    return { z: await matmulTransA(xa, wa), fraction: used.length / this.cols };
  }

  /** Xᵀ·G for G [rows × K]. */
  transposeTimes(g: Matrix): Promise<Matrix> {
    return this.xt ? matmul(this.xt, g) : matmulTransA(this.x, g);
  }
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
