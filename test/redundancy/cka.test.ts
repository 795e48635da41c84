import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { linearCKA, linearCKAFromBatches, sampleBatches } from "../../src/redundancy/cka.js";
import { type Matrix, matrix, selectColumns } from "../../src/util/matrix.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "redundancy");

function load() {
  const doc = JSON.parse(readFileSync(join(FIXTURES, "cka.json"), "utf8")) as {
    tokens: number;
    layers: number;
    hidden: number;
    batches: number[][];
    cka: number[][];
    cka_full: number[][];
  };
  const raw = readFileSync(join(FIXTURES, "cka.f32"));
  const x = matrix(doc.tokens, doc.layers * doc.hidden, new Float32Array(new Uint8Array(raw).buffer));
  return { doc, x };
}

function maxDiff(a: (number | null)[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, i) => {
    row.forEach((v, j) => {
      worst = Math.max(worst, Math.abs((v ?? Number.NaN) - b[i][j]));
    });
  });
  return Number.isNaN(worst) ? Number.POSITIVE_INFINITY : worst;
}

// The numpy reference works in float64 on the uncentred features (means up to ±20 against unit
// spread); ours centres each batch in float64 and forms float32 Grams on onnxruntime. Seen: 2.9e-9
// apart; 1e-7 leaves room for other GEMM kernels, while uncentred float32 Grams miss it (seen 7.4e-7).
const TOL = 1e-7;

describe("minibatch linear CKA (unbiased HSIC) vs the numpy reference", () => {
  it("same batches, one layer-major matrix", async () => {
    const { doc, x } = load();
    const cka = await linearCKAFromBatches(x, doc.batches, { hidden: doc.hidden });
    expect(maxDiff(cka, doc.cka)).toBeLessThan(TOL);
  });

  it("same result from one matrix per layer; a single batch of all tokens", async () => {
    const { doc, x } = load();
    const layers: Matrix[] = [];
    for (let l = 0; l < doc.layers; l++) {
      layers.push(
        selectColumns(
          x,
          Array.from({ length: doc.hidden }, (_, u) => l * doc.hidden + u),
        ),
      );
    }
    const all = [Array.from({ length: doc.tokens }, (_, i) => i)];
    expect(maxDiff(await linearCKAFromBatches(layers, all), doc.cka_full)).toBeLessThan(TOL);
  });

  it("linearCKA: symmetric, unit diagonal, deterministic for a seed, JSON with layer numbers", async () => {
    const { doc, x } = load();
    const opts = {
      hidden: doc.hidden,
      batchSize: 40,
      seed: 3,
      progress: false,
      layerNumbers: [0, 2, 4, 6, 8],
    };
    const a = await linearCKA(x, opts);
    const b = await linearCKA(x, opts);
    const c = await linearCKA(x, { ...opts, seed: 4 });
    expect(a).toEqual(b);
    expect(a.matrix).not.toEqual(c.matrix);
    expect(a.batches).toBe(5); // one pass: ⌊200 / 40⌋
    expect(a.layers).toEqual([0, 2, 4, 6, 8]);
    for (let i = 0; i < doc.layers; i++) {
      // HSIC(K,K)/√(HSIC(K,K)²) is 1 up to float64 rounding: 12 digits.
      expect(a.matrix[i][i]).toBeCloseTo(1, 12);
      for (let j = 0; j < doc.layers; j++) expect(a.matrix[i][j]).toBe(a.matrix[j][i]);
    }
    // The reference's batches are another permutation; the estimates agree only statistically.
    expect(maxDiff(a.matrix, doc.cka)).toBeLessThan(0.15);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it("a layer without variance gives null, not NaN", async () => {
    const x = matrix(12, 4);
    for (let r = 0; r < 12; r++) {
      x.data[r * 4] = Math.sin(r);
      x.data[r * 4 + 1] = Math.cos(3 * r);
      x.data[r * 4 + 2] = 5; // layer 1 is constant
      x.data[r * 4 + 3] = 5;
    }
    const res = await linearCKA(x, { hidden: 2, batchSize: 6, progress: false });
    expect(res.matrix[0][0]).toBeCloseTo(1, 12); // float64 rounding only
    expect(res.matrix[0][1]).toBeNull();
    expect(res.matrix[1][1]).toBeNull();
    x.data[7 * 4 + 1] = Number.NaN;
    await expect(linearCKA(x, { hidden: 2, batchSize: 12, progress: false })).rejects.toThrow(
      /column 1 holds NaN/,
    );
  });

  it("sampleBatches: distinct tokens within a pass, new permutation after, refuses m < 4", () => {
    const batches = sampleBatches(10, 4, 5, 1);
    expect(batches.length).toBe(5);
    const firstPass = [...batches[0], ...batches[1]];
    expect(new Set(firstPass).size).toBe(8);
    expect(sampleBatches(10, 4, 5, 1)).toEqual(batches);
    expect(() => sampleBatches(10, 3, 1, 1)).toThrow(/at least 4/);
    expect(() => sampleBatches(10, 11, 1, 1)).toThrow(/exceeds/);
  });
});
