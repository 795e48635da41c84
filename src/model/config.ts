import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError, UserError } from "../util/errors.js";

/**
 * config.json of a Hugging Face checkpoint, reduced to what the forward pass needs. Field names and
 * defaults follow transformers' BertConfig, RobertaConfig and GPT2Config: a field that transformers
 * fills with a default may be absent here too, except the ones that fix tensor shapes (hidden size,
 * layers, heads, vocabulary), which every real checkpoint states and which we refuse to guess.
 */
export const SUPPORTED_MODEL_TYPES = ["bert", "roberta", "gpt2"] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** The activation functions, by the names transformers' ACT2FN uses, mapped to the formula they compute. */
const ACTIVATIONS = {
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

export interface ModelConfig {
  readonly modelType: ModelType;
  /** `architectures` as written (e.g. ["RobertaForMaskedLM"]); informational. */
  readonly architectures: readonly string[];
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headSize: number;
  /** Width of the feed-forward layer (GPT-2: n_inner, or 4 × n_embd when null). */
  readonly intermediateSize: number;
  /** Rows of the position-embedding table. */
  readonly maxPositions: number;
  /** Position id of the first token: RoBERTa's padding_idx + 1, otherwise 0. */
  readonly positionOffset: number;
  /** Longest input one forward pass accepts: maxPositions − positionOffset. */
  readonly maxSequenceLength: number;
  readonly vocabSize: number;
  /** Rows of the token-type table (BERT 2, RoBERTa 1, UniXcoder 10); 0 when the model has none (GPT-2). */
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly activation: ActivationName;
  readonly activationKind: ActivationKind;
  readonly padTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Each token attends only to itself and earlier tokens (GPT-2; BERT/RoBERTa with is_decoder). */
  readonly causal: boolean;
  /** GPT-2: divide attention scores by sqrt(head size) (scale_attn_weights, default true). */
  readonly scaleAttnWeights: boolean;
  /** GPT-2: also divide attention scores of block i (0-based) by i + 1. */
  readonly scaleAttnByInverseLayerIdx: boolean;
  /** The file the config came from (for error messages). */
  readonly source: string;
}

type Json = Record<string, unknown>;

/** Reads `<dir>/config.json`. */
export function readModelConfig(dir: string): ModelConfig {
  const file = join(dir, "config.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read the model config (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not valid JSON (${(e as Error).message})`);
  }
  return parseModelConfig(json, file);
}

/** Parses the JSON object of a config.json; `file` names it in errors. */
export function parseModelConfig(json: unknown, file = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(file, "expected a JSON object");
  }
  const cfg = json as Json;
  const modelType = resolveModelType(cfg, file);
  checkPositionEmbeddingType(cfg, file);
  return modelType === "gpt2" ? parseGpt2(cfg, file) : parseBertLike(cfg, modelType, file);
}

function resolveModelType(cfg: Json, file: string): ModelType {
  const supported = SUPPORTED_MODEL_TYPES.join(", ");
  const raw = cfg.model_type;
  if (raw === undefined) {
    // Very old configs carry no model_type; transformers then guesses from the architecture name.
    const arch = stringList(cfg, "architectures", file)[0] ?? "";
    const guess = SUPPORTED_MODEL_TYPES.find((t) => arch.toLowerCase().startsWith(t));
    if (guess) return guess;
    throw new InputError(file, `no model_type (supported: ${supported})`, { field: "model_type" });
  }
  if (typeof raw !== "string") throw new InputError(file, "must be a string", { field: "model_type" });
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(raw)) {
    throw new UserError(`${file}: unsupported model_type '${raw}' (supported: ${supported})`);
  }
  return raw as ModelType;
}

function checkPositionEmbeddingType(cfg: Json, file: string): void {
  const t = cfg.position_embedding_type;
  if (t === undefined || t === null || t === "absolute") return;
  throw new UserError(
    `${file}: position_embedding_type '${String(t)}' is not supported (only 'absolute' position embeddings)`,
  );
}

