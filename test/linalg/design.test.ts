import { describe, expect, it } from "vitest";
import { DesignMatrix } from "../../src/linalg/design.js";
import { Standardizer, transposeBlocked } from "../../src/linalg/standardize.js";
import { checkFiniteMatrix } from "../../src/probe/owlqn.js";
import { InputError } from "../../src/util/errors.js";
import { knownFinite } from "../../src/util/finite.js";
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

  it("marks a result whose every value is finite, so that the probes' check needs no pass; a NaN is still found", () => {
    const x = random(9, 4, 1);
    const std = Standardizer.fit(x);
    expect(knownFinite(std.apply(x).data)).toBe(true);
    const bad = random(9, 4, 1);
    bad.data[2 * 4 + 3] = Number.NaN;
    const z = std.apply(bad, { inPlace: true });
    expect(knownFinite(z.data)).toBe(false);
    expect(() => checkFiniteMatrix(z, "training")).toThrow(/training matrix holds NaN at row 2, column 3/);
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

    it(`sparse products one after another and overlapping agree with a product on the copy (transposed copy: ${transposed})`, async () => {
      const design = DesignMatrix.build(x, { transposed });
      const rng = new Rng(8);
      // Supports of 4, 1, 3 and 5 columns: each gather reuses the last one's buffer, larger and smaller.
      const supports = [[0, 3, 5, 9], [6], [1, 2, 10], [0, 4, 6, 8, 9]];
      const weights = supports.map((cols) => {
        const m = matrix(11, 7);
        for (const j of cols) for (let c = 0; c < 7; c++) m.data[j * 7 + c] = rng.normal();
        return m;
      });
      const check = (z: Matrix, wj: Matrix) => {
        const want = naive(design.x, wj, false);
        z.data.forEach((v, i) => {
          expect(Math.abs(v - want[i])).toBeLessThan(1e-3);
        });
      };
      for (const wj of weights) check((await design.timesSparse(wj, 0.5)).z, wj);
      // Started together: the second finds the buffer in use and gathers into its own.
      const together = await Promise.all(weights.map((wj) => design.timesSparse(wj, 0.5)));
      together.forEach((r, j) => {
        check(r.z, weights[j]);
      });
    });
  }
});

describe("DesignMatrix.columns: views of some columns, copying nothing", () => {
  const x = random(90, 40, 7);
  const full = DesignMatrix.build(x);
  const sub = (cols: number[]) =>
    new Standardizer(
      Float64Array.from(cols, (c) => full.standardizer.mean[c]),
      Float64Array.from(cols, (c) => full.standardizer.scale[c]),
    );
  const w = random(40, 3, 8);
  const g = random(90, 3, 9);

  /** The same products on a copy of the columns, within float32 rounding (other summation orders). */
  async function agrees(cols: number[], view: DesignMatrix): Promise<void> {
    const copy = DesignMatrix.wrap(
      matrix(
        90,
        cols.length,
        Float32Array.from(
          { length: 90 * cols.length },
          (_, i) => full.x.data[Math.floor(i / cols.length) * 40 + cols[i % cols.length]],
        ),
      ),
      sub(cols),
    );
    const wk = matrix(cols.length, 3, w.data.slice(0, cols.length * 3));
    const close = (a: Matrix, b: Matrix) => {
      expect([a.rows, a.cols]).toEqual([b.rows, b.cols]);
      for (let i = 0; i < a.data.length; i++) expect(Math.abs(a.data[i] - b.data[i])).toBeLessThan(1e-4);
    };
    close(await view.times(wk), await copy.times(wk));
    close(await view.transposeTimes(g), await copy.transposeTimes(g));
    // Sparse weights: only two rows used.
    const sparse = matrix(cols.length, 3);
    sparse.data.set(wk.data.subarray(0, 3), 0);
    sparse.data.set(wk.data.subarray(3, 6), 3 * (cols.length - 1));
    close((await view.timesSparse(sparse)).z, (await copy.timesSparse(sparse)).z);
    expect(view.x.data).toEqual(copy.x.data);
  }

  it("a contiguous range reads its rows of the parent's transposed copy", async () => {
    // 10 of 40 columns: X·W as Wᵀ·Xᵀ on those rows; 25 of 40: the parent's product, W scattered.
    for (const width of [10, 25]) {
      const cols = Array.from({ length: width }, (_, i) => 10 + i);
      const view = DesignMatrix.columns(full, cols, sub(cols));
      expect([view.rows, view.cols, view.isView]).toEqual([90, width, true]);
      expect(view.xt?.data.buffer).toBe(full.xt?.data.buffer);
      expect(view.source).toBe(full.x);
      await agrees(cols, view);
    }
  });

  it("any other column set multiplies the parent (weights scattered into its width)", async () => {
    const cols = [39, 3, 17, 0, 22, 5, 30, 11];
    const view = DesignMatrix.columns(full, cols, sub(cols));
    expect(view.xt).toBeNull();
    await agrees(cols, view);
    // A view of a view reads the parent's columns directly.
    const inner = DesignMatrix.columns(view, [1, 3, 6], sub([3, 0, 30]));
    await agrees([3, 0, 30], inner);
  });

  it("refuses columns outside the parent and a standardizer of another width", () => {
    expect(() => DesignMatrix.columns(full, [0, 40], sub([0, 1]))).toThrow(/column 40 of 40/);
    expect(() => DesignMatrix.columns(full, [0, 1], sub([0]))).toThrow(/standardizer of 1 for 2 columns/);
  });
});
