import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { condensedIndex, correlationDistances } from "../../src/linalg/correlation.js";
import { clusteringMemoryBytes, clusterNeurons, DEFAULT_THRESHOLDS } from "../../src/redundancy/cluster.js";
import { UserError } from "../../src/util/errors.js";
import { matrix } from "../../src/util/matrix.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "redundancy");

function loadCorr() {
  const doc = JSON.parse(readFileSync(join(FIXTURES, "corr.json"), "utf8")) as {
    rows: number;
    cols: number;
    thresholds: number[];
    labels: number[][];
    heights: number[];
  };
  const raw = readFileSync(join(FIXTURES, "corr.f32"));
  return { doc, x: matrix(doc.rows, doc.cols, new Float32Array(new Uint8Array(raw).buffer)) };
}

const quiet = { progress: false } as const;

describe("clusterNeurons", () => {
  it("gives NeuroX's clusters (numpy corrcoef + scipy average + fcluster) at t = 0.1 … 0.9", async () => {
    const { doc, x } = loadCorr();
    // Our float32 correlations differ from numpy's by < 2e-6 (correlation.test.ts): identical flat
    // clusters are guaranteed only when no merge height lies that close to a threshold. Check it.
    const margin = Math.min(...doc.heights.flatMap((h) => doc.thresholds.map((t) => Math.abs(h - t))));
    expect(margin).toBeGreaterThan(1e-4);
    const res = await clusterNeurons(x, quiet);
    expect(res.cuts.map((c) => c.threshold)).toEqual(doc.thresholds);
    res.cuts.forEach((cut, k) => {
      expect(cut.assignment).toEqual(doc.labels[k]);
      expect(cut.clusterCount).toBe(Math.max(...doc.labels[k]));
      expect(cut.sizes.reduce((a, b) => a + b, 0)).toBe(doc.cols);
    });
    expect(res.constantNeurons).toEqual([5]);
    expect(res.scope).toBe("all");
    expect(res.groups[0].linkage.length).toBe(doc.cols - 1);
    // A JSON-serialisable result: nothing lost in a round trip.
    expect(JSON.parse(JSON.stringify(res))).toEqual(res);
  });

  it("random representatives: one member per cluster, the same for a seed, different for another", async () => {
    const { x } = loadCorr();
    const ids = Array.from({ length: x.cols }, (_, c) => 1000 + c);
    const a = await clusterNeurons(x, { ...quiet, seed: 11, neuronIds: ids });
    const b = await clusterNeurons(x, { ...quiet, seed: 11, neuronIds: ids });
    const c = await clusterNeurons(x, { ...quiet, seed: 12, neuronIds: ids });
    expect(a.cuts).toEqual(b.cuts);
    expect(c.cuts.map((k) => k.assignment)).toEqual(a.cuts.map((k) => k.assignment));
    expect(c.cuts.map((k) => k.representatives)).not.toEqual(a.cuts.map((k) => k.representatives));
    for (const cut of a.cuts) {
      expect(cut.representatives.length).toBe(cut.clusterCount);
      cut.representatives.forEach((id, i) => {
        expect(cut.assignment[id - 1000]).toBe(i + 1);
      });
    }
    // A cut's representatives do not depend on which other thresholds were asked for.
    const only = await clusterNeurons(x, { ...quiet, seed: 11, neuronIds: ids, thresholds: [0.5] });
    expect(only.cuts[0]).toEqual(a.cuts[4]);
  });

  it("medoids minimise the summed distance inside each cluster", async () => {
    const { x } = loadCorr();
    const res = await clusterNeurons(x, { ...quiet, representative: "medoid", thresholds: [0.3, 0.8] });
    const d = await correlationDistances(x, quiet);
    const n = x.cols;
    const dist = (i: number, j: number) => (i === j ? 0 : d.data[condensedIndex(n, i, j)]);
    for (const cut of res.cuts) {
      cut.representatives.forEach((rep, k) => {
        const members = cut.assignment.flatMap((c, i) => (c === k + 1 ? [i] : []));
        const cost = (i: number) => members.reduce((s, j) => s + dist(i, j), 0);
        const best = Math.min(...members.map(cost));
        expect(cost(rep)).toBeCloseTo(best, 12); // same float64 sums up to summation order
        expect(members).toContain(rep);
      });
    }
  });
});

describe("memory bound", () => {
  // Two layers of 4 neurons; layer 1 copies layer 0 up to sign, so across-layer clusters exist.
  function twoLayers() {
    const x = matrix(50, 8);
    for (let r = 0; r < 50; r++) {
      for (let u = 0; u < 4; u++) {
        const v = Math.sin(r * (u + 1) * 0.7) + 0.1 * Math.cos(r * r);
        x.data[r * 8 + u] = v;
        x.data[r * 8 + 4 + u] = -2 * v + 3;
      }
    }
    return x;
  }

  it("estimates the bytes it needs", () => {
    // 9,984 neurons × 12,000 tokens: 797 MB square distances + 479 MB float32 copy + 2 × 40.9 MB blocks.
    expect(clusteringMemoryBytes(9984, 12000)).toBe(8 * 9984 * 9984 + 4 * 9984 * 12000 + 8 * 1024 * 9984);
    // Medoids add a condensed copy of the distances.
    expect(clusteringMemoryBytes(100, 10, "medoid")).toBe(
      8 * 100 * 100 + 8 * 4950 + 4 * 1000 + 8 * 100 * 100,
    );
  });

  it("refuses with a clear message over the bound", async () => {
    const x = twoLayers();
    const run = clusterNeurons(x, { ...quiet, maxMemoryBytes: 100 });
    await expect(run).rejects.toBeInstanceOf(UserError);
    await expect(clusterNeurons(x, { ...quiet, maxMemoryBytes: 100 })).rejects.toThrow(
      /clustering 8 neurons .* over the memory bound .* Cluster each layer separately/,
    );
  });

  it("clusters per layer when asked, and says so", async () => {
    const x = twoLayers();
    const all = await clusterNeurons(x, { ...quiet, thresholds: [0.05] });
    expect(all.cuts[0].clusterCount).toBe(4); // each unit with its copy in layer 1
    for (let u = 0; u < 4; u++) expect(all.cuts[0].assignment[u + 4]).toBe(all.cuts[0].assignment[u]);
    const need = clusteringMemoryBytes(8, 50);
    const perLayer = await clusterNeurons(x, {
      ...quiet,
      thresholds: [0.05],
      hidden: 4,
      maxMemoryBytes: need - 1,
      tooLarge: "per-layer",
    });
    expect(perLayer.scope).toBe("per-layer");
    expect(perLayer.note).toMatch(/clustered each of the 2 layers separately/);
    expect(perLayer.groups.map((g) => g.layer)).toEqual([0, 1]);
    // Layer 0's clusters are numbered 1…4 (fcluster's order), layer 1's follow as 5…8.
    const assignment = perLayer.cuts[0].assignment;
    expect([...assignment.slice(0, 4)].sort()).toEqual([1, 2, 3, 4]);
    expect(assignment.slice(4)).toEqual(assignment.slice(0, 4).map((c) => c + 4));
    await expect(
      clusterNeurons(x, { ...quiet, hidden: 4, maxMemoryBytes: 100, tooLarge: "per-layer" }),
    ).rejects.toThrow(/even one layer \(4 neurons\) is over the bound/);
  });

  it("default thresholds are 0.1 … 0.9", () => {
    expect(DEFAULT_THRESHOLDS).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
  });
});
