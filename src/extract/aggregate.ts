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
  // Average in float64 (each unit summed position by position from 0, then × 1/n) so that long words
  // do not lose precision, then stored as float32. Two or three subwords (most multi-piece words) are
  // summed in registers; longer words in a scratch array reused from word to word.
  const n = end - begin;
  const inv = 1 / n;
  const p0 = base + begin * dim;
  const p1 = p0 + dim;
  if (n === 2) {
    for (let u = 0; u < dim; u++) dest[destOffset + u] = (block[p0 + u] + block[p1 + u]) * inv;
    return;
  }
  const p2 = p1 + dim;
  if (n === 3) {
    for (let u = 0; u < dim; u++)
      dest[destOffset + u] = (block[p0 + u] + block[p1 + u] + block[p2 + u]) * inv;
    return;
  }
  const acc = sums(dim);
  for (let u = 0; u < dim; u++) acc[u] = block[p0 + u];
  for (let off = p1; off < base + end * dim; off += dim) {
    for (let u = 0; u < dim; u++) acc[u] += block[off + u];
  }
  for (let u = 0; u < dim; u++) dest[destOffset + u] = acc[u] * inv;
}

let scratch = new Float64Array(0);

/** A float64 scratch array of at least `dim` values, reused (extraction aggregates on one thread). */
function sums(dim: number): Float64Array {
  if (scratch.length < dim) scratch = new Float64Array(dim);
  return scratch;
}
