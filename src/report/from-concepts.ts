import type { ConceptsResult } from "../concepts/format.js";
import type { ConceptNeuronExample, ReportData } from "./types.js";

/**
 * The report sections that come from `codeneurons concepts` output: layer distribution of the top
 * neurons, concept neurons per layer, and the code heatmaps. The rest of ReportData comes from the
 * probe and redundancy results.
 */
export function reportSectionsFromConcepts(
  c: ConceptsResult,
): Pick<ReportData, "layerDistribution" | "conceptNeurons" | "heatmaps"> {
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
    heatmaps: c.heatmaps,
  };
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
