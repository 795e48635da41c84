import type { RedundancyResults, SearchResult } from "../redundancy/pipeline/results.js";
import { baselineOf } from "./baseline.js";
import type { CkaMatrix, LayerAccuracy, NeuronCurves, RedundancySummary, ReportData } from "./types.js";

/**
 * The report sections that come from `codeneurons redundancy` output (test accuracies): layer-wise
 * accuracies, the CKA heatmap, accuracy against the number of neurons for the LCA, probeless and random
 * orderings, the redundancy summary table, and the guard rails every accuracy is read against (the
 * majority-class rate and the control task: report/baseline.ts). The rest of ReportData comes from the
 * concepts results and the probe's metrics.
 */
export function reportSectionsFromRedundancy(
  r: RedundancyResults,
): Pick<ReportData, "layerAccuracy" | "cka" | "neuronCurves" | "redundancy" | "baseline"> {
  const baseline = baselineOf(r);
  return {
    ...(baseline ? { baseline } : {}),
    ...layerAccuracy(r),
    ...cka(r),
    ...curves(r),
    ...(r.summary.length > 0 ? { redundancy: summary(r) } : {}),
  };
}

function layerAccuracy(r: RedundancyResults): { layerAccuracy?: LayerAccuracy } {
  const ind = r.steps.independent?.layers;
  if (!ind) return {};
  const inc = new Map((r.steps.incremental?.layers ?? []).map((l) => [l.layer, l.probe.test.accuracy]));
  return {
    layerAccuracy: {
      layers: ind.map((l) => l.layer),
      independent: ind.map((l) => l.probe.test.accuracy),
      ...(inc.size > 0 ? { incremental: ind.map((l) => inc.get(l.layer) ?? null) } : {}),
      ...(r.steps.oracle ? { oracle: r.steps.oracle.probe.test.accuracy } : {}),
    },
  };
}

function cka(r: RedundancyResults): { cka?: CkaMatrix } {
  const s = r.steps.cka?.similarity;
  if (!s) return {};
  // A layer without variance has no CKA; the heatmap shows it as 0.
  return { cka: { layers: s.layers, matrix: s.matrix.map((row) => row.map((v) => v ?? 0)) } };
}

function points(s: SearchResult) {
  return s.points.map((p) => ({ neurons: p.neurons, accuracy: p.probe.test.accuracy }));
}

function curves(r: RedundancyResults): { neuronCurves?: NeuronCurves } {
  const orderings = (
    [
      ["LCA", r.steps.lca],
      ["Probeless", r.steps.probeless],
      ["Random", r.steps.random],
    ] as const
  ).flatMap(([name, s]) => (s ? [{ name, points: points(s) }] : []));
  if (orderings.length === 0) return {};
  return {
    neuronCurves: {
      totalNeurons: r.totalNeurons,
      ...(r.steps.oracle ? { oracle: r.steps.oracle.probe.test.accuracy } : {}),
      orderings,
    },
  };
}

function summary(r: RedundancyResults): RedundancySummary {
  return {
    totalNeurons: r.totalNeurons,
    steps: r.summary.map((s) => ({
      step: s.name,
      neurons: s.neurons,
      accuracy: s.accuracy,
      reduction: 100 * s.reduction,
      ...(s.layers ? { layers: s.layers } : {}),
      ...(s.detail ? { detail: s.detail } : {}),
    })),
  };
}
