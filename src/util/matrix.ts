import { knownFinite, markFinite } from "./finite.js";
/**
 * A dense row-major float32 matrix: the currency between stages (activations, probe weights,
 * correlations). Rows are tokens (or sentences), columns are neurons unless stated otherwise.
 */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) {
    throw new Error(`matrix: data length ${d.length} != ${rows} x ${cols}`);
  }
  return { data: d, rows, cols };
}

/**
 * Columns of a matrix read on demand (tokens × neurons): a matrix in memory, or activations read from
 * a store a few layers at a time, for steps that work on column groups and must not hold all columns.
 */
export interface ColumnSource {
  readonly rows: number;
  readonly cols: number;
  /** The given columns (in order) as a new matrix, or the matrix itself for all columns in order. */
  columns(columns: readonly number[]): Promise<Matrix>;
}

/** A matrix as a ColumnSource. */
export function columnSource(m: Matrix): ColumnSource {
  return {
    rows: m.rows,
    cols: m.cols,
    columns: async (columns) =>
      columns.length === m.cols && columns.every((c, i) => c === i) ? m : selectColumns(m, columns),
  };
}

/**
 * Copies the given columns (in order) into a new contiguous matrix. Columns in another order (an
 * importance ordering) are read in ascending order and written to their places, so that each row is
 * read front to back: a gather in the ordering's order misses the cache on nearly every value of a
 * wide row.
 */
export function selectColumns(m: Matrix, columns: ArrayLike<number>): Matrix {
  const k = columns.length;
  const out = new Float32Array(m.rows * k);
  let ascending = true;
  for (let j = 1; j < k && ascending; j++) ascending = columns[j] > columns[j - 1];
  if (ascending) {
    for (let r = 0; r < m.rows; r++) {
      const src = r * m.cols;
      const dst = r * k;
      for (let j = 0; j < k; j++) out[dst + j] = m.data[src + columns[j]];
    }
  } else {
    const place = Int32Array.from({ length: k }, (_, j) => j).sort((a, b) => columns[a] - columns[b]);
    const column = Int32Array.from(place, (j) => columns[j]);
    for (let r = 0; r < m.rows; r++) {
      const src = r * m.cols;
      const dst = r * k;
      for (let s = 0; s < k; s++) out[dst + place[s]] = m.data[src + column[s]];
    }
  }
  if (knownFinite(m.data)) markFinite(out);
  return { data: out, rows: m.rows, cols: k };
}

/** Copies the given rows (in order) into a new contiguous matrix. */
export function selectRows(m: Matrix, rows: ArrayLike<number>): Matrix {
  const out = new Float32Array(rows.length * m.cols);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  }
  if (knownFinite(m.data)) markFinite(out);
  return { data: out, rows: rows.length, cols: m.cols };
}

/** Column means and (population) standard deviations, in float64. */
export function columnStats(m: Matrix): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(m.cols);
  const sq = new Float64Array(m.cols);
  for (let r = 0; r < m.rows; r++) {
    const off = r * m.cols;
    for (let j = 0; j < m.cols; j++) mean[j] += m.data[off + j];
  }
  for (let j = 0; j < m.cols; j++) mean[j] /= Math.max(1, m.rows);
  for (let r = 0; r < m.rows; r++) {
    const off = r * m.cols;
    for (let j = 0; j < m.cols; j++) {
      const d = m.data[off + j] - mean[j];
      sq[j] += d * d;
    }
  }
  const std = new Float64Array(m.cols);
  for (let j = 0; j < m.cols; j++) std[j] = Math.sqrt(sq[j] / Math.max(1, m.rows));
  return { mean, std };
}
