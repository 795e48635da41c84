/**
 * The explorer's JSON API (shared by the server and the browser code; type-only for the browser).
 *
 *   GET /api/meta                         MetaResponse
 *   GET /api/neurons?layer=L[&site=S]     NeuronsResponse: every unit of layer L of site S
 *   GET /api/neurons?class=C              NeuronsResponse: LCA top neurons of class C, best first
 *   GET /api/neurons?concept=X            NeuronsResponse: concept neurons of concept X, most significant first
 *   GET /api/neuron/:ref[?lines=3,10&site=S]   NeuronResponse (ref: a name, L{layer}:{unit} or
 *                                         L{layer}.mlp:{unit}, or an id of site S)
 *   GET /api/search?token=T[&site=S]      SearchResponse: the neurons of site S that fire most on T
 *   GET /api/compare?a=REF&b=REF[&site=S] CompareResponse
 *   GET /api/latent?layer=L               LatentLayerResponse: the latent concepts (clusters) of layer L
 *   GET /api/latent/:layer/:cluster       LatentClusterResponse: a cluster's tokens in context and neurons
 * S (hidden or mlp) defaults to MetaResponse.site. Errors: 4xx with ErrorResponse.
 */
import type { Site } from "../store/format.js";

export interface ErrorResponse {
  error: string;
}

export interface SiteInfo {
  site: Site;
  /** For people: "residual stream", "MLP neurons". */
  title: string;
  /** Neurons per layer. */
  width: number;
  layers: number[];
}

export interface MetaResponse {
  model: string;
  /** The model's hidden size (null when only concepts.json of the MLP site is there). */
  hidden: number | null;
  /** The site shown first: concepts.json's, else the residual stream. */
  site: Site;
  /** Layers of `site`. */
  layers: number[];
  /** Every site the results hold. */
  sites: SiteInfo[];
  /** The site of the class and concept lists (concepts.json's), null without concepts.json. */
  conceptsSite: Site | null;
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
  /** Experiments in intervene/intervention.json (0 without one). */
  interventions: number;
  /** latent/latent.json's layers and settings, null without it. */
  latent: { site: Site; layers: number[]; clusters: number; tokens: number; theta: number } | null;
}

export interface NeuronChip {
  id: number;
  site: Site;
  /** Site-qualified: `L5:3`, `L5.mlp:3`. */
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

/** A score of the model's own predictions (intervene/format.ts): accuracy, and loss in nats (null for a probe). */
export interface PredictionScore {
  accuracy: number;
  loss: number | null;
}

/** An intervention experiment that changed the neuron, with the rest of its set (intervene/intervention.json). */
export interface InterventionEffect {
  /** "top:STRING:10", "concept:STRING", or the neurons given. */
  label: string;
  /** Neurons the experiment changed, this one among them. */
  neurons: number;
  /** zero | mean | scale:K | set:V. */
  mode: string;
  /** masked-lm | causal-lm | probe. */
  evaluation: string;
  split: string;
  /** Random neuron sets of the same size and layers. */
  controls: number;
  /** Per class and for all classes ("all"): unchanged, changed, and changed at random (mean, sd). */
  classes: {
    class: string;
    rows: number;
    before: PredictionScore;
    after: PredictionScore;
    random: { accuracy: { mean: number; sd: number }; loss: { mean: number; sd: number } | null } | null;
  }[];
}

/** The rows a neuron's statistics are over: the store's words, or the task's tokens concepts.json analysed. */
export interface PopulationInfo {
  kind: "store" | "task";
  /** For people: "the store's first 50000 words (of 80000)", "the task's train tokens (6 classes) …". */
  description: string;
  rows: number;
}

export interface NeuronResponse {
  id: number;
  site: Site;
  name: string;
  layer: number;
  /** The rows mean, std, classMeans and topWords are over. */
  population: PopulationInfo;
  mean: number;
  std: number;
  topFor: string[];
  /** Probe weight per class: positive, the neuron fires high on the class; negative, it fires low. */
  weights: Record<string, number> | null;
  /** direction "positive": fires high on the concept (its highest activations); "negative": fires low. */
  concept: { name: string; direction: string; purity: number; pValue: number } | null;
  classMeans: { class: string; mean: number | null; count: number }[];
  /** positive: highest mean z (fires high on); negative: lowest mean z (fires low on). */
  topWords: { positive: WordScore[]; negative: WordScore[] };
  /**
   * What the report shows of this neuron (concepts.json: its own population, e.g. the task's tokens),
   * when that is not the population above; null otherwise.
   */
  inReport: { population: PopulationInfo; topWords: { positive: WordScore[]; negative: WordScore[] } } | null;
  lines: LineView[];
  /** The experiments of intervene/intervention.json that changed this neuron, smallest set first. */
  interventions: InterventionEffect[];
}

export interface SearchResponse {
  token: string;
  site: Site;
  occurrences: number;
  neurons: { id: number; site: Site; name: string; layer: number; z: number; mean: number }[];
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

/** A latent cluster in a layer's list. */
export interface LatentClusterChip {
  id: number;
  size: number;
  /** The categories it is aligned with ("label IDENT"), empty when novel. */
  aligned: string[];
  /** Its most frequent distinct words. */
  words: string[];
}

export interface LatentLayerResponse {
  layer: number;
  site: Site;
  tokens: number;
  theta: number;
  /** Per family, the share of clusters aligned with it. */
  alignment: { family: string; aligned: number }[];
  novel: number;
  /** Largest first. */
  clusters: LatentClusterChip[];
}

export interface LatentClusterResponse {
  layer: number;
  site: Site;
  id: number;
  size: number;
  aligned: { family: string; value: string; share: number }[];
  majority: { family: string; value: string; share: number }[];
  /** The layer's neurons most active on the cluster (site-qualified names), best first. */
  neurons: { id: number; name: string; z: number }[];
  words: { word: string; count: number }[];
  /** Its tokens in their lines (`position`: the token's word; words null without the store). */
  occurrences: { sentence: number; position: number; word: string; words: string[] | null }[];
}
