import type { Matrix } from "../util/matrix.js";
import type { NeuronSpace } from "../util/neurons.js";

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

export interface TopWord {
  word: string;
  /** Mean z-score over the word's occurrences (mean |z| for direction "abs"). */
  score: number;
  /** score / the best score of the neuron (NeuroX's normalised score). */
  relative: number;
  count: number;
  /** Majority class of the word's occurrences, or null when unlabelled. */
  label: string | null;
  /** Up to a few occurrences with the highest activation: where the word fires. */
  examples: WordExample[];
}

export interface WordExample {
  sentence: number;
  position: number;
  activation: number;
}

export interface NeuronTopWords {
  neuron: number;
  name: string;
  direction: Direction;
  mean: number;
  std: number;
  words: TopWord[];
}

export interface ConceptMatch {
  neuron: number;
  name: string;
  layer: number;
  concept: string;
  direction: "positive" | "negative";
  /** Share of the top `topK` word types that belong to the concept. */
  purity: number;
  /** Share of all eligible word types that belong to the concept (what a random neuron would get). */
  baseRate: number;
  /** purity / baseRate. */
  lift: number;
  /** Hypergeometric P(at least this many concept types among k drawn at random), uncorrected. */
  pValue: number;
  /** Word types compared: min(k, the concept's number of word types). */
  topK: number;
  /** The neuron's top `topK` words in `direction`, best first. */
  words: string[];
}

/** A code line with the activations of some neurons over each of its words. */
export interface LineHeatmap {
  sentence: number;
  words: string[];
  /** activations[n][w]: neuron n (in the order of the owning `neurons` list), word w. */
  activations: number[][];
}

export interface ClassHeatmap {
  class: string;
  neurons: { id: number; name: string }[];
  lines: LineHeatmap[];
}

export interface LayerCounts {
  layers: number[];
  /** counts[i] = neurons of layers[i]. */
  counts: number[];
}
