import { InputError } from "../../util/errors.js";
import {
  bool,
  float,
  int,
  type Json,
  oneOf,
  optionalInt,
  optionalString,
  optionalTokenId,
  stringList,
} from "./fields.js";
import { parseRope } from "./rope.js";
import {
  ACTIVATIONS,
  type ActivationName,
  type BlockArchitecture,
  type BlockModelType,
  type ModelConfig,
} from "./types.js";

/**
 * config.json of the block-streamed families, with transformers 5.17's defaults (and its reading of
 * transformers 4 configs: n_embd / n_inner / multi_query for GPTBigCode, rotary_pct / rotary_emb_base
 * for GPT-NeoX, hidden_activation for Gemma, rope_theta / rope_scaling everywhere). Fields that fix
 * tensor shapes (hidden size, layers, heads, vocabulary) are never guessed.
 */
export function parseBlockModel(cfg: Json, modelType: BlockModelType, file: string): ModelConfig {
  switch (modelType) {
    case "gpt_bigcode":
      return parseGptBigCode(cfg, file);
    case "gpt_neox":
      return parseGptNeox(cfg, file);
    case "t5":
      return parseT5(cfg, file);
    default:
      return parseRopeDecoder(cfg, modelType, file);
  }
}

/**
 * A block count no real checkpoint comes near (the largest have about 100 blocks); checked before any
 * per-layer list is built, so that a damaged config cannot make us allocate one entry per "layer".
 */
const MAX_LAYERS = 10_000;

function layerCount(cfg: Json, key: string, file: string): number {
  const n = int(cfg, key, file, { min: 1 });
  if (n > MAX_LAYERS)
    throw new InputError(file, `${n} layers is not a plausible model (at most ${MAX_LAYERS})`, {
      field: key,
    });
  return n;
}

/** What every family states the same way; the family parsers fill in the rest. */
interface Common {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  vocabSize: number;
}

/** Attention variants of the families' configs that change the maths and that we do not implement. */
const UNSUPPORTED_ATTENTION: Record<string, string> = {
  attn_logit_softcapping: "attention logit soft-capping",
  final_logit_softcapping: "final logit soft-capping",
  use_qk_norm: "query/key normalisation",
  qk_layernorm: "query/key layer norms",
  attention_chunk_size: "chunked attention",
};

function refuseAttentionVariants(cfg: Json, file: string): void {
  for (const [key, what] of Object.entries(UNSUPPORTED_ATTENTION)) {
    const v = cfg[key];
    if (v !== undefined && v !== null && v !== false && v !== 0) {
      throw new InputError(file, `${what} (${key}: ${JSON.stringify(v)}) is not supported`, { field: key });
    }
  }
}

function activation(
  cfg: Json,
  keys: readonly string[],
  file: string,
  fallback: ActivationName,
): ActivationName {
  const key = keys.find((k) => cfg[k] !== undefined && cfg[k] !== null);
  const v = key === undefined ? fallback : cfg[key];
  if (typeof v !== "string" || !(v in ACTIVATIONS)) {
    throw new InputError(
      file,
      `unsupported activation ${JSON.stringify(v)} (supported: ${Object.keys(ACTIVATIONS).join(", ")})`,
      { field: key ?? keys[0] },
    );
  }
  return v as ActivationName;
}

function heads(
  cfg: Json,
  file: string,
  hiddenSize: number,
  headsKey: string,
  kvKey: string | null,
  kvDefault?: number,
) {
  const numHeads = int(cfg, headsKey, file, { min: 1 });
  const numKvHeads =
    kvKey === null ? numHeads : int(cfg, kvKey, file, { min: 1, fallback: kvDefault ?? numHeads });
  if (numHeads % numKvHeads !== 0) {
    throw new InputError(
      file,
      `${numHeads} attention heads are not a multiple of ${numKvHeads} key/value heads`,
      {
        field: kvKey ?? headsKey,
      },
    );
  }
  const defaultHeadDim = Math.floor(hiddenSize / numHeads);
  const headDim = int(cfg, "head_dim", file, { min: 1, fallback: defaultHeadDim });
  return { numHeads, numKvHeads, headDim };
}

