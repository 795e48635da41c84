import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError, UserError } from "../util/errors.js";
import { parseBlockModel } from "./config/families.js";
import { bool, float, int, type Json, optionalInt, stringList } from "./config/fields.js";
import {
  ACTIVATIONS,
  type ActivationName,
  BLOCK_MODEL_TYPES,
  type BlockModelType,
  type ClassicModelType,
  type ModelConfig,
  type ModelType,
  SUPPORTED_MODEL_TYPES,
} from "./config/types.js";

export type { RopeSettings, RopeType } from "./config/rope.js";
export { ROPE_TYPES } from "./config/rope.js";
/**
 * config.json of a Hugging Face checkpoint, reduced to what the forward pass needs. Field names and
 * defaults follow transformers' config classes: a field that transformers fills with a default may be
 * absent here too, except the ones that fix tensor shapes (hidden size, layers, heads, vocabulary),
 * which every real checkpoint states and which we refuse to guess. BERT, RoBERTa and GPT-2 are read
 * here; the block-streamed families (Llama, Mistral, Qwen2, StarCoder2, Gemma, Phi-3, GPTBigCode,
 * GPT-NeoX, T5) in config/families.ts.
 */
export * from "./config/types.js";

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
  if ((BLOCK_MODEL_TYPES as readonly string[]).includes(modelType)) {
    return parseBlockModel(cfg, modelType as BlockModelType, file);
  }
  checkPositionEmbeddingType(cfg, file);
  return modelType === "gpt2"
    ? parseGpt2(cfg, file)
    : parseBertLike(cfg, modelType as "bert" | "roberta", file);
}

function resolveModelType(cfg: Json, file: string): ModelType {
  const supported = SUPPORTED_MODEL_TYPES.join(", ");
  const raw = cfg.model_type;
  if (raw === undefined) {
    // Very old configs carry no model_type; transformers then guesses from the architecture name.
    const arch = stringList(cfg, "architectures", file)[0] ?? "";
    const guess = (["bert", "roberta", "gpt2"] as ClassicModelType[]).find((t) =>
      arch.toLowerCase().startsWith(t),
    );
    if (guess) return guess;
    throw new InputError(file, `no model_type (supported: ${supported})`, { field: "model_type" });
  }
  if (typeof raw !== "string") throw new InputError(file, "must be a string", { field: "model_type" });
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(raw)) {
    throw new UserError(
      `${file} (field 'model_type'): unsupported model_type '${raw}' (supported: ${supported})`,
    );
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
    blocks: null,
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
    blocks: null,
    source: file,
  };
}

function headSize(hidden: number, heads: number, file: string, field: string): number {
  if (hidden % heads !== 0) {
    throw new InputError(file, `hidden size ${hidden} is not a multiple of ${heads} heads`, { field });
  }
  return hidden / heads;
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
