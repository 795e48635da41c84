import type { ConceptsResult } from "../concepts/index.js";
import type { OrderingSearchResult, RedundancyResults } from "../redundancy/results.js";
import { reportSectionsFromConcepts } from "../report/from-concepts.js";
import {
  type LayerAccuracy,
  type NeuronCurves,
  REPORT_SCHEMA,
  REPORT_VERSION,
  type ReportData,
} from "../report/types.js";

/**
 * Turns the redundancy results and the concept analysis into the report's input (ReportData): the
 * report draws pictures from this one declarative file and knows nothing of the stages.
 */
export function reportDataOf(
  redundancy: RedundancyResults | null,
  concepts: ConceptsResult | null,
  meta: { model: string; task: string; notes?: string[] },
): ReportData {
  const data: ReportData = {
    schema: REPORT_SCHEMA,
    version: REPORT_VERSION,
    model: meta.model,
    task: meta.task,
    createdAt: new Date().toISOString(),
    notes: meta.notes,
  };
  if (redundancy) Object.assign(data, redundancySections(redundancy));
  if (concepts) Object.assign(data, reportSectionsFromConcepts(concepts));
  return data;
}

function redundancySections(r: RedundancyResults): Partial<ReportData> {
  const s = r.steps;
  const out: Partial<ReportData> = {};
  const layerAccuracy = layerAccuracyOf(r);
  if (layerAccuracy) out.layerAccuracy = layerAccuracy;
  if (s.cka) {
    const sim = s.cka.similarity;
    // CKA of a layer without variance is undefined (null); the heatmap shows it as 0.
    out.cka = { layers: sim.layers, matrix: sim.matrix.map((row) => row.map((v) => v ?? 0)) };
  }
  const curves = curvesOf(r);
  if (curves) out.neuronCurves = curves;
  if (r.summary.length > 0) {
    out.redundancy = {
      totalNeurons: r.totalNeurons,
      steps: r.summary.map((row) => ({
        step: row.name,
        neurons: row.neurons,
        accuracy: row.accuracy,
        reduction: 100 * row.reduction,
        ...(row.layers ? { layers: row.layers } : {}),
        ...(row.detail ? { detail: row.detail } : {}),
      })),
    };
  }
  return out;
}

function layerAccuracyOf(r: RedundancyResults): LayerAccuracy | null {
  const independent = r.steps.independent?.layers;
  if (!independent) return null;
  const incremental = new Map(
    (r.steps.incremental?.layers ?? []).map((l) => [l.layer, l.probe.test.accuracy]),
  );
  return {
    layers: independent.map((l) => l.layer),
    independent: independent.map((l) => l.probe.test.accuracy),
    ...(incremental.size > 0
      ? { incremental: independent.map((l) => incremental.get(l.layer) ?? null) }
      : {}),
    ...(r.steps.oracle ? { oracle: r.steps.oracle.probe.test.accuracy } : {}),
  };
}

function curvesOf(r: RedundancyResults): NeuronCurves | null {
  const named: [string, OrderingSearchResult | undefined][] = [
    ["LCA", r.steps.lca],
    ["Probeless", r.steps.probeless],
    ["Random", r.steps.random],
  ];
  const orderings = named
    .filter((n): n is [string, OrderingSearchResult] => n[1] !== undefined)
    .map(([name, s]) => ({
      name,
      points: [
        ...s.points.map((p) => ({ neurons: p.neurons, accuracy: p.probe.test.accuracy })),
        { neurons: s.base.neurons, accuracy: s.base.test },
      ],
    }));
  if (orderings.length === 0) return null;
  return {
    totalNeurons: r.totalNeurons,
    ...(r.steps.oracle ? { oracle: r.steps.oracle.probe.test.accuracy } : {}),
    orderings,
  };
}
