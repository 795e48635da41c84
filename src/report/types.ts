import type { Site } from "../store/format.js";

/**
 * ReportData: everything the report shows, as plain JSON (<results-dir>/report-data.json). The report
 * is "declarative spec in, picture out": this file is the only input of `codeneurons report`, and each
 * section is optional so that a partial run still gives a partial report. Accuracies are fractions in
 * [0, 1]; the report shows them as percentages. Layers are model layer numbers: 0 = embeddings … L for
 * the residual stream, blocks 1 … L for MLP neurons (`site`).
 */
export const REPORT_SCHEMA = "codeneurons.report-data";
/** 2: `site`. Version 1 files (no site) are read as the residual stream. */
export const REPORT_VERSION = 2;
export const REPORT_VERSIONS_READ: readonly number[] = [1, 2];

export interface ReportData {
  schema: typeof REPORT_SCHEMA;
  version: typeof REPORT_VERSION;
  /** Which neurons the figures and names are of (absent: the residual stream, "hidden"). */
  site?: Site;
  /** Shown as the page title; default "<model> · <task>". */
  title?: string;
  model: string;
  task: string;
  /** ISO date of the run. */
  createdAt?: string;
  /** Free-text lines shown under the title (settings, seeds, data sizes). */
  notes?: string[];
  layerAccuracy?: LayerAccuracy;
  cka?: CkaMatrix;
  neuronCurves?: NeuronCurves;
  redundancy?: RedundancySummary;
  layerDistribution?: LayerDistribution;
  conceptNeurons?: ConceptNeuronCounts;
  heatmaps?: NeuronHeatmap[];
}

export interface LayerAccuracy {
  layers: number[];
  /** Test accuracy of a probe on layer i alone. */
  independent: number[];
  /** Test accuracy of a probe on layers 0..i (null where not run). */
  incremental?: (number | null)[];
  /** Control-task accuracy of the per-layer probes (selectivity = independent − control). */
  control?: (number | null)[];
  /** Accuracy of the probe on all layers. */
  oracle?: number;
}

export interface CkaMatrix {
  layers: number[];
  /** matrix[i][j] = linear CKA between layers[i] and layers[j], in [0, 1]. */
  matrix: number[][];
}

export interface NeuronCurves {
  /** Neurons the orderings rank (all neurons of the probed layers). */
  totalNeurons: number;
  oracle?: number;
  /** One curve per ordering, e.g. "LCA", "Probeless", "Random". */
  orderings: { name: string; points: { neurons: number; accuracy: number }[] }[];
}

export interface RedundancySummary {
  totalNeurons: number;
  /** In display order: Oracle, LS, LS+CC+LCA, CC, LCA, Probeless, Control, … */
  steps: RedundancyStep[];
}

export interface RedundancyStep {
  step: string;
  neurons: number;
  accuracy: number;
  /** Percentage of neurons removed relative to `totalNeurons` (0–100). */
  reduction: number;
  /** Layers kept, when the step selects layers. */
  layers?: number[];
  /** e.g. "δ = 0.01, t = 0.3". */
  detail?: string;
}

export interface LayerDistribution {
  layers: number[];
  /** counts[i] = top neurons of the class in layers[i]. */
  classes: { name: string; counts: number[] }[];
  /** e.g. "LCA top neurons at 5% weight mass". */
  description?: string;
}

export interface ConceptNeuronCounts {
  layers: number[];
  concepts: { name: string; byLayer: number[] }[];
  /** The most significant concept neurons, shown as a table with their top words. */
  examples?: ConceptNeuronExample[];
}

export interface ConceptNeuronExample {
  neuron: string;
  concept: string;
  direction: string;
  /** Share of its top word types that belong to the concept, in [0, 1]. */
  purity: number;
  pValue: number;
  words: string[];
}

/** A class's top neurons and their activations over some code lines (concepts.json `heatmaps`). */
export interface NeuronHeatmap {
  class: string;
  neurons: { id: number; name: string }[];
  lines: { sentence: number; words: string[]; activations: number[][] }[];
}
