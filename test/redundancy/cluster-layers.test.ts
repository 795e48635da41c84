import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { clusteringMemoryBytes, clusterNeurons, perLayerMemoryBytes } from "../../src/redundancy/cluster.js";
import { UserError } from "../../src/util/errors.js";
import { type ColumnSource, columnSource, matrix } from "../../src/util/matrix.js";

/**
 * Per-layer-linked clustering (docs/clustering.md) against the reference of
 * scripts/reference/cluster_layers_reference.py: scipy's per-layer linkage + fcluster and the
 * cross-layer step in numpy, on float64 corrcoef distances. Our correlations are float32 products
 * (< 2e-6 from numpy's); the fixture's margin says how far every merge height and cross-layer mean
 * lies from a threshold, so identical clusters are expected.
 */
const FIXTURES = join(import.meta.dirname, "..", "fixtures", "redundancy");

function load() {
  const doc = JSON.parse(readFileSync(join(FIXTURES, "layers.json"), "utf8")) as {
    rows: number;
    cols: number;
    width: number;
    thresholds: number[];
    labels: number[][];
    joins: number[];
    margin: number;
  };
  const raw = readFileSync(join(FIXTURES, "layers.f32"));
  return { doc, x: matrix(doc.rows, doc.cols, new Float32Array(new Uint8Array(raw).buffer)) };
}

const quiet = { progress: false } as const;

/** A ColumnSource over `x` that records the widest request. */
function recording(x: ReturnType<typeof load>["x"]): ColumnSource & { widest: number } {
  const inner = columnSource(x);
  const out = {
    rows: x.rows,
    cols: x.cols,
    widest: 0,
    columns: async (cols: readonly number[]) => {
      out.widest = Math.max(out.widest, cols.length);
      return inner.columns(cols);
    },
  };
  return out;
}

describe("per-layer-linked clustering", () => {
  it("gives the reference's clusters and joins at every threshold, reading one layer at a time", async () => {
    const { doc, x } = load();
    expect(doc.margin).toBeGreaterThan(1e-4);
    const source = recording(x);
    const res = await clusterNeurons(source, {
      ...quiet,
      hidden: doc.width,
      scope: "per-layer-linked",
      thresholds: doc.thresholds,
    });
    expect(res.scope).toBe("per-layer-linked");
    expect(res.note).toMatch(/average distance is ≤ t/);
    expect(source.widest).toBe(doc.width);
    expect(res.groups.map((g) => g.layer)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(res.constantNeurons).toEqual([2 * doc.width + 7]);
    res.cuts.forEach((cut, k) => {
      expect(cut.assignment, `t=${cut.threshold}`).toEqual(doc.labels[k]);
      expect(cut.links).toBe(doc.joins[k]);
      expect(cut.clusterCount).toBe(Math.max(...doc.labels[k]));
      expect(cut.sizes.reduce((a, b) => a + b, 0)).toBe(doc.cols);
      // One representative per cluster, a member of it.
      cut.representatives.forEach((id, i) => {
        expect(cut.assignment[id]).toBe(i + 1);
      });
    });
    // Clusters span layers: the step joined something at every threshold.
    expect(doc.joins.every((j) => j > 0)).toBe(true);
  });

  it("is chosen when one tree over all neurons is over the memory bound, and says so", async () => {
    const { doc, x } = load();
    const need = clusteringMemoryBytes(doc.cols, doc.rows);
    const auto = await clusterNeurons(x, {
      ...quiet,
      hidden: doc.width,
      maxMemoryBytes: need - 1,
      tooLarge: "per-layer-linked",
      thresholds: [0.3],
    });
    expect(auto.scope).toBe("per-layer-linked");
    expect(auto.note).toMatch(/over the memory bound .* clustered each of the 6 layers separately/);
    expect(auto.cuts[0].assignment).toEqual(doc.labels[2]);
    // Within the bound, the one exact tree.
    const all = await clusterNeurons(x, { ...quiet, hidden: doc.width, tooLarge: "per-layer-linked" });
    expect(all.scope).toBe("all");
    // A bound below one pair of layers is refused, naming it.
    const pair = perLayerMemoryBytes(doc.width, doc.rows, true);
    await expect(
      clusterNeurons(x, {
        ...quiet,
        hidden: doc.width,
        maxMemoryBytes: pair - 1,
        tooLarge: "per-layer-linked",
      }),
    ).rejects.toThrow(/even one layer \(24 neurons\) is over the bound .* per pair of layers/);
  });

  it("never links layers of two sides (pair tasks): the first side clusters as it would alone", async () => {
    const { doc, x } = load();
    const half = (doc.cols / 2) | 0;
    const both = await clusterNeurons(x, {
      ...quiet,
      hidden: doc.width,
      layersPerSide: 3,
      scope: "per-layer-linked",
      thresholds: [0.4],
    });
    const a = both.cuts[0].assignment;
    for (let i = 0; i < half; i++) for (let j = half; j < doc.cols; j++) expect(a[i]).not.toBe(a[j]);
    // Side a's partition is what the first three layers give when the fourth is not linked to them.
    const firstThree = await clusterNeurons(
      { rows: x.rows, cols: half, columns: (cols) => columnSource(x).columns(cols) },
      { ...quiet, hidden: doc.width, scope: "per-layer-linked", thresholds: [0.4] },
    );
    expect(a.slice(0, half)).toEqual(firstThree.cuts[0].assignment);
  });

  it("refuses medoid representatives, which would need the distances across layers", async () => {
    const { doc, x } = load();
    const run = clusterNeurons(x, {
      ...quiet,
      hidden: doc.width,
      scope: "per-layer-linked",
      representative: "medoid",
    });
    await expect(run).rejects.toBeInstanceOf(UserError);
    await expect(
      clusterNeurons(x, { ...quiet, hidden: doc.width, scope: "per-layer-linked", representative: "medoid" }),
    ).rejects.toThrow(/--representative random/);
  });
});
