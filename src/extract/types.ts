import type { ForwardTimes } from "../model/runner.js";
import type { Site } from "../store/format.js";

export type { ForwardTimes } from "../model/runner.js";

/**
 * What extraction needs from a model: a word-level tokenizer and a forward pass that returns the
 * hidden states (and optionally the feed-forward activations) of chosen layers for a padded batch.
 * The model stage (src/model) provides it; extraction does not know about architectures.
 */
export interface ExtractTokenizer {
  /** Subword ids of one word as tokenized inside a space-separated sentence. */
  tokenizeWord(word: string, isFirst: boolean): number[];
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly padId: number;
  readonly unkId: number | null;
  idToToken(id: number): string;
}

export interface TokenBatch {
  /** Row-major [batch × seq] token ids, right-padded. */
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  mask: Int32Array;
  batch: number;
  seq: number;
}

/**
 * Receives the outputs of a group of batches as the model computes them: `data` is
 * [batch × seq × width] of batch number `batch` in the group, for one site and layer (hidden: 0 … L,
 * mlp: blocks 1 … L). A layer-by-layer model hands over block 1's outputs of every batch before block
 * 2's; a whole-graph model all outputs of one batch before the next. Consumers copy what they keep.
 */
export type ForwardSink = (batch: number, site: Site, layer: number, data: Float32Array) => void;

export interface ActivationModel {
  /** What the user gave (hub id or directory), for the store's record. */
  readonly source: string;
  readonly modelType: string;
  /** Number of transformer blocks L; hidden states are numbered 0..L. */
  readonly numLayers: number;
  readonly hidden: number;
  /** MLP width (the MLP neurons of each block). */
  readonly intermediate?: number;
  /** Hidden-state layers the model emits and blocks whose MLP neurons it emits. */
  readonly layers: readonly number[];
  readonly mlpLayers: readonly number[];
  /**
   * The model reads its weights block by block for every group (models larger than memory): larger
   * groups amortise the reads, so extraction groups more rows by default.
   */
  readonly streaming: boolean;
  /** Longest token sequence the model accepts, special tokens included. */
  readonly maxTokens: number;
  /** Decoders see only left context (affects windowing and the sentence representation). */
  readonly causal: boolean;
  readonly tokenizer: ExtractTokenizer;
  /** Runs `batches` and hands every output the model emits to `sink`; adds its time to `times` when given. */
  forwardGroup(batches: readonly TokenBatch[], sink: ForwardSink, times?: ForwardTimes): Promise<void>;
}
