import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  attentionMask,
  MASKED,
  RotaryTables,
  relativeBucket,
  relativePositionBias,
} from "../../../src/model/arch/positions.js";
import { type RopeFrequencies, ropeFrequencies, writeRotary } from "../../../src/model/arch/rope.js";
import { parseModelConfig, type RopeSettings } from "../../../src/model/config.js";

/**
 * Position maths against a torch transcription of transformers 5 (scripts/reference/rope_reference.py,
 * run by hand; fixture test/fixtures/rope/rope.json): RoPE inverse frequencies and cos / sin of every
 * RoPE type, T5's relative position buckets, and the attention masks of masking_utils.
 *
 * Tolerances, and why:
 * - inverse frequencies: relative 1e-6 per value. They are float32 results of base ** (2i / dim):
 *   torch evaluates that pow with its own float kernels (SLEEF, ≤ 1 ulp), we with a float64 pow rounded
 *   to float32, so single values differ by 1 ulp; dynamic NTK raises a 1-ulp different grown base to
 *   the same powers (up to 3 ulps, relative 2.4e-7, the worst measured); linear, llama3, and the
 *   torch-side float32 steps of yarn / longrope otherwise agree bit for bit. 46 of 1,216 values differ.
 * - cos / sin from torch's own inverse frequencies: 3e-7 absolute. The angle f32(inv_freq · p) is the
 *   same float on both sides; torch's float32 cos / sin and ours (float64 rounded) differ by ≤ 1 ulp
 *   (6e-8), and torch rounds the attention scaling (≤ 1.5) to float32 before multiplying (≤ 1.2e-7
 *   more). Measured worst 1.8e-7.
 * - cos / sin end to end (our frequencies): 1e-5 absolute at every stored position up to 4095 where the
 *   inverse frequencies agree bit for bit (measured worst 1.8e-7). Where a frequency differs by its last
 *   ulp the angle differs by p · Δinv_freq plus one float32 rounding of the angle (ulp(4095) = 2.4e-4),
 *   so the bound is 3e-7 + scale · (p · |Δinv_freq| + ulp(angle)); measured worst 4.1e-5 (yarn without
 *   truncation, frequency 6 at position 4095) and 3.1e-5 (dynamic NTK at 4096 tokens, frequency 17 at
 *   position 3001), 9.1e-6 for longrope (frequency 20 at 3999), ≤ 6e-7 for every other case.
 * - T5 buckets and masks: exact.
 */
interface RopeCase {
  name: string;
  config: Record<string, unknown>;
  seq_len: number;
  rope_type: string;
  inv_freq: number[];
  attention_scaling: number;
  /** First half of cos / sin rows (the second half is the same), at `positions`. */
  cos: number[];
  sin: number[];
}

interface Fixture {
  max_position: number;
  positions: number[];
  rope: RopeCase[];
  relative_first: number;
  relative_buckets: {
    num_buckets: number;
    max_distance: number;
    bidirectional: boolean;
    buckets: number[];
  }[];
  masks: { lengths: number[]; seq: number; causal: boolean; window: number | null; visible: number[] }[];
}

const FIXTURE: Fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "..", "fixtures", "rope", "rope.json"), "utf8"),
);

const CASES = FIXTURE.rope;
const byName = (name: string) => FIXTURE.rope.find((c) => c.name === name)!;

const f32 = Math.fround;

/** Signed distance in float32 ulps (0 when equal as float32). */
function ulps(a: number, b: number): number {
  const buf = new Float32Array([a, b]);
  const [x, y] = new Int32Array(buf.buffer);
  const key = (i: number) => (i < 0 ? -2147483648 - i : i);
  return Math.abs(key(x) - key(y));
}

function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** The spacing of float32 values around |x|. */
function ulpOf(x: number): number {
  const e = Math.floor(Math.log2(Math.abs(x) || 2 ** -126));
  return 2 ** (Math.max(e, -126) - 23);
}

