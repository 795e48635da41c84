import { matmulTransB } from "../linalg/products.js";
import type { Matrix } from "../util/matrix.js";
import { Progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";

/**
 * Layer similarity by linear CKA with the unbiased HSIC estimator over minibatches (Song et al.
 * 2012; Nguyen, Raghu & Kornblith 2021, "Do wide and deep networks learn the same things?"):
 * for every minibatch of m sampled tokens and every layer, K = X·Xᵀ (m × m, on onnxruntime);
 *   HSIC₁(K, L) = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((m−1)(m−2)) − 2/(m−2)·1ᵀK̃L̃1] / (m(m−3)),
 * K̃ = K with a zero diagonal; HSIC₁ is summed over minibatches and
 *   CKA(a, b) = ΣHSIC₁(K_a, K_b) / √(ΣHSIC₁(K_a, K_a) · ΣHSIC₁(K_b, K_b)).
 * HSIC₁ is exactly invariant to adding a₁·1ᵀ + 1·aᵀ to K, i.e. to centring the features, so each
 * batch is centred (in float64) before its float32 Gram: raw activations have large means, and
 * uncentred float32 Grams would lose the signal in the cancellation of the estimator's terms.
 */

export interface CKAOptions {
  /** Tokens per minibatch, m ≥ 4 (default 256). */
  batchSize?: number;
  /** Number of minibatches (default: ⌊tokens / batchSize⌋, one pass over a random permutation). */
  batches?: number;
  /** Seed of the token sampling (default 0). */
  seed?: number;
  /** Neurons per layer, when the input is one matrix with layer-major columns. */
  hidden?: number;
  /** Layer numbers to report (default 0 … L). */
  layerNumbers?: readonly number[];
  progress?: boolean;
}

/** A JSON-serialisable CKA result: matrix[a][b] is the CKA of layers[a] and layers[b]. */
export interface LayerSimilarity {
  measure: "linear-cka";
  estimator: "unbiased-hsic-minibatch";
  layers: number[];
  /** CKA values; null where a layer has no variance in the sampled tokens. */
  matrix: (number | null)[][];
  tokens: number;
  batchSize: number;
  batches: number;
  seed: number;
}

/** Where layer l's features for a token live: one matrix per layer, or column blocks of one matrix. */
interface LayerSource {
  count: number;
  width: number;
  tokens: number;
  /** Copies the rows `rows` of layer l, centred per column over those rows, as float32 (m × width). */
  centredRows(l: number, rows: readonly number[]): Float32Array;
}

function layerSource(input: Matrix | readonly Matrix[], hidden?: number): LayerSource {
  const mats = Array.isArray(input) ? (input as readonly Matrix[]) : null;
  if (mats) {
    if (mats.length === 0) throw new Error("linearCKA: no layers");
    const { rows, cols } = mats[0];
    for (const m of mats) {
      if (m.rows !== rows || m.cols !== cols) throw new Error("linearCKA: layers differ in shape");
    }
    return {
      count: mats.length,
      width: cols,
      tokens: rows,
      centredRows: (l, r) => centred(mats[l].data, mats[l].cols, 0, cols, r),
    };
  }
  const x = input as Matrix;
  const h = hidden ?? 0;
  if (!Number.isInteger(h) || h <= 0 || x.cols % h !== 0) {
    throw new Error(`linearCKA: ${x.cols} columns are not whole layers of hidden size ${hidden}`);
  }
  return {
    count: x.cols / h,
    width: h,
    tokens: x.rows,
    centredRows: (l, r) => centred(x.data, x.cols, l * h, h, r),
  };
}

/** Rows `rows` of columns [c0, c0+width) of a row-major array, centred per column in float64. */
function centred(
  data: Float32Array,
  stride: number,
  c0: number,
  width: number,
  rows: readonly number[],
): Float32Array {
  const mean = new Float64Array(width);
  for (const r of rows) {
    const off = r * stride + c0;
    for (let j = 0; j < width; j++) mean[j] += data[off + j];
  }
  for (let j = 0; j < width; j++) {
    mean[j] /= rows.length;
    if (!Number.isFinite(mean[j]))
      throw new Error(`linearCKA: column ${c0 + j} holds NaN or infinite values`);
  }
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    const off = r * stride + c0;
    for (let j = 0; j < width; j++) out[i * width + j] = data[off + j] - mean[j];
  });
  return out;
}

/**
 * Minibatches of token indices: consecutive slices of random permutations of 0…tokens−1 (a new
 * permutation when one runs out), so that each pass sees every token at most once.
 */
