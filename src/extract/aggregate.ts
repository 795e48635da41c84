import type { Aggregation } from "../store/format.js";

/**
 * Writes into `dest[destOffset..+dim)` the first / last / average of the vectors at sequence
 * positions [begin, end) of item `b` in a [batch × seq × dim] block.
 */
export function aggregateSpan(
  block: Float32Array,
  seq: number,
  dim: number,
  b: number,
  begin: number,
  end: number,
  how: Aggregation,
  dest: Float32Array,
  destOffset: number,
): void {
  const base = b * seq * dim;
  if (how === "first" || end - begin === 1) {
    dest.set(block.subarray(base + begin * dim, base + (begin + 1) * dim), destOffset);
    return;
  }
  if (how === "last") {
    dest.set(block.subarray(base + (end - 1) * dim, base + end * dim), destOffset);
    return;
  }
  // Average in float64 so that long words do not lose precision, then store float32.
  const acc = new Float64Array(dim);
  for (let p = begin; p < end; p++) {
    const off = base + p * dim;
    for (let u = 0; u < dim; u++) acc[u] += block[off + u];
  }
  const inv = 1 / (end - begin);
  for (let u = 0; u < dim; u++) dest[destOffset + u] = acc[u] * inv;
}
