import type { z } from "zod";
import type { Matrix } from "../util/matrix.js";
import type { NeuronSpace } from "../util/neurons.js";
import type {
  CLASS_HEATMAP_SCHEMA,
  CONCEPT_MATCH_SCHEMA,
  LINE_HEATMAP_SCHEMA,
  TOP_WORD_SCHEMA,
  WORD_EXAMPLE_SCHEMA,
} from "./format.js";

/** The parts of concepts.json, typed by its schema (format.ts). */
export type TopWord = z.infer<typeof TOP_WORD_SCHEMA>;
export type WordExample = z.infer<typeof WORD_EXAMPLE_SCHEMA>;
export type ConceptMatch = z.infer<typeof CONCEPT_MATCH_SCHEMA>;
export type LineHeatmap = z.infer<typeof LINE_HEATMAP_SCHEMA>;
export type ClassHeatmap = z.infer<typeof CLASS_HEATMAP_SCHEMA>;

/**
 * Plain inputs and outputs of concept analysis. Everything here is JSON-serialisable except the typed
 * arrays of the inputs, so that the CLI can write results as they are and the report/explorer can read them.
 */

/** Probe weights as concept analysis needs them: one row per neuron, one column per class. */
export interface ProbeWeights {
  /** neurons × classes, row-major. */
  readonly weights: Float32Array;
  readonly classes: readonly string[];
  /** Neuron id (layer × width + unit of `space`) of each weight row. */
  readonly neurons: readonly number[];
  /** The site and width the ids are of. */
  readonly space: NeuronSpace;
}

/**
 * The rows (word occurrences) that the analysis runs over. `labels[i]` indexes `classes`, or is -1
 * when the row has no class (an unlabelled corpus, or a label outside the probed classes).
 */
export interface CorpusRows {
  readonly words: readonly string[];
  readonly sentence: Int32Array;
  readonly position: Int32Array;
  readonly labels: Int32Array;
  readonly classes: readonly string[];
}

/**
 * Where activations come from. Blocks are read a few hundred neurons at a time so that a 13-layer
 * model over a large corpus never needs the whole rows × neurons matrix in memory.
 */
export interface ActivationSource {
  /** The site whose neurons this source reads, and its neurons per layer. */
  readonly space: NeuronSpace;
  /** Every neuron that can be read, as ids of `space`. */
  readonly neurons: readonly number[];
  readonly rows: CorpusRows;
  /** rows × neurons.length activations of the given neurons over `rows`. */
  readBlock(neurons: readonly number[]): Promise<Matrix>;
  /** All words of one sentence with the given neurons' activations (words × neurons). */
  readLine(sentence: number, neurons: readonly number[]): Promise<LineActivations>;
}

export interface LineActivations {
  readonly words: string[];
  readonly activations: Matrix;
}

/** How top words are ranked: by mean z-score (positive/negative) or by mean |z| (NeuroX's default). */
export type Direction = "positive" | "negative" | "abs";

export interface NeuronTopWords {
  neuron: number;
  name: string;
  direction: Direction;
  mean: number;
  std: number;
  words: TopWord[];
}

export interface LayerCounts {
  layers: number[];
  /** counts[i] = neurons of layers[i]. */
  counts: number[];
}
