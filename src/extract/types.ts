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

export interface ForwardRequest {
  layers: readonly number[];
  ffn: boolean;
}

export interface ForwardOutput {
  /** layer → [batch × seq × hidden] */
  hidden: Map<number, Float32Array>;
  /** layer (block number 1..L) → [batch × seq × intermediate] */
  ffn?: Map<number, Float32Array>;
}

export interface ActivationModel {
  /** What the user gave (hub id or directory), for the store's record. */
  readonly source: string;
  readonly modelType: string;
  /** Number of transformer blocks L; hidden states are numbered 0..L. */
  readonly numLayers: number;
  readonly hidden: number;
  readonly intermediate?: number;
  /** Longest token sequence the model accepts, special tokens included. */
  readonly maxTokens: number;
  /** Decoders see only left context (affects windowing and the sentence representation). */
  readonly causal: boolean;
  readonly tokenizer: ExtractTokenizer;
  forward(batch: TokenBatch, want: ForwardRequest): Promise<ForwardOutput>;
}