/**
 * Sliding windows per block, as each config class reads them: Mistral (default 4096), StarCoder2 and
 * Phi-3 apply `sliding_window` to every block; Qwen2 only with use_sliding_window, from block
 * max_window_layers on (transformers 5 writes this as `layer_types`, which then decides); Llama and
 * Gemma have none. transformers' window of w keeps keys with query − key < w, i.e. w keys.
 */
function slidingWindows(
  cfg: Json,
  file: string,
  numLayers: number,
  modelType: BlockModelType,
): (number | null)[] {
  const all = (w: number | null) => Array.from({ length: numLayers }, () => w);
  if (modelType === "mistral") return all(optionalInt(cfg, "sliding_window", file, 4096));
  if (modelType === "starcoder2" || modelType === "phi3")
    return all(optionalInt(cfg, "sliding_window", file, null));
  if (modelType !== "qwen2") return all(null);
  const window = optionalInt(cfg, "sliding_window", file, 4096);
  const layerTypes =
    cfg.layer_types === undefined || cfg.layer_types === null ? null : stringList(cfg, "layer_types", file);
  if (layerTypes) {
    if (layerTypes.length < numLayers) {
      throw new InputError(file, `lists ${layerTypes.length} layer types for ${numLayers} layers`, {
        field: "layer_types",
      });
    }
    return layerTypes.slice(0, numLayers).map((t, i) => {
      const kind = oneOf(t, ["full_attention", "sliding_attention"], file, `layer_types[${i}]`, "layer type");
      if (kind === "full_attention") return null;
      if (window === null) {
        throw new InputError(file, `layer ${i} is a sliding_attention layer but sliding_window is null`, {
          field: "sliding_window",
        });
      }
      return window;
    });
  }
  const use = bool(cfg, "use_sliding_window", file, false);
  const from = int(cfg, "max_window_layers", file, { min: 0, fallback: 28 });
  return Array.from({ length: numLayers }, (_, i) => (use && window !== null && i >= from ? window : null));
}

function base(
  cfg: Json,
  modelType: BlockModelType,
  file: string,
  c: Common,
  arch: BlockArchitecture,
  extra: {
    activation: ActivationName;
    causal: boolean;
    bos: number | null;
    eos: number | null;
    pad: number | null;
    maxSequenceLength?: number;
  },
): ModelConfig {
  return {
    modelType,
    architectures: stringList(cfg, "architectures", file),
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    headSize: c.headDim,
    intermediateSize: c.intermediateSize,
    maxPositions: c.maxPositions,
    positionOffset: 0,
    maxSequenceLength: extra.maxSequenceLength ?? c.maxPositions,
    vocabSize: c.vocabSize,
    typeVocabSize: 0,
    layerNormEps: arch.normEps,
    activation: extra.activation,
    activationKind: ACTIVATIONS[extra.activation],
    padTokenId: extra.pad,
    bosTokenId: extra.bos,
    eosTokenId: extra.eos,
    causal: extra.causal,
    scaleAttnWeights: true,
    scaleAttnByInverseLayerIdx: false,
    blocks: arch,
    source: file,
  };
}

type RopeDecoderType = Exclude<BlockModelType, "gpt_bigcode" | "gpt_neox" | "t5">;