function ropeOf(c: RopeCase): RopeSettings {
  const rope = parseModelConfig(c.config, `${c.name}/config.json`).blocks?.rope;
  if (!rope) throw new Error(`${c.name}: no rope settings`);
  return rope;
}

/** Rows of cos / sin ([rotaryDim] each) for every stored position, from `freq`. */
function tables(freq: RopeFrequencies) {
  const rot = 2 * freq.invFreq.length;
  const cos = new Float32Array(FIXTURE.positions.length * rot);
  const sin = new Float32Array(FIXTURE.positions.length * rot);
  FIXTURE.positions.forEach((p, k) => {
    writeRotary(freq, p, cos, sin, k * rot);
  });
  return { cos, sin, rot };
}

/**
 * Compares cos / sin rows laid out as [positions.length, rot] (rows at `rowOf(k)`) with the fixture;
 * `tolerance(i, p)` is the bound for frequency i at position p. Returns the worst difference.
 */
function compareRows(
  c: RopeCase,
  cos: Float32Array,
  sin: Float32Array,
  rowOf: (k: number) => number,
  tolerance: (i: number, p: number) => number,
): { worst: number; at: string } {
  const half = c.inv_freq.length;
  let worst = 0;
  let at = "";
  FIXTURE.positions.forEach((p, k) => {
    const row = rowOf(k);
    for (let i = 0; i < half; i++) {
      const want = [c.cos[k * half + i], c.sin[k * half + i]];
      // cat(freqs, freqs): both halves of the row carry frequency i.
      for (const [j, got] of [
        cos[row + i],
        cos[row + half + i],
        sin[row + i],
        sin[row + half + i],
      ].entries()) {
        const d = Math.abs(got - want[j >> 1]);
        if (!(d <= tolerance(i, p))) {
          throw new Error(
            `${c.name}: ${j < 2 ? "cos" : "sin"} of frequency ${i} at position ${p}: ${got} vs ${want[j >> 1]}`,
          );
        }
        if (d > worst) {
          worst = d;
          at = `frequency ${i} at position ${p}`;
        }
      }
    }
  });
  return { worst, at };
}

/** The end-to-end bound: exact angles when the frequency is the same float, else its propagation. */
function endToEndTolerance(c: RopeCase, ours: Float32Array, scale: number) {
  return (i: number, p: number) => {
    const delta = Math.abs(ours[i] - f32(c.inv_freq[i]));
    if (delta === 0) return 3e-7;
    return 3e-7 + scale * (p * delta + ulpOf(f32(ours[i] * p)));
  };
}

