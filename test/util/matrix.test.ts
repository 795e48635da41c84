import { describe, expect, it } from "vitest";
import { transposeBlocked } from "../../src/linalg/standardize.js";
import { knownFinite, markFinite } from "../../src/util/finite.js";
import { matrix, selectColumns, selectRows } from "../../src/util/matrix.js";
import { Rng } from "../../src/util/rng.js";

describe("column and row copies", () => {
  const rng = new Rng(5);
  const x = matrix(37, 300);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();

  it("selectColumns copies any column order, repeats included, as a plain gather would", () => {
    const orders = [
      [5, 6, 7, 100], // ascending
      Array.from({ length: 300 }, (_, j) => (j * 97) % 300), // a permutation
      [299, 3, 3, 150, 0, 299], // repeats
      [],
    ];
    for (const cols of orders) {
      const got = selectColumns(x, cols);
      expect([got.rows, got.cols]).toEqual([37, cols.length]);
      for (let r = 0; r < 37; r++)
        cols.forEach((c, j) => {
          expect(got.data[r * cols.length + j]).toBe(x.data[r * 300 + c]);
        });
    }
  });

  it("the transpose of the transposed rows is the row-major column copy, bit for bit", () => {
    const cols = Array.from({ length: 120 }, () => rng.int(300));
    const viaRows = transposeBlocked(selectRows(transposeBlocked(x), cols));
    expect(Array.from(viaRows.data)).toEqual(Array.from(selectColumns(x, cols).data));
  });

  it("copies of a matrix known to be finite are known finite; others are not", () => {
    const y = matrix(
      4,
      3,
      Float32Array.from({ length: 12 }, (_, i) => i),
    );
    expect(knownFinite(selectColumns(y, [2, 0]).data)).toBe(false);
    markFinite(y.data);
    expect(knownFinite(selectColumns(y, [2, 0]).data)).toBe(true);
    expect(knownFinite(selectRows(y, [3, 1]).data)).toBe(true);
    expect(knownFinite(transposeBlocked(y).data)).toBe(true);
  });
});
