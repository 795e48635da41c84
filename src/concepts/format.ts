import type { Site } from "../store/format.js";
import type { ClassHeatmap, ConceptMatch, TopWord } from "./types.js";

/**
 * The versioned JSON that `codeneurons concepts` writes (concepts/concepts.json). Version 2 records the
 * neuron site (`site`, `width`: ids are layer × width + unit of that site) where version 1 had `hidden`;
 * readers take a version 1 file as the hidden site with width `hidden`.
 */
export const CONCEPTS_SCHEMA = "codeneurons.concepts";
export const CONCEPTS_VERSION = 2;

export interface NeuronReport {
  id: number;
  name: string;
  layer: number;
  /** Classes for which LCA selected this neuron. */
  topFor: string[];
  /** Probe weight per class (absent when the probe did not see the neuron). */
  weights: Record<string, number> | null;
  mean: number;
  std: number;
  /** Mean activation per class of the corpus rows. */
  classMeans: Record<string, number | null>;
  topWords: { positive: TopWord[]; negative: TopWord[] };
  /** The concept this neuron encodes, when it is a concept neuron. */
  concept: { name: string; direction: "positive" | "negative"; purity: number; pValue: number } | null;
}

export interface ConceptSummary {
  concept: string;
  count: number;
  /** Concept neurons per layer, aligned with `ConceptsResult.layers`. */
  byLayer: number[];
}

export interface ConceptsResult {
  schema: typeof CONCEPTS_SCHEMA;
  version: typeof CONCEPTS_VERSION;
  /** The site of every neuron id and name in the file. */
  site: Site;
  /** Neurons per layer of the site. */
  width: number;
  /** Layers of the analysed neurons, ascending (model layer numbers). */
  layers: number[];
  /** Classes of the probe. */
  classes: string[];
  corpus: {
    rows: number;
    sentences: number;
    wordTypes: number;
    classCounts: Record<string, number>;
  };
  options: ResolvedConceptsOptions;
  topNeurons: { percentage: number; perClass: Record<string, number[]>; overall: number[] };
  layerDistribution: { layers: number[]; perClass: Record<string, number[]>; overall: number[] };
  /** Every LCA-selected or concept neuron, ascending id. */
  neurons: NeuronReport[];
  /** Sorted by concept (in `concepts` order), then p-value, then purity. */
  conceptNeurons: ConceptMatch[];
  concepts: ConceptSummary[];
  heatmaps: ClassHeatmap[];
  /** Mean and population std of every analysed neuron, for z-scores elsewhere (the explorer's search). */
  stats: { neurons: number[]; mean: number[]; std: number[] };
}

export interface ResolvedConceptsOptions {
  percentage: number;
  topWords: number;
  examples: number;
  minCount: number;
  conceptTopK: number;
  minPurity: number;
  alpha: number;
  heatmapNeurons: number;
  heatmapLines: number;
  lines: number[] | null;
  wordLists: Record<string, string[]>;
  lexical: boolean;
}

export const DEFAULT_CONCEPTS_OPTIONS: ResolvedConceptsOptions = {
  percentage: 0.05,
  topWords: 10,
  examples: 3,
  minCount: 1,
  conceptTopK: 20,
  minPurity: 0.75,
  alpha: 0.01,
  heatmapNeurons: 5,
  heatmapLines: 4,
  lines: null,
  wordLists: {},
  lexical: true,
};
