/**
 * The explorer's JSON API (shared by the server and the browser code; type-only for the browser).
 *
 *   GET /api/meta                         MetaResponse
 *   GET /api/neurons?layer=L              NeuronsResponse: every unit of layer L
 *   GET /api/neurons?class=C              NeuronsResponse: LCA top neurons of class C, best first
 *   GET /api/neurons?concept=X            NeuronsResponse: concept neurons of concept X, most significant first
 *   GET /api/neuron/:id[?lines=3,10]      NeuronResponse (id: global id or L{layer}:{unit})
 *   GET /api/search?token=T               SearchResponse: the neurons that fire most on T
 *   GET /api/compare?a=ID&b=ID            CompareResponse
 * Errors: 4xx with ErrorResponse.
 */
export interface ErrorResponse {
  error: string;
}

export interface MetaResponse {
  model: string;
  hidden: number;
  layers: number[];
  /** Rows (word occurrences) the explorer computes statistics over. */
  rows: number;
  sentences: number;
  /** True when the store holds more rows than the explorer samples. */
  sampled: boolean;
  classes: string[];
  concepts: { name: string; count: number }[];
  topNeurons: Record<string, number>;
  hasStore: boolean;
  hasConcepts: boolean;
  /** Path of the report page under /files/, when there is one. */
  report: string | null;
}

export interface NeuronChip {
  id: number;
  name: string;
  layer: number;
  /** Classes for which LCA selected the neuron. */
  topFor: string[];
  concept: string | null;
  /** Class weight (class lists) or concept purity (concept lists). */
  score: number | null;
}

export interface NeuronsResponse {
  title: string;
  neurons: NeuronChip[];
}

export interface WordScore {
  word: string;
  /** Mean z-score over the word's occurrences. */
  score: number;
  count: number;
  label: string | null;
  examples: { sentence: number; position: number; activation: number }[];
}

/** A code line with activations: activations[n][w] for the n-th neuron of the view. */
export interface LineView {
  sentence: number;
  words: string[];
  activations: number[][];
}

export interface NeuronResponse {
  id: number;
  name: string;
  layer: number;
  mean: number;
  std: number;
  topFor: string[];
  weights: Record<string, number> | null;
  concept: { name: string; direction: string; purity: number; pValue: number } | null;
  classMeans: { class: string; mean: number | null; count: number }[];
  topWords: { positive: WordScore[]; negative: WordScore[] };
  lines: LineView[];
}

export interface SearchResponse {
  token: string;
  occurrences: number;
  neurons: { id: number; name: string; layer: number; z: number; mean: number }[];
  /** Words that start like the token, when it does not occur. */
  suggestions: string[];
}

export interface CompareResponse {
  a: NeuronResponse;
  b: NeuronResponse;
  /** Pearson correlation over the explorer's rows (null when either neuron is constant). */
  correlation: number | null;
  /** Up to 1500 (a, b) activation pairs, evenly spaced over the rows. */
  scatter: [number, number][];
  lines: LineView[];
}