describe("RoPE against transformers 5 (torch float32)", () => {
  it("the fixture covers every RoPE type in both config styles", () => {
    const types = new Set(CASES.map((c) => c.rope_type));
    expect([...types].sort()).toEqual(["default", "dynamic", "linear", "llama3", "longrope", "yarn"]);
    expect(CASES.some((c) => "rope_scaling" in c.config || "rotary_pct" in c.config)).toBe(true);
    expect(CASES.some((c) => "rope_parameters" in c.config)).toBe(true);
    expect(FIXTURE.positions.at(-1)).toBe(FIXTURE.max_position - 1);
  });

  it("config parsing gives transformers' RoPE type and attention scaling", () => {
    for (const c of CASES) {
      const rope = ropeOf(c);
      expect(rope.type, c.name).toBe(c.rope_type);
      expect(rope.rotaryDim, c.name).toBe(2 * c.inv_freq.length);
      // attention_scaling is a python float on both sides (math.log / math.sqrt in float64).
      expect(ropeFrequencies(rope, c.seq_len).scale, c.name).toBeCloseTo(c.attention_scaling, 14);
    }
  });

  it("inverse frequencies agree within relative 1e-6 (a few ulps at most)", () => {
    let differing = 0;
    let total = 0;
    for (const c of CASES) {
      const { invFreq } = ropeFrequencies(ropeOf(c), c.seq_len);
      expect(invFreq.length, c.name).toBe(c.inv_freq.length);
      invFreq.forEach((v, i) => {
        const want = f32(c.inv_freq[i]);
        expect(Math.abs(v - want) / want, `${c.name} inv_freq[${i}]`).toBeLessThanOrEqual(1e-6);
        expect(ulps(v, want), `${c.name} inv_freq[${i}]`).toBeLessThanOrEqual(3);
        if (v !== f32(want)) differing++;
        total++;
      });
    }
    // Last-ulp differences of float32 pow are the exception, not the rule.
    expect(differing).toBeLessThan(total / 20);
  });

  it("float32 / bfloat16 / float16 checkpoints: inv_freq rounded to the buffer's dtype, exactly", () => {
    for (const name of ["default-bf16", "default-f16-v4", "default-tiny-v5"]) {
      const c = byName(name);
      const { invFreq } = ropeFrequencies(ropeOf(c), c.seq_len);
      expect([...invFreq], name).toEqual(c.inv_freq.map(f32));
    }
  });

  it("writeRotary from torch's inverse frequencies: cos / sin within 3e-7 at positions up to 4095", () => {
    let worst = 0;
    for (const c of FIXTURE.rope) {
      const freq = { invFreq: Float32Array.from(c.inv_freq), scale: c.attention_scaling };
      const { cos, sin, rot } = tables(freq);
      worst = Math.max(
        worst,
        compareRows(
          c,
          cos,
          sin,
          (k) => k * rot,
          () => 3e-7,
        ).worst,
      );
    }
    expect(worst).toBeGreaterThan(0);
  });

  it("ropeFrequencies + writeRotary end to end: within 1e-5 up to position 4095 where frequencies agree", () => {
    const worst: Record<string, number> = {};
    for (const c of CASES) {
      const freq = ropeFrequencies(ropeOf(c), c.seq_len);
      const { cos, sin, rot } = tables(freq);
      const exact = freq.invFreq.every((v, i) => v === f32(c.inv_freq[i]));
      const tol = exact ? () => 1e-5 : endToEndTolerance(c, freq.invFreq, freq.scale);
      worst[c.name] = compareRows(c, cos, sin, (k) => k * rot, tol).worst;
    }
    // The worst measured (see the header): last-ulp frequency differences times the position.
    expect(Math.max(...Object.values(worst))).toBeLessThan(5e-5);
    expect(worst["llama3.1-v4"]).toBeLessThan(1e-6);
    expect(worst["default-llama2-v4"]).toBeLessThan(1e-6);
  });

  it("RotaryTables.fill: per-row frequencies for dynamic NTK and longrope, tables grown on demand", () => {
    const check = (shortName: string, longName: string, lengths: [number, number], seq: number) => {
      const short = byName(shortName);
      const long = byName(longName);
      const rope = ropeOf(long);
      const tablesOf = new RotaryTables(rope);
      // Grow the cached tables in steps before the full fill.
      tablesOf.fill([3], 3);
      tablesOf.fill([lengths[0], 70], 70);
      const { cos, sin } = tablesOf.fill(lengths, seq);
      const rot = rope.rotaryDim;
      expect(cos.length).toBe(2 * seq * rot);
      for (const [b, c] of [short, long].entries()) {
        const ours = ropeFrequencies(ropeOf(c), lengths[b]);
        const tol = endToEndTolerance(c, ours.invFreq, ours.scale);
        compareRows(c, cos, sin, (k) => (b * seq + FIXTURE.positions[k]) * rot, tol);
      }
      // A second fill reuses the cached tables: same values.
      const again = tablesOf.fill(lengths, seq);
      expect(sameBytes(again.cos, cos) && sameBytes(again.sin, sin)).toBe(true);
    };
    check("dynamic-2-short-v4", "dynamic-2-long-v4", [1000, 4096], 4096);
    check("longrope-phi3-short-v4", "longrope-phi3-long-v4", [1000, 4097], 4097);
  });

  it("dynamic NTK: sequences up to max_position_embeddings keep the base frequencies", () => {
    const c = byName("dynamic-2-short-v4");
    const rope = ropeOf(c);
    const base = ropeFrequencies(rope, 1).invFreq;
    expect([...ropeFrequencies(rope, rope.maxPositions).invFreq]).toEqual([...base]);
    expect([...base]).toEqual(c.inv_freq.map(f32));
    expect(ropeFrequencies(rope, rope.maxPositions + 1).invFreq[1]).toBeLessThan(base[1]);
  });

  it("Phi-3's old rope type name 'yarn' means longrope (Phi3Config renames it)", () => {
    const c = byName("longrope-phi3-yarn-alias-v4");
    expect(ropeOf(c).type).toBe("longrope");
  });

  it("Phi-3 longrope without original_max_position_embeddings uses Phi3Config's 4096", () => {
    const c = byName("longrope-phi3-default-original-v4");
    const freq = ropeFrequencies(ropeOf(c), c.seq_len);
    expect(freq.scale).toBeCloseTo(c.attention_scaling, 12);
    expect(Math.abs(freq.invFreq[47] - c.inv_freq[47]) / c.inv_freq[47]).toBeLessThan(1e-6);
  });
});

