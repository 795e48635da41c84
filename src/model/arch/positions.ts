import { UserError } from "../../util/errors.js";
import type { RopeSettings } from "../config/rope.js";
import { type RopeFrequencies, ropeFrequencies, writeRotary } from "./rope.js";

/**
 * Per-batch inputs of the block graph that depend only on token positions, computed in JS once per
 * batch and shared by every block: the additive attention masks, RoPE's cos / sin, T5's relative
 * position bias. Batches are right-padded: row b holds lengths[b] tokens at positions 0 … length − 1.
 */

/** finfo(float32).min: what transformers adds to masked attention scores. */
export const MASKED = -3.4028234663852886e38;

/**
 * [B, 1, S, S]: 0 where query q may attend to key k, MASKED elsewhere. Keys beyond a row's length are
 * padding; causal models see k ≤ q; a sliding window of w keeps k > q − w (transformers'
 * sliding_window_overlay), i.e. the last w keys including the query's own.
 */
export function attentionMask(
  lengths: readonly number[],
  seq: number,
  causal: boolean,
  window: number | null,
): Float32Array {
  const out = new Float32Array(lengths.length * seq * seq);
  lengths.forEach((len, b) => {
    for (let q = 0; q < seq; q++) {
      const row = (b * seq + q) * seq;
      for (let k = 0; k < seq; k++) {
        const visible = k < len && (!causal || k <= q) && (window === null || k > q - window);
        if (!visible) out[row + k] = MASKED;
      }
    }
  });
  return out;
}

/**
 * T5's bucket of a relative position (key − query), as modeling_t5's _relative_position_bucket: exact
 * buckets for small distances, logarithmic ones up to max_distance, sign in the top half when
 * bidirectional.
 */
export function relativeBucket(
  relative: number,
  numBuckets: number,
  maxDistance: number,
  bidirectional: boolean,
): number {
  let buckets = numBuckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) bucket += buckets;
    distance = Math.abs(relative);
  } else {
    distance = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;
  // torch: (log(float(d) / max_exact) / log(max_distance / max_exact) * (buckets − max_exact)).to(long),
  // in float32 for the tensor parts.
  const f = Math.fround;
  const ratio = f(Math.log(f(f(distance) / maxExact)));
  const large =
    maxExact + Math.trunc(f(f(ratio / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact)));
  return bucket + Math.min(large, buckets - 1);
}

/** [1, heads, S, S]: the relative position bias from block 0's table [buckets, heads]. */
export function relativePositionBias(
  table: Float32Array,
  heads: number,
  seq: number,
  rel: { numBuckets: number; maxDistance: number; bidirectional: boolean },
): Float32Array {
  const out = new Float32Array(heads * seq * seq);
  const bucketOf = new Int32Array(2 * seq - 1);
  for (let r = -(seq - 1); r < seq; r++) {
    bucketOf[r + seq - 1] = relativeBucket(r, rel.numBuckets, rel.maxDistance, rel.bidirectional);
  }
  for (let q = 0; q < seq; q++) {
    for (let k = 0; k < seq; k++) {
      const bucket = bucketOf[k - q + seq - 1];
      for (let h = 0; h < heads; h++) out[(h * seq + q) * seq + k] = table[bucket * heads + h];
    }
  }
  return out;
}

/**
 * cos / sin of every token of a batch, [B·S, rotaryDim]. Tables per position are cached: they depend
 * on the sequence length only for dynamic NTK and longrope (short vs long factors), where the cache
 * is kept per set of frequencies.
 */
export class RotaryTables {
  private readonly cache = new Map<
    string,
    { freq: RopeFrequencies; cos: Float32Array; sin: Float32Array; n: number }
  >();

  constructor(private readonly rope: RopeSettings) {}

  fill(lengths: readonly number[], seq: number): { cos: Float32Array; sin: Float32Array } {
    const rot = this.rope.rotaryDim;
    const cos = new Float32Array(lengths.length * seq * rot);
    const sin = new Float32Array(lengths.length * seq * rot);
    lengths.forEach((len, b) => {
      const table = this.table(len, seq);
      const off = b * seq * rot;
      cos.set(table.cos.subarray(0, seq * rot), off);
      sin.set(table.sin.subarray(0, seq * rot), off);
    });
    return { cos, sin };
  }

  /**
   * cos / sin [n, rotaryDim] of positions 0 … n − 1 for every row of at most n tokens, as fill() gives
   * them: one table, or for LongRoPE the short one and the long one that rows of `from` tokens or more
   * use. Dynamic NTK changes the frequencies with every length beyond max_position_embeddings, which
   * one table cannot hold: refused.
   */
  positionTables(n: number): {
    short: { cos: Float32Array; sin: Float32Array };
    long: { cos: Float32Array; sin: Float32Array; from: number } | null;
  } {
    const rot = this.rope.rotaryDim;
    const slice = (t: { cos: Float32Array; sin: Float32Array }) => ({
      cos: t.cos.slice(0, n * rot),
      sin: t.sin.slice(0, n * rot),
    });
    const short = slice(this.table(1, n));
    if (this.keyOf(n) === this.keyOf(1)) return { short, long: null };
    if (this.rope.type !== "longrope")
      throw new UserError(
        `RoPE type ${this.rope.type}: the frequencies change with every length above ${this.rope.maxPositions} tokens, and inputs of up to ${n} are asked for`,
      );
    return { short, long: { ...slice(this.table(n, n)), from: this.rope.originalMaxPositions + 1 } };
  }

  private table(length: number, positions: number) {
    const key = this.keyOf(length);
    let t = this.cache.get(key);
    if (!t) {
      t = {
        freq: ropeFrequencies(this.rope, length),
        cos: new Float32Array(0),
        sin: new Float32Array(0),
        n: 0,
      };
      this.cache.set(key, t);
    }
    if (t.n < positions) {
      const rot = this.rope.rotaryDim;
      const n = Math.max(positions, 2 * t.n, 64);
      const cos = new Float32Array(n * rot);
      const sin = new Float32Array(n * rot);
      cos.set(t.cos);
      sin.set(t.sin);
      for (let p = t.n; p < n; p++) writeRotary(t.freq, p, cos, sin, p * rot);
      Object.assign(t, { cos, sin, n });
    }
    return t;
  }

  /** Sequence lengths that give the same frequencies share a key. */
  private keyOf(length: number): string {
    switch (this.rope.type) {
      case "dynamic":
        return length > this.rope.maxPositions ? `dynamic:${length}` : "base";
      case "longrope":
        return length > this.rope.originalMaxPositions ? "long" : "short";
      default:
        return "base";
    }
  }
}