/** Llama, Mistral, Qwen2, StarCoder2, Gemma, Phi-3: RoPE decoders with grouped-query attention. */
function parseRopeDecoder(cfg: Json, modelType: RopeDecoderType, file: string): ModelConfig {
  refuseAttentionVariants(cfg, file);
  const hiddenSize = int(cfg, "hidden_size", file, { min: 1 });
  const numLayers = layerCount(cfg, "num_hidden_layers", file);
  // MistralConfig defaults to 8 key/value heads; the others to one per attention head.
  const h = heads(
    cfg,
    file,
    hiddenSize,
    "num_attention_heads",
    "num_key_value_heads",
    modelType === "mistral" ? 8 : undefined,
  );
  if (modelType !== "gemma" && cfg.head_dim === undefined && hiddenSize % h.numHeads !== 0) {
    throw new InputError(file, `hidden size ${hiddenSize} is not a multiple of ${h.numHeads} heads`, {
      field: "num_attention_heads",
    });
  }
  const maxPositions = int(cfg, "max_position_embeddings", file, { min: 1, fallback: 2048 });
  const common: Common = {
    hiddenSize,
    numLayers,
    ...h,
    intermediateSize: int(cfg, "intermediate_size", file, { min: 1 }),
    maxPositions,
    vocabSize: int(cfg, "vocab_size", file, { min: 1 }),
  };
  const isStarcoder = modelType === "starcoder2";
  const isGemma = modelType === "gemma";
  const act = isGemma
    ? // transformers 4 read Gemma's activation from hidden_activation (configs on the hub carry
      // hidden_act "gelu" beside it); transformers 5 configs only have hidden_act.
      activation(cfg, ["hidden_activation", "hidden_act"], file, "gelu_pytorch_tanh")
    : activation(cfg, ["hidden_act"], file, isStarcoder ? "gelu_pytorch_tanh" : "silu");
  const attentionBias =
    modelType === "qwen2"
      ? true
      : isStarcoder
        ? bool(cfg, "use_bias", file, true)
        : bool(cfg, "attention_bias", file, false);
  const bidirectional = isGemma && bool(cfg, "use_bidirectional_attention", file, false);
  const arch: BlockArchitecture = {
    numKvHeads: h.numKvHeads,
    headDim: h.headDim,
    norm: isStarcoder ? "layer" : isGemma ? "rms_one_plus" : "rms",
    normEps: isStarcoder
      ? float(cfg, "norm_epsilon", file, 1e-5)
      : float(cfg, "rms_norm_eps", file, modelType === "phi3" ? 1e-5 : 1e-6),
    qkvBias: attentionBias,
    // Qwen2's o_proj has no bias; Llama's attention_bias covers all four projections.
    outputBias: modelType === "qwen2" ? false : attentionBias,
    mlp: isStarcoder ? "plain" : "gated",
    mlpBias: isStarcoder ? bool(cfg, "use_bias", file, true) : bool(cfg, "mlp_bias", file, false),
    attentionScale: h.headDim ** -0.5,
    parallelResidual: false,
    positions: "rope",
    rope: parseRope(
      cfg,
      file,
      h.headDim,
      maxPositions,
      modelType === "phi3"
        ? // Phi3Config renames the old "su" and "yarn" types to longrope and defaults to 4,096 pre-training positions.
          {
            theta: 10000,
            partialRotaryFactor: 1,
            originalMaxPositions: 4096,
            aliases: { su: "longrope", yarn: "longrope" },
          }
        : { theta: 10000, partialRotaryFactor: 1 },
    ),
    relative: null,
    slidingWindows: slidingWindows(cfg, file, numLayers, modelType),
    embeddingScale: isGemma ? Math.fround(Math.sqrt(hiddenSize)) : null,
    tieWordEmbeddings: bool(cfg, "tie_word_embeddings", file, isGemma || isStarcoder),
  };
  return base(cfg, modelType, file, common, arch, {
    activation: act,
    causal: !bidirectional,
    bos: optionalTokenId(cfg, "bos_token_id", file, null),
    eos: optionalTokenId(cfg, "eos_token_id", file, null),
    pad: optionalTokenId(cfg, "pad_token_id", file, null),
  });
}