function parseBertLike(cfg: Json, modelType: "bert" | "roberta", file: string): ModelConfig {
  const hiddenSize = int(cfg, "hidden_size", file, { min: 1 });
  const numHeads = int(cfg, "num_attention_heads", file, { min: 1 });
  const padTokenId = optionalInt(cfg, "pad_token_id", file, modelType === "roberta" ? 1 : 0);
  // RoBERTa numbers positions from padding_idx + 1 (fairseq's convention), so the table has that many
  // extra rows: 514 rows give 512 usable positions, UniXcoder's 1026 give 1024.
  const positionOffset = modelType === "roberta" ? (padTokenId ?? 1) + 1 : 0;
  const maxPositions = int(cfg, "max_position_embeddings", file, { min: positionOffset + 1, fallback: 512 });
  const activation = activationName(cfg, "hidden_act", file, "gelu");
  return {
    modelType,
    architectures: stringList(cfg, "architectures", file),
    hiddenSize,
    numLayers: int(cfg, "num_hidden_layers", file, { min: 1 }),
    numHeads,
    headSize: headSize(hiddenSize, numHeads, file, "num_attention_heads"),
    intermediateSize: int(cfg, "intermediate_size", file, { min: 1 }),
    maxPositions,
    positionOffset,
    maxSequenceLength: maxPositions - positionOffset,
    vocabSize: int(cfg, "vocab_size", file, { min: 1 }),
    typeVocabSize: int(cfg, "type_vocab_size", file, { min: 1, fallback: 2 }),
    layerNormEps: float(cfg, "layer_norm_eps", file, 1e-12),
    activation,
    activationKind: ACTIVATIONS[activation],
    padTokenId,
    bosTokenId: optionalInt(cfg, "bos_token_id", file, modelType === "roberta" ? 0 : null),
    eosTokenId: optionalInt(cfg, "eos_token_id", file, modelType === "roberta" ? 2 : null),
    causal: bool(cfg, "is_decoder", file, false),
    scaleAttnWeights: true,
    scaleAttnByInverseLayerIdx: false,
    source: file,
  };
}

function parseGpt2(cfg: Json, file: string): ModelConfig {
  const hiddenSize = int(cfg, "n_embd", file, { min: 1 });
  const numHeads = int(cfg, "n_head", file, { min: 1 });
  const nInner = optionalInt(cfg, "n_inner", file, null);
  // n_positions sizes the position table; configs from before transformers 2.x only have n_ctx.
  const maxPositions =
    cfg.n_positions !== undefined
      ? int(cfg, "n_positions", file, { min: 1 })
      : int(cfg, "n_ctx", file, { min: 1, fallback: 1024 });
  const activation = activationName(cfg, "activation_function", file, "gelu_new");
  return {
    modelType: "gpt2",
    architectures: stringList(cfg, "architectures", file),
    hiddenSize,
    numLayers: int(cfg, "n_layer", file, { min: 1 }),
    numHeads,
    headSize: headSize(hiddenSize, numHeads, file, "n_head"),
    intermediateSize: nInner ?? 4 * hiddenSize,
    maxPositions,
    positionOffset: 0,
    maxSequenceLength: maxPositions,
    vocabSize: int(cfg, "vocab_size", file, { min: 1 }),
    typeVocabSize: 0,
    layerNormEps: float(cfg, "layer_norm_epsilon", file, 1e-5),
    activation,
    activationKind: ACTIVATIONS[activation],
    padTokenId: optionalInt(cfg, "pad_token_id", file, null),
    bosTokenId: optionalInt(cfg, "bos_token_id", file, 50256),
    eosTokenId: optionalInt(cfg, "eos_token_id", file, 50256),
    causal: true,
    scaleAttnWeights: bool(cfg, "scale_attn_weights", file, true),
    scaleAttnByInverseLayerIdx: bool(cfg, "scale_attn_by_inverse_layer_idx", file, false),
    source: file,
  };
}

function headSize(hidden: number, heads: number, file: string, field: string): number {
  if (hidden % heads !== 0) {
    throw new InputError(file, `hidden size ${hidden} is not a multiple of ${heads} heads`, { field });
  }
  return hidden / heads;
}

function int(cfg: Json, key: string, file: string, opts: { min: number; fallback?: number }): number {
  const v = cfg[key];
  if (v === undefined && opts.fallback !== undefined) return opts.fallback;
  if (v === undefined) throw new InputError(file, "missing", { field: key });
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new InputError(file, `expected an integer, got ${JSON.stringify(v)}`, { field: key });
  }
  if (v < opts.min)
    throw new InputError(file, `expected an integer >= ${opts.min}, got ${v}`, { field: key });
  return v;
}

function optionalInt(cfg: Json, key: string, file: string, fallback: number | null): number | null {
  const v = cfg[key];
  if (v === undefined) return fallback;
  if (v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InputError(file, `expected a non-negative integer or null, got ${JSON.stringify(v)}`, {
      field: key,
    });
  }
  return v;
}

function float(cfg: Json, key: string, file: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new InputError(file, `expected a non-negative number, got ${JSON.stringify(v)}`, { field: key });
  }
  return v;
}

function bool(cfg: Json, key: string, file: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new InputError(file, `expected true or false`, { field: key });
  return v;
}

function stringList(cfg: Json, key: string, file: string): string[] {
  const v = cfg[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw new InputError(file, "expected a list of strings", { field: key });
  }
  return v as string[];
}

function activationName(cfg: Json, key: string, file: string, fallback: ActivationName): ActivationName {
  const v = cfg[key] ?? fallback;
  if (typeof v !== "string" || !(v in ACTIVATIONS)) {
    throw new InputError(
      file,
      `unsupported activation ${JSON.stringify(v)} (supported: ${Object.keys(ACTIVATIONS).join(", ")})`,
      { field: key },
    );
  }
  return v as ActivationName;
}
