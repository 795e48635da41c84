import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  condensedFromSquare,
  condensedIndex,
  condensedLength,
  correlationDistanceMatrix,
  correlationDistances,
  correlationMatrix,
  squareFromCondensed,
} from "../../src/linalg/correlation.js";
import { matrix } from "../../src/util/matrix.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "redundancy");

function loadCorr() {
  const doc = JSON.parse(readFileSync(join(FIXTURES, "corr.json"), "utf8")) as {
    rows: number;
    cols: number;
    corr: number[];
  };
  const raw = readFileSync(join(FIXTURES, "corr.f32"));
  const data = new Float32Array(new Uint8Array(raw).buffer);
  return { doc, x: matrix(doc.rows, doc.cols, data) };
}

// Our correlation rounds the standardised columns to float32 and multiplies in float32 (onnxruntime),
// numpy.corrcoef works in float64: over 300 tokens the difference is a few float32 ulps of 1 (seen:
// 6.6e-7). The fixture's columns have means up to ±100 (relative to unit spread): the uncentred
// float32 route Xᵀ·X − n·μμᵀ misses this bound (seen: 9.4e-5), centring in float64 first keeps it.
const TOL = 2e-6;

describe("correlation on onnxruntime vs numpy.corrcoef", () => {
  it("full matrix, with several block sizes (upper block triangle + mirror)", async () => {
    const { doc, x } = loadCorr();
    for (const blockSize of [1, 7, 16, 1024]) {
      const c = await correlationMatrix(x, { blockSize, progress: false });
      let worst = 0;
      for (let i = 0; i < doc.cols; i++) {
        for (let j = 0; j < doc.cols; j++) {
          if (i === j) continue;
          worst = Math.max(worst, Math.abs(c[i * doc.cols + j] - doc.corr[i * doc.cols + j]));
        }
      }
      expect(worst, `blockSize ${blockSize}`).toBeLessThan(TOL);
    }
  });

  it("condensed distances 1 − |r| and 1 − r; constant columns are reported and get r = 0", async () => {
    const { doc, x } = loadCorr();
    const n = doc.cols;
    const abs = await correlationDistances(x, { blockSize: 5, progress: false });
    const signed = await correlationDistances(x, { blockSize: 5, progress: false, absolute: false });
    expect(abs.data.length).toBe(condensedLength(n));
    expect(abs.constantColumns).toEqual([5]);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const r = doc.corr[i * n + j];
        const k = condensedIndex(n, i, j);
        expect(Math.abs(abs.data[k] - (1 - Math.abs(r)))).toBeLessThan(TOL);
        expect(Math.abs(signed.data[k] - (1 - r))).toBeLessThan(TOL);
        expect(abs.data[k]).toBeGreaterThanOrEqual(0); // |r| is clipped to 1
      }
    }
    // Column 17 duplicates column 3 and 30 negates 9: distance ≈ 0 within float32 rounding.
    expect(abs.data[condensedIndex(n, 3, 17)]).toBeLessThan(TOL);
    expect(abs.data[condensedIndex(n, 9, 30)]).toBeLessThan(TOL);
    expect(signed.data[condensedIndex(n, 9, 30)]).toBeGreaterThan(2 - TOL);
    expect(abs.data[condensedIndex(n, 4, 5)]).toBe(1);
  });

  it("the square distance matrix holds the condensed distances in both halves, diagonal 0", async () => {
    const { doc, x } = loadCorr();
    const n = doc.cols;
    for (const absolute of [true, false]) {
      // Block sizes that do and do not divide n, smaller and larger than the mirror tile (32). The
      // GEMM's rounding depends on the block shape, so each is compared with the same blocking.
      for (const blockSize of [7, 33, 256]) {
        const opts = { blockSize, progress: false, absolute };
        const condensed = await correlationDistances(x, opts);
        const square = await correlationDistanceMatrix(x, opts);
        expect(square.constantColumns).toEqual([5]);
        expect(condensedFromSquare(square).data).toEqual(condensed.data);
        for (let i = 0; i < n; i++) {
          expect(square.data[i * n + i]).toBe(0);
          for (let j = 0; j < i; j++) expect(square.data[i * n + j]).toBe(square.data[j * n + i]);
        }
      }
    }
    const round = squareFromCondensed(await correlationDistances(x, { progress: false }));
    expect(round.data).toEqual((await correlationDistanceMatrix(x, { progress: false })).data);
  });

  it("a matrix large enough to be pre-faulted by a worker (≥ 64 MB) holds the same distances", async () => {
    const rows = 6;
    const n = 2900; // 8·n² = 67.3 MB
    const x = matrix(rows, n);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sin(i * 0.37) + ((i * 7919) % 13) / 13;
    const square = await correlationDistanceMatrix(x, { progress: false });
    expect(square.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    const condensed = await correlationDistances(x, { progress: false });
    const fromSquare = condensedFromSquare(square).data;
    // A plain loop: toEqual on 4 million numbers takes vitest some 20 s.
    let mismatches = 0;
    for (let k = 0; k < fromSquare.length; k++) if (fromSquare[k] !== condensed.data[k]) mismatches++;
    expect(fromSquare.length).toBe(condensed.data.length);
    expect(mismatches).toBe(0);
    expect(square.data[n * 17 + 4]).toBe(square.data[n * 4 + 17]);
  });

  it("condensedIndex follows scipy's layout and refuses the diagonal", () => {
    const n = 5;
    const seen: number[] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) seen.push(condensedIndex(n, i, j));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(condensedIndex(n, 3, 1)).toBe(condensedIndex(n, 1, 3));
    expect(() => condensedIndex(n, 2, 2)).toThrow();
  });

  it("needs two tokens and finite values", async () => {
    await expect(correlationDistances(matrix(1, 3), { progress: false })).rejects.toThrow(/2 rows/);
    const x = matrix(4, 3, Float32Array.from([1, 2, 3, 4, 5, 6, 7, Number.NaN, 9, 1, 2, 3]));
    await expect(correlationDistances(x, { progress: false })).rejects.toThrow(/column 1 holds NaN/);
  });
});
