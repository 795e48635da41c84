/** float16 / bfloat16 <-> float32 conversion (checkpoints and float16 activation stores). */

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE half (as uint16 bits) to float32. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 to IEEE half bits, round to nearest even. */
export function floatToHalf(value: number): number {
  f32buf[0] = value;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  if ((half & 0x7c00) === 0x7c00) {
    e = 31;
    return sign | 0x7c00;
  }
  return sign | half;
}

const HALF_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = halfToFloat(i);
  return t;
})();

export function halfArrayToFloat32(
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  for (let i = 0; i < src.length; i++) out[i] = HALF_TABLE[src[i]];
  return out;
}

/** One float16 value (uint16 bits) as float32, by table. */
export function halfBitsToFloat32(h: number): number {
  return HALF_TABLE[h];
}

/**
 * Copies `n` values from `src` (float16 bits or float32) starting at `from` into `dst` at `at`, as
 * float32, stopping at the first value that is not a finite number: returns its offset k (< n), or -1
 * when all were copied.
 */
export function copyFiniteAsFloat32(
  src: Uint16Array | Float32Array,
  from: number,
  dst: Float32Array,
  at: number,
  n: number,
): number {
  if (src instanceof Uint16Array) {
    for (let k = 0; k < n; k++) {
      const v = HALF_TABLE[src[from + k]];
      dst[at + k] = v;
      // v − v is 0 for every finite v, NaN for NaN and ±Infinity.
      if (v - v !== 0) return k;
    }
    return -1;
  }
  for (let k = 0; k < n; k++) {
    const v = src[from + k];
    dst[at + k] = v;
    if (v - v !== 0) return k;
  }
  return -1;
}

export function float32ToHalfArray(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]);
  return out;
}

/** bfloat16 bits are the top half of float32 bits. */
export function bfloat16ArrayToFloat32(
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return out;
}
