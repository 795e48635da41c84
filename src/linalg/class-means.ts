import { type Matrix, matrix } from "../util/matrix.js";

/**
 * Mean activation of each class, column by column: the one implementation behind the probeless
 * ranking (rank/probeless.ts), the per-neuron class means of concepts.json and the explorer's.
 * `labels[i]` is row i's class index; a negative label means "no class" (unlabelled rows, labels
 * outside the analysed classes) and the row is left out. Sums run in float64, in row order.
 */
export interface ClassMeans {
  /** means[c][j]: mean of column j over the rows of class c (NaN-free: 0 when the class has no row). */
  means: Float64Array[];
  /** Rows of each class. */
  counts: number[];
}

export function classMeans(x: Matrix, labels: ArrayLike<number>, classes: number): ClassMeans {
  if (labels.length !== x.rows) throw new Error(`class means: ${x.rows} rows but ${labels.length} labels`);
  const d = x.cols;
  const sums = Array.from({ length: classes }, () => new Float64Array(d));
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < x.rows; i++) {
    const c = labels[i];
    if (c < 0) continue;
    if (!(c < classes && Number.isInteger(c))) throw new Error(`class means: label ${c} out of range`);
    counts[c]++;
    const s = sums[c];
    const off = i * d;
    for (let j = 0; j < d; j++) s[j] += x.data[off + j];
  }
  for (let c = 0; c < classes; c++) if (counts[c] > 0) for (let j = 0; j < d; j++) sums[c][j] /= counts[c];
  return { means: sums, counts };
}

/** The class means of one column (one neuron): null for a class without rows. */
export function columnClassMeans(
  column: Float32Array,
  labels: ArrayLike<number>,
  classes: number,
): { means: (number | null)[]; counts: number[] } {
  const { means, counts } = classMeans(matrix(column.length, 1, column), labels, classes);
  return { means: means.map((m, c) => (counts[c] > 0 ? m[0] : null)), counts };
}
