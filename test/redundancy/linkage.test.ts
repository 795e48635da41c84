import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { condensedLength, squareFromCondensed } from "../../src/linalg/correlation.js";
import { clusterMembers, cutTree, maxHeights } from "../../src/redundancy/cut.js";
import {
  averageLinkage,
  averageLinkageSquare,
  inferN,
  linkageMatrix,
  treeFromLinkageMatrix,
} from "../../src/redundancy/linkage.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "redundancy");

interface Case {
  n: number;
  dtype: "float32" | "uint8";
  scale: number;
  thresholds: number[];
  Z: [number, number, number, number][];
  labels: number[][];
}

function load(name: string): { doc: Case; y: Float64Array } {
  const doc = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8")) as Case;
  const raw = readFileSync(join(FIXTURES, `${name}.bin`));
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice();
  const y =
    doc.dtype === "float32"
      ? Float64Array.from(new Float32Array(bytes.buffer))
      : Float64Array.from(bytes, (k) => k * doc.scale);
  expect(y.length).toBe(condensedLength(doc.n));
  return { doc, y };
}

const CASES = ["grouped240", "duplicates120", "blocks96", "quantised150", "ties24", "equal9", "pair2"];

describe("averageLinkage + cutTree = scipy linkage('average') + fcluster('distance')", () => {
  for (const name of CASES) {
    it(`${name}: same Z (merge order, children, exact heights, sizes) and same flat clusters`, () => {
      const { doc, y } = load(name);
      const copy = y.slice();
      const tree = averageLinkage(y, doc.n);
      // Exact equality, no tolerance: the same float64 operations in the same order as scipy.
      expect(linkageMatrix(tree)).toEqual(doc.Z);
      expect(y).toEqual(copy); // the input is not modified without `overwrite`
      const md = maxHeights(tree);
      doc.thresholds.forEach((t, k) => {
        expect(Array.from(cutTree(tree, t, md)), `t=${t}`).toEqual(doc.labels[k]);
      });
    });
  }

  it("the square path gives the same Z; overwrite works in place; bad squares are refused", () => {
    for (const name of ["quantised150", "ties24"]) {
      const { doc, y } = load(name);
      const square = squareFromCondensed({ n: doc.n, data: y });
      const copy = square.data.slice();
      expect(linkageMatrix(averageLinkageSquare(square))).toEqual(doc.Z);
      expect(square.data).toEqual(copy);
      expect(linkageMatrix(averageLinkageSquare(square, { overwrite: true }))).toEqual(doc.Z);
      expect(square.data).not.toEqual(copy);
    }
    const bad = squareFromCondensed({ n: 3, data: Float64Array.from([0.1, 0.2, 0.3]) });
    bad.data[2 * 3 + 0] = 0.25;
    expect(() => averageLinkageSquare(bad)).toThrow(/not symmetric at \(0, 2\)/);
    bad.data[2 * 3 + 0] = Number.NaN;
    expect(() => averageLinkageSquare(bad)).toThrow(/\(2, 0\) is not finite/);
    expect(() => averageLinkageSquare({ n: 3, data: new Float64Array(8) })).toThrow(/length 8 != n² = 9/);
  });

  it("a tree read back from its Z matrix cuts the same way", () => {
    const { doc, y } = load("ties24");
    const tree = treeFromLinkageMatrix(linkageMatrix(averageLinkage(y)), doc.n);
    expect(Array.from(cutTree(tree, 0.5))).toEqual(doc.labels[doc.thresholds.indexOf(0.5)]);
  });

  it("clusterMembers lists members per cluster in increasing order", () => {
    expect(clusterMembers(Int32Array.from([2, 1, 2, 3, 1]))).toEqual([[1, 4], [0, 2], [3]]);
  });

  it("one observation is one cluster; bad input is refused", () => {
    const tree = averageLinkage(new Float64Array(0), 1);
    expect(Array.from(cutTree(tree, 0.5))).toEqual([1]);
    expect(() => averageLinkage(new Float64Array(3), 4)).toThrow(/condensed length/);
    expect(() => averageLinkage(Float64Array.from([0.1, Number.NaN, 0.3]), 3)).toThrow(/not finite/);
    expect(inferN(45)).toBe(10);
    expect(() => inferN(44)).toThrow(/condensed/);
  });
});

describe("treeFromLinkageMatrix on damaged input", () => {
  it("random mutations and truncations give a clean Error or a valid tree, never a crash", () => {
    const { doc, y } = load("ties24");
    const z = linkageMatrix(averageLinkage(y));
    let seed = 12345;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % k;
    };
    const junk: unknown[] = [
      -1,
      0,
      1,
      23,
      24,
      46,
      47,
      1e9,
      0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "3",
      null,
    ];
    let rejected = 0;
    for (let trial = 0; trial < 500; trial++) {
      const m: unknown[][] = z.map((r) => [...r]);
      const edits = 1 + rand(3);
      for (let e = 0; e < edits; e++) {
        const what = rand(4);
        if (what === 0) m.length = rand(m.length);
        else if (what === 1 && m.length > 0) m[rand(m.length)][rand(4)] = junk[rand(junk.length)];
        else if (what === 2 && m.length > 0) m[rand(m.length)].length = rand(4);
        else if (m.length > 1) m[rand(m.length)] = m[rand(m.length)];
      }
      try {
        const tree = treeFromLinkageMatrix(m as number[][], doc.n);
        const labels = cutTree(tree, 0.5);
        expect(labels.every((c) => c >= 1 && c <= doc.n)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message).toMatch(/linkage matrix/);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(400);
  });
});
