import { describe, expect, it } from "vitest";
import { gram, matmul, matmulTransA, matmulTransB } from "../../src/linalg/products.js";
import { type Matrix, matrix } from "../../src/util/matrix.js";
import { Rng } from "../../src/util/rng.js";

function random(rows: number, cols: number, rng: Rng): Matrix {
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

function naive(a: Matrix, b: Matrix, ta: boolean, tb: boolean): Matrix {
  const n = ta ? a.cols : a.rows;
  const k = ta ? a.rows : a.cols;
  const m = tb ? b.rows : b.cols;
  const out = matrix(n, m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) {
        const av = ta ? a.data[t * a.cols + i] : a.data[i * a.cols + t];
        const bv = tb ? b.data[j * b.cols + t] : b.data[t * b.cols + j];
        s += av * bv;
      }
      out.data[i * m + j] = s;
    }
  return out;
}

// float32 GEMM vs float64 accumulation of the same float32 inputs: sums of 50 products of N(0,1).
const TOL = 1e-4;

describe("onnxruntime products", () => {
  const rng = new Rng(3);
  const a = random(50, 7, rng);
  const b = random(7, 4, rng);
  const c = random(50, 4, rng);
  const d = random(9, 7, rng);

  it("A·B", async () => {
    const got = await matmul(a, b);
    const want = naive(a, b, false, false);
    expect(got.rows).toBe(50);
    for (let i = 0; i < want.data.length; i++) expect(got.data[i]).toBeCloseTo(want.data[i], 4);
  });

  it("Aᵀ·B, A·Bᵀ and Aᵀ·A", async () => {
    const tA = await matmulTransA(a, c);
    const wantA = naive(a, c, true, false);
    for (let i = 0; i < wantA.data.length; i++)
      expect(Math.abs(tA.data[i] - wantA.data[i])).toBeLessThan(TOL);
    const tB = await matmulTransB(a, d);
    const wantB = naive(a, d, false, true);
    for (let i = 0; i < wantB.data.length; i++)
      expect(Math.abs(tB.data[i] - wantB.data[i])).toBeLessThan(TOL);
    const g = await gram(a);
    expect([g.rows, g.cols]).toEqual([7, 7]);
    const wantG = naive(a, a, true, false);
    for (let i = 0; i < wantG.data.length; i++) expect(Math.abs(g.data[i] - wantG.data[i])).toBeLessThan(TOL);
  });

  it("rejects mismatched shapes", () => {
    expect(() => matmul(a, a)).toThrow(/matmul/);
  });
});