/** GPTBigCode (SantaCoder, StarCoder 1): GPT-2-like blocks with multi-query attention. */
function parseGptBigCode(cfg: Json, file: string): ModelConfig {
  refuseAttentionVariants(cfg, file);
  const hiddenSize = int(cfg, "n_embd", file, { min: 1 });
  const numHeads = int(cfg, "n_head", file, { min: 1 });
  if (hiddenSize % numHeads !== 0) {
    throw new InputError(file, `hidden size ${hiddenSize} is not a multiple of ${numHeads} heads`, {
      field: "n_head",
    });
  }
  const multiQuery = bool(cfg, "multi_query", file, true);
  const maxPositions = int(cfg, "n_positions", file, { min: 1, fallback: 1024 });
  const headDim = hiddenSize / numHeads;
  const nInner = optionalInt(cfg, "n_inner", file, null);
  const arch: BlockArchitecture = {
    numKvHeads: multiQuery ? 1 : numHeads,
    headDim,
    norm: "layer",
    normEps: float(cfg, "layer_norm_epsilon", file, 1e-5),
    qkvBias: true,
    outputBias: true,
    mlp: "plain",
    mlpBias: true,
    attentionScale: bool(cfg, "scale_attn_weights", file, true) ? headDim ** -0.5 : 1,
    parallelResidual: false,
    positions: "learned",
    rope: null,
    relative: null,
    slidingWindows: Array.from({ length: layerCount(cfg, "n_layer", file) }, () => null),
    embeddingScale: null,
    tieWordEmbeddings: bool(cfg, "tie_word_embeddings", file, true),
  };
  return base(
    cfg,
    "gpt_bigcode",
    file,
    {
      hiddenSize,
      numLayers: layerCount(cfg, "n_layer", file),
      numHeads,
      numKvHeads: arch.numKvHeads,
      headDim,
      intermediateSize: nInner ?? 4 * hiddenSize,
      maxPositions,
      vocabSize: int(cfg, "vocab_size", file, { min: 1 }),
    },
    arch,
    {
      activation: activation(cfg, ["activation_function"], file, "gelu_pytorch_tanh"),
      causal: true,
      bos: optionalTokenId(cfg, "bos_token_id", file, 50256),
      eos: optionalTokenId(cfg, "eos_token_id", file, 50256),
      pad: optionalTokenId(cfg, "pad_token_id", file, null),
    },
  );
}

/** GPT-NeoX (Pythia): partial rotary embeddings, fused per-head QKV, parallel residual. */
function parseGptNeox(cfg: Json, file: string): ModelConfig {
  refuseAttentionVariants(cfg, file);
  const hiddenSize = int(cfg, "hidden_size", file, { min: 1 });
  const numLayers = layerCount(cfg, "num_hidden_layers", file);
  const numHeads = int(cfg, "num_attention_heads", file, { min: 1 });
  if (hiddenSize % numHeads !== 0) {
    throw new InputError(file, `hidden size ${hiddenSize} is not a multiple of ${numHeads} heads`, {
      field: "num_attention_heads",
    });
  }
  const headDim = hiddenSize / numHeads;
  const maxPositions = int(cfg, "max_position_embeddings", file, { min: 1, fallback: 2048 });
  const attentionBias = bool(cfg, "attention_bias", file, true);
  const arch: BlockArchitecture = {
    numKvHeads: numHeads,
    headDim,
    norm: "layer",
    normEps: float(cfg, "layer_norm_eps", file, 1e-5),
    qkvBias: attentionBias,
    outputBias: attentionBias,
    mlp: "plain",
    mlpBias: true,
    attentionScale: headDim ** -0.5,
    parallelResidual: bool(cfg, "use_parallel_residual", file, true),
    positions: "rope",
    rope: parseRope(cfg, file, headDim, maxPositions, { theta: 10000, partialRotaryFactor: 0.25 }),
    relative: null,
    slidingWindows: Array.from({ length: numLayers }, () => null),
    embeddingScale: null,
    tieWordEmbeddings: bool(cfg, "tie_word_embeddings", file, false),
  };
  return base(
    cfg,
    "gpt_neox",
    file,
    {
      hiddenSize,
      numLayers,
      numHeads,
      numKvHeads: numHeads,
      headDim,
      intermediateSize: int(cfg, "intermediate_size", file, { min: 1 }),
      maxPositions,
      vocabSize: int(cfg, "vocab_size", file, { min: 1 }),
    },
    arch,
    {
      activation: activation(cfg, ["hidden_act"], file, "gelu"),
      causal: true,
      bos: optionalTokenId(cfg, "bos_token_id", file, 0),
      eos: optionalTokenId(cfg, "eos_token_id", file, 2),
      pad: optionalTokenId(cfg, "pad_token_id", file, null),
    },
  );
}