describe("T5 relative position buckets against modeling_t5._relative_position_bucket", () => {
  it("every relative position in −1200 … 1200, bidirectional and not, several bucket counts", () => {
    for (const r of FIXTURE.relative_buckets) {
      const got = r.buckets.map((_, j) =>
        relativeBucket(FIXTURE.relative_first + j, r.num_buckets, r.max_distance, r.bidirectional),
      );
      expect(got, `${r.num_buckets}/${r.max_distance}/${r.bidirectional}`).toEqual(r.buckets);
    }
  });

  it("relativePositionBias looks up bucket(key − query) in block 0's table", () => {
    const heads = 3;
    const seq = 40;
    const rel = { numBuckets: 8, maxDistance: 16, bidirectional: true };
    const table = Float32Array.from({ length: rel.numBuckets * heads }, (_, i) => i + 0.5);
    const bias = relativePositionBias(table, heads, seq, rel);
    for (let h = 0; h < heads; h++)
      for (let q = 0; q < seq; q++)
        for (let k = 0; k < seq; k++) {
          const bucket = relativeBucket(k - q, rel.numBuckets, rel.maxDistance, true);
          expect(bias[(h * seq + q) * seq + k]).toBe(table[bucket * heads + h]);
        }
  });
});

describe("attentionMask against masking_utils (padding, causal, sliding window)", () => {
  it("the masks transformers builds", () => {
    for (const m of FIXTURE.masks) {
      const mask = attentionMask(m.lengths, m.seq, m.causal, m.window);
      const visible = [...mask].map((v) => (v === 0 ? 1 : v === MASKED ? 0 : Number.NaN));
      expect(visible, JSON.stringify({ ...m, visible: undefined })).toEqual(m.visible);
    }
  });

  it("key k is visible from query q iff k < length and (bidirectional or k ≤ q) and k > q − w", () => {
    const lengths = [9, 1, 4, 12, 7];
    const seq = 12;
    for (const causal of [true, false]) {
      for (const w of [null, 1, 2, 5, 11, 12, 40]) {
        const mask = attentionMask(lengths, seq, causal, w);
        expect(mask.length).toBe(lengths.length * seq * seq);
        lengths.forEach((len, b) => {
          for (let q = 0; q < seq; q++)
            for (let k = 0; k < seq; k++) {
              const visible = k < len && (!causal || k <= q) && (w === null || k > q - w);
              expect(mask[(b * seq + q) * seq + k], `b${b} q${q} k${k} causal ${causal} w ${w}`).toBe(
                visible ? 0 : MASKED,
              );
            }
        });
      }
    }
    // Mistral's window of 16: a query sees itself and the 15 keys before it.
    const mistral = attentionMask([20], 20, true, 16);
    const row19 = [...mistral.subarray(19 * 20, 20 * 20)].map((v) => (v === 0 ? 1 : 0));
    expect(row19).toEqual([0, 0, 0, 0, ...new Array(16).fill(1)]);
  });
});
