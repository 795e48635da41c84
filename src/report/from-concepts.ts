import type { ConceptsResult } from "../concepts/format.js";
import type { ConceptNeuronExample, NeuronHeatmap, ReportData } from "./types.js";

/**
 * The report sections that come from `codeneurons concepts` output: layer distribution of the top
 * neurons, concept neurons per layer, and the code heatmaps. The rest of ReportData comes from the
 * probe and redundancy results.
 */
export function reportSectionsFromConcepts(
  c: ConceptsResult,
): Pick<ReportData, "layerDistribution" | "conceptNeurons" | "heatmaps" | "populations"> {
  const pctText = `${+(c.topNeurons.percentage * 100).toFixed(2)}%`;
  return {
    layerDistribution: {
      layers: c.layerDistribution.layers,
      classes: Object.entries(c.layerDistribution.perClass).map(([name, counts]) => ({ name, counts })),
      description: `LCA top neurons of each class at ${pctText} of the class's weight mass`,
    },
    conceptNeurons: {
      layers: c.layers,
      concepts: c.concepts.filter((k) => k.count > 0).map((k) => ({ name: k.concept, byLayer: k.byLayer })),
      examples: examplesOf(c, 3),
    },
    heatmaps: heatmapsWithSigns(c),
    ...(c.population ? { populations: { concepts: c.population } } : {}),
  };
}

/**
 * The heatmaps with each neuron's probe weight for the heatmap's class: LCA ranks by |weight|, so a
 * class's top neuron may fire low on it, and the report says which.
 */
function heatmapsWithSigns(c: ConceptsResult): NeuronHeatmap[] {
  const byId = new Map(c.neurons.map((n) => [n.id, n]));
  return c.heatmaps.map((h) => ({
    ...h,
    neurons: h.neurons.map((n) => {
      const w = byId.get(n.id)?.weights?.[h.class];
      return w === undefined ? n : { ...n, weight: w };
    }),
  }));
}

/** The `perConcept` most significant neurons of each concept (conceptNeurons is sorted that way). */
function examplesOf(c: ConceptsResult, perConcept: number): ConceptNeuronExample[] {
  const taken = new Map<string, number>();
  const out: ConceptNeuronExample[] = [];
  for (const m of c.conceptNeurons) {
    const n = taken.get(m.concept) ?? 0;
    if (n >= perConcept) continue;
    taken.set(m.concept, n + 1);
    out.push({
      neuron: m.name,
      concept: m.concept,
      direction: m.direction,
      purity: m.purity,
      pValue: m.pValue,
      words: m.words.slice(0, 12),
    });
  }
  return out;
}