/** The T5 encoder (CodeT5, CodeT5+ encoders): relative position buckets, RMS layer norm, no score scale. */
function parseT5(cfg: Json, file: string): ModelConfig {
  const hiddenSize = int(cfg, "d_model", file, { min: 1 });
  const numLayers = layerCount(cfg, "num_layers", file);
  const numHeads = int(cfg, "num_heads", file, { min: 1 });
  const headDim = int(cfg, "d_kv", file, { min: 1 });
  // feed_forward_proj is "relu", "gelu", "gated-gelu", "gated-silu", …: T5Config's reading of it.
  const proj = optionalString(cfg, "feed_forward_proj", file) ?? "relu";
  const parts = proj.split("-");
  const gated = parts[0] === "gated";
  if (parts.length > 2 || (parts.length === 2 && !gated)) {
    throw new InputError(
      file,
      `'${proj}' is not a valid activation (expected 'gated-{ACT_FN}' or '{ACT_FN}')`,
      { field: "feed_forward_proj" },
    );
  }
  const actName = proj === "gated-gelu" ? "gelu_new" : parts[parts.length - 1];
  const act = activation({ feed_forward_proj: actName }, ["feed_forward_proj"], file, "relu");
  if (bool(cfg, "is_decoder", file, false)) {
    throw new InputError(
      file,
      "a T5 decoder config; codeneurons reads T5 encoders (is_decoder must be false)",
      {
        field: "is_decoder",
      },
    );
  }
  const arch: BlockArchitecture = {
    numKvHeads: numHeads,
    headDim,
    norm: "rms",
    normEps: float(cfg, "layer_norm_epsilon", file, 1e-6),
    qkvBias: false,
    outputBias: false,
    mlp: gated ? "gated" : "plain",
    mlpBias: false,
    // T5 folds the 1/√d scale into its initialisation: scores are not scaled.
    attentionScale: 1,
    parallelResidual: false,
    positions: "relative",
    rope: null,
    relative: {
      numBuckets: int(cfg, "relative_attention_num_buckets", file, { min: 2, fallback: 32 }),
      maxDistance: int(cfg, "relative_attention_max_distance", file, { min: 2, fallback: 128 }),
      bidirectional: true,
    },
    slidingWindows: Array.from({ length: numLayers }, () => null),
    embeddingScale: null,
    tieWordEmbeddings: bool(cfg, "tie_word_embeddings", file, true),
  };
  // Relative positions put no limit on the length; n_positions (512) is what T5 was trained with.
  const maxPositions = int(cfg, "n_positions", file, { min: 1, fallback: 512 });
  return base(
    cfg,
    "t5",
    file,
    {
      hiddenSize,
      numLayers,
      numHeads,
      numKvHeads: numHeads,
      headDim,
      intermediateSize: int(cfg, "d_ff", file, { min: 1 }),
      maxPositions,
      vocabSize: int(cfg, "vocab_size", file, { min: 1 }),
    },
    arch,
    {
      activation: act,
      causal: false,
      bos: optionalTokenId(cfg, "bos_token_id", file, null),
      eos: optionalTokenId(cfg, "eos_token_id", file, 1),
      pad: optionalTokenId(cfg, "pad_token_id", file, 0),
    },
  );
}