export function sampleBatches(tokens: number, batchSize: number, batches: number, seed: number): number[][] {
  if (batchSize < 4)
    throw new Error(`CKA batch size must be at least 4 (the unbiased HSIC needs it), got ${batchSize}`);
  if (batchSize > tokens) throw new Error(`CKA batch size ${batchSize} exceeds the ${tokens} tokens`);
  const rng = new Rng(seed);
  const out: number[][] = [];
  let perm = rng.permutation(tokens);
  let pos = 0;
  while (out.length < batches) {
    if (pos + batchSize > tokens) {
      perm = rng.permutation(tokens);
      pos = 0;
    }
    out.push(perm.slice(pos, pos + batchSize));
    pos += batchSize;
  }
  return out;
}

/** Gram statistics of one layer in one batch, in float64. */
interface GramStats {
  /** Strict upper triangle of K, row by row. */
  upper: Float64Array;
  /** Row sums of K̃. */
  rowSums: Float64Array;
  total: number;
}

function gramStats(k: Float32Array, m: number): GramStats {
  const upper = new Float64Array((m * (m - 1)) / 2);
  const rowSums = new Float64Array(m);
  let p = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      // K is symmetric in exact arithmetic; average the two float32 halves.
      const v = (k[i * m + j] + k[j * m + i]) / 2;
      upper[p++] = v;
      rowSums[i] += v;
      rowSums[j] += v;
    }
  }
  let total = 0;
  for (let i = 0; i < m; i++) total += rowSums[i];
  return { upper, rowSums, total };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function unbiasedHsic(a: GramStats, b: GramStats, m: number): number {
  const trace = 2 * dot(a.upper, b.upper);
  const term2 = (a.total * b.total) / ((m - 1) * (m - 2));
  const term3 = (2 / (m - 2)) * dot(a.rowSums, b.rowSums);
  return (trace + term2 - term3) / (m * (m - 3));
}

/** Summed HSIC₁ over the given batches for every pair of layers: an (L+1) × (L+1) array. */
async function accumulateHsic(src: LayerSource, batches: readonly number[][], progress?: Progress) {
  const L = src.count;
  const hsic = Array.from({ length: L }, () => new Float64Array(L));
  for (const [b, rows] of batches.entries()) {
    const m = rows.length;
    const stats: GramStats[] = [];
    for (let l = 0; l < L; l++) {
      const a: Matrix = { data: src.centredRows(l, rows), rows: m, cols: src.width };
      const k = await matmulTransB(a, a);
      stats.push(gramStats(k.data, m));
    }
    for (let i = 0; i < L; i++) {
      for (let j = i; j < L; j++) {
        const v = unbiasedHsic(stats[i], stats[j], m);
        hsic[i][j] += v;
        if (j !== i) hsic[j][i] += v;
      }
    }
    progress?.update(b + 1);
  }
  return hsic;
}

function ckaFromHsic(hsic: Float64Array[]): (number | null)[][] {
  return hsic.map((row, i) =>
    Array.from(row, (v, j) => {
      const denom = Math.sqrt(hsic[i][i] * hsic[j][j]);
      return denom > 0 && Number.isFinite(denom) ? v / denom : null;
    }),
  );
}

/** CKA over explicit minibatches of token indices (each of size ≥ 4). */
export async function linearCKAFromBatches(
  input: Matrix | readonly Matrix[],
  batches: readonly number[][],
  opts: { hidden?: number } = {},
): Promise<(number | null)[][]> {
  const src = layerSource(input, opts.hidden);
  for (const b of batches)
    if (b.length < 4) throw new Error(`CKA batches need at least 4 tokens, got ${b.length}`);
  return ckaFromHsic(await accumulateHsic(src, batches));
}

/**
 * Linear CKA between every pair of layers. `input` is one matrix per layer (tokens × hidden) or one
 * tokens × (L+1)·hidden matrix with layer-major columns and `hidden` given.
 */
export async function linearCKA(
  input: Matrix | readonly Matrix[],
  opts: CKAOptions = {},
): Promise<LayerSimilarity> {
  const src = layerSource(input, opts.hidden);
  const batchSize = Math.min(opts.batchSize ?? 256, src.tokens);
  const count = opts.batches ?? Math.max(1, Math.floor(src.tokens / batchSize));
  const seed = opts.seed ?? 0;
  const batches = sampleBatches(src.tokens, batchSize, count, seed);
  const layers = opts.layerNumbers ? [...opts.layerNumbers] : Array.from({ length: src.count }, (_, l) => l);
  if (layers.length !== src.count)
    throw new Error(`linearCKA: ${layers.length} layer numbers for ${src.count} layers`);
  const progress =
    opts.progress === false ? undefined : new Progress("layer CKA", batches.length, { unit: "batches" });
  const hsic = await accumulateHsic(src, batches, progress);
  progress?.finish();
  return {
    measure: "linear-cka",
    estimator: "unbiased-hsic-minibatch",
    layers,
    matrix: ckaFromHsic(hsic),
    tokens: src.tokens,
    batchSize,
    batches: batches.length,
    seed,
  };
}
