import type { ConceptsResult } from "../concepts/result.js";
import type { ReportData } from "./types.js";

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
    },
    heatmaps: c.heatmaps,
  };
}
