import type { Clustering, StepContext } from "../context.js";
import type { Lambdas } from "../probes.js";
import {
  type ClusterGroupResult,
  type ClusteringInfo,
  encodeIdRanges,
  type LsccLcaGroup,
  type LsccLcaRun,
  type OracleResult,
  type ThresholdProbe,
} from "../results.js";
import { searchMinimal } from "../search.js";
import { layerGroups } from "./layers.js";
import { need, probeSettings, type StepDef } from "./types.js";

/**
 * Correlation-clustering feature selection (CCFS, Dalvi et al. 2020 §5.2) on the layers LayerSelector
 * kept and on all layers (CC), and the LS+CC+LCA minimal sets on top of them. Every threshold's
 * representatives get a probe; their LCA orderings stay in the work cache for LS+CC+LCA.
 */

function clusteringInfo(c: Clustering): ClusteringInfo {
  return {
    scope: c.scope,
    representative: c.representative,
    constantNeurons: c.constantNeurons,
    ...(c.note ? { note: c.note } : {}),
  };
}

function thresholdProbe(ctx: StepContext, oracle: OracleResult, columns: readonly number[]) {
  return ctx.probe({
    columns,
    lambdas: ctx.followerLambdas(oracle),
    labels: "task",
    orderingStride: ctx.settings.stride,
  });
}

async function clusterAndProbe(
  ctx: StepContext,
  oracle: OracleResult,
  columns: readonly number[],
  label: string,
): Promise<{ clustering: Clustering; thresholds: ThresholdProbe[] }> {
  const clustering = await ctx.cluster(columns);
  const bar = ctx.progress(label, clustering.cuts.length);
  const thresholds: ThresholdProbe[] = [];
  for (const [i, cut] of clustering.cuts.entries()) {
    const fit = await thresholdProbe(ctx, oracle, cut.representatives);
    thresholds.push({
      threshold: cut.threshold,
      clusters: cut.clusters,
      neurons: cut.representatives.length,
      reduction: 1 - cut.representatives.length / ctx.space.total,
      ids: encodeIdRanges(ctx.space.ids(cut.representatives)),
      probe: fit.record,
    });
    bar.update(i + 1);
  }
  bar.finish();
  return { clustering, thresholds };
}

const clusterSettings = (s: Parameters<StepDef<"cc">["settings"]>[0]) => ({
  probe: probeSettings(s),
  thresholds: s.thresholds,
  seed: s.seed,
  representative: s.representative,
  stride: s.stride,
});

export const ccfsStep: StepDef<"ccfs"> = {
  name: "ccfs",
  deps: ["oracle", "ls"],
  settings: clusterSettings,
  async run(ctx, done) {
    const oracle = need(done, "oracle");
    const groups: ClusterGroupResult[] = [];
    for (const g of layerGroups(need(done, "ls").selections)) {
      const columns = ctx.space.prefixColumns(g.layers.length);
      const r = await clusterAndProbe(ctx, oracle, columns, `CCFS layers ${g.layers[0]}-${g.layers.at(-1)}`);
      groups.push({
        layers: g.layers,
        deltas: g.deltas,
        neurons: columns.length,
        clustering: clusteringInfo(r.clustering),
        thresholds: r.thresholds,
      });
    }
    return { groups };
  },
};

export const ccStep: StepDef<"cc"> = {
  name: "cc",
  deps: ["oracle"],
  settings: clusterSettings,
  async run(ctx, done) {
    const columns = ctx.allColumns();
    const r = await clusterAndProbe(ctx, need(done, "oracle"), columns, "CC all layers");
    return {
      layers: [...ctx.space.layers],
      neurons: columns.length,
      clustering: clusteringInfo(r.clustering),
      thresholds: r.thresholds,
    };
  },
};

/** The base of one LS+CC+LCA search: the kept layers themselves, or one threshold's representatives. */
type LslcaBase = { layerCount: number } | { columns: readonly number[]; threshold: number };

async function lslcaRun(
  ctx: StepContext,
  base: LslcaBase,
  oracle: OracleResult,
  layersLabel: string,
  lambdas: Lambdas,
): Promise<LsccLcaRun> {
  const threshold = "threshold" in base ? base.threshold : null;
  const fit =
    "layerCount" in base
      ? await ctx.prefixProbe(base.layerCount, oracle)
      : await thresholdProbe(ctx, oracle, base.columns);
  if (!fit.ordering) throw new Error("redundancy: base probe without an ordering");
  const search = await searchMinimal(ctx, {
    label: `LS+CC+LCA ${layersLabel} ${threshold === null ? "no clustering" : `t=${threshold}`}`,
    ordering: fit.ordering,
    base: fit.record,
    percentages: ctx.settings.percentages,
    lambdas,
  });
  return { threshold, ...search };
}

export const lslcaStep: StepDef<"lslca"> = {
  name: "lslca",
  deps: ["oracle", "ls", "ccfs"],
  settings: (s) => ({
    probe: probeSettings(s),
    percentages: s.percentages,
    neuronDelta: s.neuronDelta,
    stride: s.stride,
    curves: s.curves,
    ...(s.warmStarts ? { warmStarts: true } : {}),
    thresholds: s.thresholds,
    seed: s.seed,
    representative: s.representative,
  }),
  async run(ctx, done) {
    const oracle = need(done, "oracle");
    const ccfs = need(done, "ccfs");
    const lambdas = ctx.followerLambdas(oracle);
    const groups: LsccLcaGroup[] = [];
    for (const g of layerGroups(need(done, "ls").selections)) {
      const label = `layers ${g.layers[0]}-${g.layers.at(-1)}`;
      const runs = [await lslcaRun(ctx, { layerCount: g.layers.length }, oracle, label, lambdas)];
      if (ccfs.groups.some((c) => c.layers.length === g.layers.length)) {
        const clustering = await ctx.cluster(ctx.space.prefixColumns(g.layers.length));
        for (const cut of clustering.cuts) {
          const base = { columns: cut.representatives, threshold: cut.threshold };
          runs.push(await lslcaRun(ctx, base, oracle, label, lambdas));
        }
      }
      groups.push({ layers: g.layers, deltas: g.deltas, runs });
    }
    return { neuronDelta: ctx.settings.neuronDelta, percentages: [...ctx.settings.percentages], groups };
  },
};
