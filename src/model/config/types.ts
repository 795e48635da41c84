import type { RopeSettings } from "./rope.js";

/** The model types codeneurons runs: the classic three (one ONNX graph) and the block-streamed families. */
export const CLASSIC_MODEL_TYPES = ["bert", "roberta", "gpt2"] as const;
export const BLOCK_MODEL_TYPES = [
  "llama",
  "mistral",
  "qwen2",
  "starcoder2",
  "gemma",
  "phi3",
  "gpt_bigcode",
  "gpt_neox",
  "t5",
] as const;
export const SUPPORTED_MODEL_TYPES = [...CLASSIC_MODEL_TYPES, ...BLOCK_MODEL_TYPES] as const;
export type ClassicModelType = (typeof CLASSIC_MODEL_TYPES)[number];
export type BlockModelType = (typeof BLOCK_MODEL_TYPES)[number];
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** The activation functions, by the names transformers' ACT2FN uses, mapped to the formula they compute. */
export const ACTIVATIONS = {
  gelu: "gelu_erf",
  gelu_python: "gelu_erf",
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_fast: "gelu_tanh",
  gelu_accurate: "gelu_tanh",
  quick_gelu: "quick_gelu",
  relu: "relu",
  silu: "silu",
  swish: "silu",
} as const;
export type ActivationName = keyof typeof ACTIVATIONS;
export type ActivationKind = (typeof ACTIVATIONS)[ActivationName];

/**
 * How a pre-norm transformer block of the block-streamed families computes, in the terms the graph
 * builder needs (arch/block.ts). One description covers Llama, Mistral, Qwen2, StarCoder2, Gemma,
 * Phi-3, GPTBigCode, GPT-NeoX and the T5 encoder; the checkpoint's tensor names and fused layouts are
 * the business of arch/checkpoint-layout.ts.
 */
export interface BlockArchitecture {
  readonly numKvHeads: number;
  /** Size of one attention head (may differ from hidden / heads: Gemma, T5's d_kv). */
  readonly headDim: number;
  /** rms: x / rms(x) · w; rms_one_plus: x / rms(x) · (1 + w) (Gemma); layer: LayerNorm with bias. */
  readonly norm: "rms" | "rms_one_plus" | "layer";
  readonly normEps: number;
  /** Biases on the Q, K, V projections / on the attention output projection. */
  readonly qkvBias: boolean;
  readonly outputBias: boolean;
  /** gated: act(gate(x)) · up(x) (SwiGLU, GeGLU); plain: act(fc(x)). */
  readonly mlp: "gated" | "plain";
  readonly mlpBias: boolean;
  /** Attention scores are multiplied by this (head_dim^-0.5; 1 for T5). */
  readonly attentionScale: number;
  /** GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x)) instead of two sequential residual steps. */
  readonly parallelResidual: boolean;
  /** Position information: rotary (in attention), learned absolute (added to the embeddings), T5 buckets. */
  readonly positions: "rope" | "learned" | "relative";
  readonly rope: RopeSettings | null;
  readonly relative: { numBuckets: number; maxDistance: number; bidirectional: boolean } | null;
  /** Keys a query sees at most (itself included), per block; null = all earlier (or all) tokens. */
  readonly slidingWindows: readonly (number | null)[];
  /** Gemma multiplies the token embeddings by √hidden (rounded to float32). */
  readonly embeddingScale: number | null;
  readonly tieWordEmbeddings: boolean;
}

export interface ModelConfig {
  readonly modelType: ModelType;
  /** `architectures` as written (e.g. ["RobertaForMaskedLM"]); informational. */
  readonly architectures: readonly string[];
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headSize: number;
  /** Width of the feed-forward layer (GPT-2: n_inner, or 4 × n_embd when null): the MLP neurons. */
  readonly intermediateSize: number;
  /** Rows of the position-embedding table (models with learned positions), else the longest context. */
  readonly maxPositions: number;
  /** Position id of the first token: RoBERTa's padding_idx + 1, otherwise 0. */
  readonly positionOffset: number;
  /** Longest input one forward pass accepts: maxPositions − positionOffset. */
  readonly maxSequenceLength: number;
  readonly vocabSize: number;
  /** Rows of the token-type table (BERT 2, RoBERTa 1, UniXcoder 10); 0 when the model has none. */
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly activation: ActivationName;
  readonly activationKind: ActivationKind;
  readonly padTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Each token attends only to itself and earlier tokens. */
  readonly causal: boolean;
  /** GPT-2: divide attention scores by sqrt(head size) (scale_attn_weights, default true). */
  readonly scaleAttnWeights: boolean;
  /** GPT-2: also divide attention scores of block i (0-based) by i + 1. */
  readonly scaleAttnByInverseLayerIdx: boolean;
  /** The block-streamed families' block description; null for BERT, RoBERTa and GPT-2. */
  readonly blocks: BlockArchitecture | null;
  /** The file the config came from (for error messages). */
  readonly source: string;
}
