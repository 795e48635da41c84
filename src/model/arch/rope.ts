import { float32ToHalfArray, halfArrayToFloat32 } from "../../util/half.js";
import type { RopeSettings } from "../config/rope.js";

/**
 * Rotary embeddings: inverse frequencies and the cos / sin tables, computed as transformers 5.17's
 * modeling_rope_utils and *RotaryEmbedding modules compute them, in float32 step by step (Math.fround
 * after every operation torch performs in float32), so that angles of long positions round the same
 * way. cos and sin are laid out as transformers' `emb = cat(freqs, freqs)`: [rotaryDim] per token.
 */
const f = Math.fround;

export interface RopeFrequencies {
  /** rotaryDim / 2 inverse frequencies, float32 values. */
  readonly invFreq: Float32Array;
  /** transformers' attention_scaling: cos and sin are multiplied by it (yarn, longrope). */
  readonly scale: number;
}

/** base ** (arange(0, dim, 2) / dim) in float32, the shape of every RoPE variant. */
function powers(base: number, dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < out.length; i++) out[i] = f(f(base) ** f((2 * i) / dim));
  return out;
}

function defaultInvFreq(base: number, dim: number): Float32Array {
  return powers(base, dim).map((p) => f(1 / p));
}

/**
 * The inverse frequencies for a sequence of `seqLen` tokens (only dynamic NTK and longrope depend on
 * it; transformers takes max(position_ids) + 1 of the batch, we take it per sentence, which is what
 * transformers gives for that sentence on its own).
 */
export function ropeFrequencies(rope: RopeSettings, seqLen: number): RopeFrequencies {
  const { invFreq, scale } = computeFrequencies(rope, seqLen);
  return { invFreq: roundTo(invFreq, rope.frequencyDType), scale };
}

/** Rounds float32 values to bfloat16 / float16 precision (round to nearest even), kept as float32. */
function roundTo(values: Float32Array, dtype: RopeSettings["frequencyDType"]): Float32Array {
  if (dtype === "float32") return values;
  if (dtype === "float16") return halfArrayToFloat32(float32ToHalfArray(values));
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i];
    bits[i] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16;
  }
  return values;
}

function computeFrequencies(rope: RopeSettings, seqLen: number): RopeFrequencies {
  const dim = rope.rotaryDim;
  switch (rope.type) {
    case "default":
      return { invFreq: defaultInvFreq(rope.theta, dim), scale: 1 };
    case "linear":
      return { invFreq: defaultInvFreq(rope.theta, dim).map((v) => f(v / f(rope.factor))), scale: 1 };
    case "dynamic":
      return { invFreq: dynamicInvFreq(rope, seqLen), scale: 1 };
    case "llama3":
      return { invFreq: llama3InvFreq(rope), scale: 1 };
    case "yarn":
      return yarn(rope);
    case "longrope":
      return longrope(rope, seqLen);
  }
}

/** Dynamic NTK: the base grows once the sequence is longer than max_position_embeddings. */
function dynamicInvFreq(rope: RopeSettings, seqLen: number): Float32Array {
  const dim = rope.rotaryDim;
  const len = Math.max(seqLen, rope.maxPositions);
  if (len <= rope.maxPositions) return defaultInvFreq(rope.theta, dim);
  // transformers computes this with a tensor seq_len, hence in float32.
  const factor = f(rope.factor);
  const grown = f(f(f(f(factor * len) / rope.maxPositions) - f(factor - 1)) ** f(dim / (dim - 2)));
  return defaultInvFreq(f(rope.theta * grown), dim);
}

/** Llama 3.1: low frequencies divided by the factor, high ones kept, the band between interpolated. */
function llama3InvFreq(rope: RopeSettings): Float32Array {
  const inv = defaultInvFreq(rope.theta, rope.rotaryDim);
  const lowWavelen = rope.originalMaxPositions / rope.lowFreqFactor;
  const highWavelen = rope.originalMaxPositions / rope.highFreqFactor;
  const factor = f(rope.factor);
  return inv.map((v) => {
    const wavelen = f(f(2 * Math.PI) / v);
    const scaled = wavelen > lowWavelen ? f(v / factor) : v;
    if (wavelen < highWavelen || wavelen > lowWavelen) return scaled;
    const smooth = f(
      f(f(f(rope.originalMaxPositions) / wavelen) - f(rope.lowFreqFactor)) /
        f(rope.highFreqFactor - rope.lowFreqFactor),
    );
    return f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
  });
}

function yarnMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/** YaRN: frequencies blended between interpolation and extrapolation by a linear ramp; cos/sin scaled. */
function yarn(rope: RopeSettings): RopeFrequencies {
  const dim = rope.rotaryDim;
  const base = rope.theta;
  const factor = rope.factor;
  let scale = rope.attentionFactor;
  if (scale === null) {
    scale =
      rope.mscale && rope.mscaleAllDim
        ? yarnMscale(factor, rope.mscale) / yarnMscale(factor, rope.mscaleAllDim)
        : yarnMscale(factor);
  }
  const correctionDim = (rotations: number) =>
    (dim * Math.log(rope.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  let low = correctionDim(rope.betaFast);
  let high = correctionDim(rope.betaSlow);
  if (rope.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const pos = powers(base, dim);
  const invFreq = new Float32Array(dim / 2);
  for (let i = 0; i < invFreq.length; i++) {
    const extrapolation = f(1 / pos[i]);
    const interpolation = f(1 / f(f(factor) * pos[i]));
    const ramp = Math.min(1, Math.max(0, f(f(i - f(low)) / f(high - low))));
    const extrapolationFactor = f(1 - ramp);
    invFreq[i] = f(f(interpolation * f(1 - extrapolationFactor)) + f(extrapolation * extrapolationFactor));
  }
  return { invFreq, scale };
}

/** LongRoPE (Phi-3 128k): per-frequency divisors, short or long by the sequence length. */
function longrope(rope: RopeSettings, seqLen: number): RopeFrequencies {
  const factor = rope.factor;
  const original = rope.originalMaxPositions;
  const scale =
    rope.attentionFactor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
  const ext = seqLen > original ? rope.longFactor : rope.shortFactor;
  const pos = powers(rope.theta, rope.rotaryDim);
  return { invFreq: pos.map((p, i) => f(1 / f(f(ext[i]) * p))), scale };
}

/**
 * Writes cos and sin ([rotaryDim] per token, as `cat(freqs, freqs)`) for position `position` into
 * `cos` / `sin` at `offset`.
 */
export function writeRotary(
  freq: RopeFrequencies,
  position: number,
  cos: Float32Array,
  sin: Float32Array,
  offset: number,
): void {
  const half = freq.invFreq.length;
  const p = f(position);
  for (let i = 0; i < half; i++) {
    const angle = f(freq.invFreq[i] * p);
    const c = f(f(Math.cos(angle)) * freq.scale);
    const s = f(f(Math.sin(angle)) * freq.scale);
    cos[offset + i] = c;
    cos[offset + half + i] = c;
    sin[offset + i] = s;
    sin[offset + half + i] = s;
  }
}
