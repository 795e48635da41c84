import { describe, expect, it } from "vitest";
import { DesignMatrix } from "../../src/linalg/design.js";
import { Standardizer, transposeBlocked } from "../../src/linalg/standardize.js";
import { InputError } from "../../src/util/errors.js";
import { type Matrix, matrix } from "../../src/util/matrix.js";
import { Rng } from "../../src/util/rng.js";

function random(rows: number, cols: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = 5 + 3 * rng.normal();
  return m;
}

describe("Standardizer", () => {
  it("z-scores with train mean and population std; constant columns get scale 1", () => {
    const x = random(37, 5, 1);
    for (let r = 0; r < 37; r++) x.data[r * 5 + 2] = 4.25; // constant column
    const std = Standardizer.fit(x);
    expect(std.scale[2]).toBe(1);
    expect(std.constantColumns(x)).toEqual([2]);
    const z = std.apply(x);
    for (let j = 0; j < 5; j++) {
      let s = 0;
      let sq = 0;
      for (let r = 0; r < 37; r++) {
        s += z.data[r * 5 + j];
        sq += z.data[r * 5 + j] ** 2;
      }
      // float32 results: column mean 0 and variance 1 (0 for the constant column) within 1e-5.
      expect(Math.abs(s / 37)).toBeLessThan(1e-5);
      expect(Math.abs(sq / 37 - (j === 2 ? 0 : 1))).toBeLessThan(1e-5);
    }
    expect(x.data[0]).not.toBe(z.data[0]);
    std.apply(x, { inPlace: true });
    expect(Array.from(x.data)).toEqual(Array.from(z.data));
  });

  it("round-trips through JSON and rejects bad JSON with the field named", () => {
    const std = Standardizer.fit(random(10, 3, 2));
    const back = Standardizer.fromJSON(JSON.parse(JSON.stringify(std.toJSON())), "s.json");
    expect(Array.from(back.mean)).toEqual(Array.from(std.mean));
    expect(() => Standardizer.fromJSON({ mean: [1], scale: [-1] }, "s.json")).toThrow(InputError);
    expect(() => Standardizer.fromJSON({ mean: [1, 2], scale: [1] }, "s.json")).toThrow(/s\.json/);
    expect(() => Standardizer.fromJSON({ mean: ["a"], scale: [1] }, "s.json")).toThrow(/standardizer\.mean/);
  });

  it("transposes in tiles for sizes that are not multiples of the tile", () => {
    const x = random(70, 300, 3);
    const t = transposeBlocked(x);
    expect([t.rows, t.cols]).toEqual([300, 70]);
    const std = Standardizer.fit(x);
    const zt = std.applyTransposed(x);
    const z = std.apply(x);
    let wrong = 0;
    for (let r = 0; r < 70; r++)
      for (let c = 0; c < 300; c++) {
        if (t.data[c * 70 + r] !== x.data[r * 300 + c]) wrong++;
        if (zt.data[c * 70 + r] !== z.data[r * 300 + c]) wrong++;
      }
    expect(wrong).toBe(0);
  });
});

describe("DesignMatrix", () => {
  const x = random(53, 11, 4);
  const w = random(11, 7, 5);
  const g = random(53, 7, 6);

  function naive(a: Matrix, b: Matrix, transA: boolean): Float64Array {
    const n = transA ? a.cols : a.rows;
    const inner = transA ? a.rows : a.cols;
    const out = new Float64Array(n * b.cols);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < b.cols; c++) {
        let s = 0;
        for (let t = 0; t < inner; t++)
          s += (transA ? a.data[t * a.cols + i] : a.data[i * a.cols + t]) * b.data[t * b.cols + c];
        out[i * b.cols + c] = s;
      }
    return out;
  }

  for (const transposed of [true, false]) {
    it(`X·W and Xᵀ·G on the standardized matrix (transposed copy: ${transposed})`, async () => {
      const design = DesignMatrix.build(x, { transposed });
      expect(design.xt === null).toBe(!transposed);
      const xw = await design.times(w);
      const want = naive(design.x, w, false);
      // float32 GEMM vs float64 sums of 11 products of size ~10: 1e-3 absolute.
      xw.data.forEach((v, i) => {
        expect(Math.abs(v - want[i])).toBeLessThan(1e-3);
      });
      // Only rows 2 and 7 of W used: the sparse product reads 2 of 11 columns and agrees.
      const sparse = matrix(11, 7);
      for (const j of [2, 7]) sparse.data.set(w.data.subarray(j * 7, (j + 1) * 7), j * 7);
      const got = await design.timesSparse(sparse, 0.5);
      expect(got.fraction).toBeCloseTo(2 / 11, 12);
      const wantSparse = naive(design.x, sparse, false);
      got.z.data.forEach((v, i) => {
        expect(Math.abs(v - wantSparse[i])).toBeLessThan(1e-3);
      });
      expect((await design.timesSparse(matrix(11, 7))).fraction).toBe(0);
      expect((await design.timesSparse(w)).fraction).toBe(1);
      const xg = await design.transposeTimes(g);
      const wantG = naive(design.x, g, true);
      xg.data.forEach((v, i) => {
        expect(Math.abs(v - wantG[i])).toBeLessThan(1e-3);
      });
    });
  }
});
