import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cutTree } from "../../src/latent/cut.js";
import { wardLinkage, wardLinkageWithStats } from "../../src/latent/ward.js";
import { type LinkageTree, relabel } from "../../src/redundancy/linkage.js";
import { type Matrix, matrix } from "../../src/util/matrix.js";
import { Rng } from "../../src/util/rng.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "latent");

interface Case {
  name: string;
  rows: number;
  cols: number;
  Z: [number, number, number, number][];
  k: number[];
  labels: number[][];
}

const DOC = JSON.parse(readFileSync(join(FIXTURES, "ward.json"), "utf8")) as { cases: Case[] };

function loadMatrix(c: Case): Matrix {
  const raw = readFileSync(join(FIXTURES, `${c.name}.f32`));
  const data = new Float32Array(new Uint8Array(raw).buffer);
  expect(data.length).toBe(c.rows * c.cols);
  return matrix(c.rows, c.cols, data);
}

/** Same partition, whatever the numbers. */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]) ?? b[i]) !== b[i] || (ba.get(b[i]) ?? a[i]) !== a[i]) return false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return true;
}

function expectTree(tree: LinkageTree, z: [number, number, number, number][]): void {
  expect(tree.n - 1).toBe(z.length);
  for (let k = 0; k < z.length; k++) {
    expect([tree.left[k], tree.right[k], tree.size[k]]).toEqual([z[k][0], z[k][1], z[k][3]]);
    // scipy's heights come from the Lance–Williams recurrence, ours from centroids: equal to rounding.
    expect(Math.abs(tree.height[k] - z[k][2])).toBeLessThanOrEqual(1e-12 * Math.max(1, z[k][2]));
  }
}

describe("wardLinkage + cutTree = scikit-learn AgglomerativeClustering(linkage='ward')", () => {
  for (const c of DOC.cases) {
    it(`${c.name} (${c.rows} x ${c.cols})`, async () => {
      const x = loadMatrix(c);
      const tree = await wardLinkage(x);
      expectTree(tree, c.Z);
      c.k.forEach((k, i) => {
        const labels = cutTree(tree, k);
        expect(samePartition(labels, c.labels[i]), `k=${k}`).toBe(true);
        // The same tree, so scikit-learn's very numbers.
        expect(Array.from(labels), `k=${k}`).toEqual(c.labels[i]);
      });
    });
  }

  it("gives the same tree however small its batches and candidate lists", async () => {
    for (const name of ["dups", "layer0"]) {
      const c = DOC.cases.find((d) => d.name === name)!;
      const x = loadMatrix(c);
      const { tree, stats } = await wardLinkageWithStats(x, { batchRows: 1, candidates: 1 });
      expectTree(tree, c.Z);
      // One candidate cannot hold three identical rows: those rows were compared with all.
      if (name === "layer0") expect(stats.overflows).toBeGreaterThan(0);
    }
  });
});

/**
 * scipy's nn_chain with Lance–Williams Ward updates on a full distance matrix, ported as it is
 * (scipy/cluster/_hierarchy.pyx): the O(n²)-memory algorithm ours must agree with.
 */
function scipyWard(x: Matrix): LinkageTree {
  const { rows: n, cols: d } = x;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = x.data[i * d + k] - x.data[j * d + k];
        s += t * t;
      }
      D[i * n + j] = D[j * n + i] = Math.sqrt(s);
    }
  const size = new Int32Array(n).fill(1);
  const chain: number[] = [];
  const mx = new Int32Array(n - 1);
  const my = new Int32Array(n - 1);
  const mh = new Float64Array(n - 1);
  for (let k = 0; k < n - 1; k++) {
    if (chain.length === 0) chain.push(size.findIndex((s) => s > 0));
    let x0 = 0;
    let y = 0;
    let current = 0;
    for (;;) {
      x0 = chain[chain.length - 1];
      if (chain.length > 1) {
        y = chain[chain.length - 2];
        current = D[x0 * n + y];
      } else current = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        if (size[i] === 0 || i === x0) continue;
        if (D[x0 * n + i] < current) {
          current = D[x0 * n + i];
          y = i;
        }
      }
      if (chain.length > 1 && y === chain[chain.length - 2]) break;
      chain.push(y);
    }
    chain.length -= 2;
    const a = Math.min(x0, y);
    const b = Math.max(x0, y);
    const nx = size[a];
    const ny = size[b];
    mx[k] = a;
    my[k] = b;
    mh[k] = current;
    size[a] = 0;
    size[b] = nx + ny;
    for (let i = 0; i < n; i++) {
      const ni = size[i];
      if (ni === 0 || i === b) continue;
      const t = 1 / (nx + ny + ni);
      const dxi = D[i * n + a];
      const dyi = D[i * n + b];
      const v = Math.sqrt((ni + nx) * t * dxi * dxi + (ni + ny) * t * dyi * dyi - ni * t * current * current);
      D[i * n + b] = D[b * n + i] = v;
    }
  }
  return relabel({ x: mx, y: my, height: mh }, n);
}

describe("wardLinkage on random inputs = a port of scipy's nn_chain", () => {
  it("agrees on 40 random matrices (sizes 2–160, 1–40 dimensions, with and without duplicated rows)", async () => {
    const rng = new Rng(2022);
    for (let t = 0; t < 40; t++) {
      const n = 2 + rng.int(159);
      const d = 1 + rng.int(40);
      const x = matrix(n, d);
      const centres = 1 + rng.int(6);
      for (let i = 0; i < n; i++) {
        const c = rng.int(centres);
        for (let k = 0; k < d; k++) x.data[i * d + k] = 5 * Math.sin(c * 7 + k) + rng.normal();
      }
      // Every other matrix: a third of its rows copies of others (ties at distance 0).
      if (t % 2 === 1)
        for (let i = 0; i < n / 3; i++) {
          const from = rng.int(n);
          const to = rng.int(n);
          x.data.copyWithin(to * d, from * d, (from + 1) * d);
        }
      const ours = await wardLinkage(x, { candidates: 1 + rng.int(30), batchRows: 1 + rng.int(64) });
      const ref = scipyWard(x);
      for (const k of [1, 2, Math.ceil(n / 3), n]) {
        expect(samePartition(cutTree(ours, k), cutTree(ref, k)), `case ${t} (n=${n}, d=${d}), k=${k}`).toBe(
          true,
        );
      }
      for (let m = 0; m < n - 1; m++)
        expect(Math.abs(ours.height[m] - ref.height[m])).toBeLessThanOrEqual(
          1e-9 * Math.max(1, ref.height[m]),
        );
    }
  });
});

describe("wardLinkage input checks", () => {
  it("refuses non-finite values, naming the row and column", async () => {
    const x = matrix(3, 2, Float32Array.from([0, 1, 2, Number.NaN, 4, 5]));
    await expect(wardLinkage(x)).rejects.toThrow(/\(1, 1\) is not finite/);
  });

  it("clusters one row (no merges) and two rows (one merge at their distance)", async () => {
    expect((await wardLinkage(matrix(1, 3))).height.length).toBe(0);
    const two = await wardLinkage(matrix(2, 2, Float32Array.from([0, 0, 3, 4])));
    expect(Array.from(two.height)).toEqual([5]);
    expect(Array.from(cutTree(two, 2))).toEqual([1, 0]);
  });

  it("cutTree refuses more clusters than rows", async () => {
    const tree = await wardLinkage(matrix(3, 1, Float32Array.from([0, 1, 5])));
    expect(() => cutTree(tree, 4)).toThrow(/cannot make 4 clusters of 3 rows/);
    expect(() => cutTree(tree, 0)).toThrow(/≥ 1/);
  });
});
