import { InputError } from "../../util/errors.js";
import { float, type Json, oneOf, optionalObject, positiveFloat } from "./fields.js";

/**
 * Rotary position embedding settings, read from either config style:
 * - transformers 5: `rope_parameters: {rope_type, rope_theta, partial_rotary_factor, factor, …}`;
 * - transformers 4: top-level `rope_theta` and `rope_scaling: {type | rope_type, factor, …}` (or null),
 *   `partial_rotary_factor`; GPT-NeoX / Pythia: `rotary_pct`, `rotary_emb_base`; Phi-3:
 *   top-level `original_max_position_embeddings`.
 * The frequencies themselves are computed in arch/rope.ts, as transformers 5.17's
 * modeling_rope_utils computes them.
 */
export const ROPE_TYPES = ["default", "linear", "dynamic", "llama3", "yarn", "longrope"] as const;
export type RopeType = (typeof ROPE_TYPES)[number];

/** Names older configs use for the same types. */
const ROPE_ALIASES: Record<string, RopeType> = { su: "longrope", none: "default" };

export interface RopeSettings {
  readonly type: RopeType;
  readonly theta: number;
  /** Head dimensions that rotate: int(head_dim × partial_rotary_factor); the rest pass through. */
  readonly rotaryDim: number;
  /** config.max_position_embeddings (dynamic NTK and the longrope / yarn defaults use it). */
  readonly maxPositions: number;
  /** linear, dynamic, llama3, yarn, longrope. */
  readonly factor: number;
  /** llama3, yarn, longrope: the pre-extension context length. */
  readonly originalMaxPositions: number;
  /** llama3. */
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  /** yarn / longrope: scale of cos and sin (null: derived from the factor). */
  readonly attentionFactor: number | null;
  /** yarn. */
  readonly betaFast: number;
  readonly betaSlow: number;
  readonly mscale: number | null;
  readonly mscaleAllDim: number | null;
  readonly truncate: boolean;
  /** longrope: per-frequency divisors for sequences up to / beyond originalMaxPositions. */
  readonly shortFactor: readonly number[];
  readonly longFactor: readonly number[];
  /**
   * The precision of transformers' inv_freq buffer: the model is built in the checkpoint's dtype
   * (config `dtype`, or `torch_dtype` in transformers 4), which rounds that float32 buffer to bfloat16
   * or float16 — and the rounded frequencies stay when the model is then run in float32. Matching
   * transformers on a bf16 checkpoint needs the same rounding (the positions' angles drift otherwise).
   */
  readonly frequencyDType: "float32" | "bfloat16" | "float16";
}

export interface RopeDefaults {
  theta: number;
  /** Fraction of each head that rotates (GPT-NeoX 0.25, others 1). */
  partialRotaryFactor: number;
  /**
   * The config class's own original_max_position_embeddings when the file has none (Phi3Config: 4096);
   * null for classes without the attribute.
   */
  originalMaxPositions?: number | null;
  /** Old type names the family's config class renames (Phi3Config: "su" and "yarn" are longrope). */
  aliases?: Record<string, RopeType>;
}

/**
 * Reads the RoPE settings of `cfg`. `headDim` is the attention head size, `maxPositions` the config's
 * max_position_embeddings. Errors name the field and list the supported types.
 */
export function parseRope(
  cfg: Json,
  file: string,
  headDim: number,
  maxPositions: number,
  defaults: RopeDefaults,
): RopeSettings {
  const v5 = optionalObject(cfg, "rope_parameters", file);
  const v4 = optionalObject(cfg, "rope_scaling", file);
  if (v5 && isNestedByLayerType(v5)) {
    throw new InputError(
      file,
      `per-layer-type RoPE parameters (${Object.keys(v5).join(", ")}) are not supported by this model type`,
      { field: "rope_parameters" },
    );
  }
  // transformers 5 reads `rope_scaling or rope_parameters` (a transformers 4 rope_scaling wins), then
  // fills in rope_theta from the top level when the dict has none, and always overrides the partial
  // factor with a top-level one (RotaryEmbeddingConfigMixin.standardize_rope_params).
  const params: Json = v4 && Object.keys(v4).length > 0 ? v4 : (v5 ?? {});
  const where = v4 && Object.keys(v4).length > 0 ? "rope_scaling" : v5 ? "rope_parameters" : "rope_theta";
  const rawType = params.rope_type ?? params.type ?? "default";
  if (typeof rawType !== "string") {
    throw new InputError(file, `expected a string, got ${JSON.stringify(rawType)}`, {
      field: `${where}.rope_type`,
    });
  }
  const alias = defaults.aliases?.[rawType] ?? ROPE_ALIASES[rawType];
  const type = oneOf(alias ?? rawType, ROPE_TYPES, file, `${where}.rope_type`, "RoPE type");

  const theta =
    params.rope_theta !== undefined && params.rope_theta !== null
      ? positiveFloat(params, "rope_theta", `${file} (${where})`)
      : cfg.rope_theta !== undefined && cfg.rope_theta !== null
        ? positiveFloat(cfg, "rope_theta", file)
        : cfg.rotary_emb_base !== undefined
          ? positiveFloat(cfg, "rotary_emb_base", file)
          : defaults.theta;
  const partial =
    cfg.partial_rotary_factor !== undefined && cfg.partial_rotary_factor !== null
      ? positiveFloat(cfg, "partial_rotary_factor", file)
      : cfg.rotary_pct !== undefined
        ? positiveFloat(cfg, "rotary_pct", file)
        : params.partial_rotary_factor !== undefined && params.partial_rotary_factor !== null
          ? positiveFloat(params, "partial_rotary_factor", `${file} (${where})`)
          : defaults.partialRotaryFactor;
  if (partial > 1) {
    throw new InputError(file, `partial rotary factor ${partial} is above 1`, {
      field: "partial_rotary_factor",
    });
  }
  // int(head_dim * partial_rotary_factor), as transformers computes the rotary dimension.
  const rotaryDim = Math.floor(headDim * partial);
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
    throw new InputError(
      file,
      `rotary dimension ${rotaryDim} (head_dim ${headDim} × partial factor ${partial}) must be even and at least 2`,
      { field: "partial_rotary_factor" },
    );
  }
  const sub = `${file} (${where})`;
  const needs = (key: string) => {
    if (params[key] === undefined || params[key] === null) {
      throw new InputError(file, `RoPE type '${type}' needs ${key}`, { field: `${where}.${key}` });
    }
  };
  // For llama3, yarn and longrope, a top-level original_max_position_embeddings (Phi-3 always has one)
  // wins over the dict's; without either, max_position_embeddings.
  const scaled = type === "llama3" || type === "yarn" || type === "longrope";
  const topLevel = cfg.original_max_position_embeddings ?? defaults.originalMaxPositions ?? null;
  const original =
    scaled && topLevel !== null ? topLevel : (params.original_max_position_embeddings ?? maxPositions);
  // ≥ 2: longrope's attention factor divides by log(original) (transformers raises ZeroDivisionError).
  if (typeof original !== "number" || !Number.isSafeInteger(original) || original < 2) {
    throw new InputError(file, `expected an integer >= 2, got ${JSON.stringify(original)}`, {
      field: `${where}.original_max_position_embeddings`,
    });
  }
  if (type === "linear" || type === "dynamic" || type === "llama3") needs("factor");
  if (type === "llama3") {
    needs("low_freq_factor");
    needs("high_freq_factor");
    if (topLevel === null) needs("original_max_position_embeddings");
  }
  // yarn and longrope derive an absent (or null) factor from the two context lengths.
  const derived =
    (type === "yarn" || type === "longrope") && (params.factor === undefined || params.factor === null);
  const factor = derived ? maxPositions / original : positiveFloat(params, "factor", sub, 1);
  const shortFactor = type === "longrope" ? factorList(params, "short_factor", sub, rotaryDim) : [];
  const longFactor = type === "longrope" ? factorList(params, "long_factor", sub, rotaryDim) : [];
  const truncate = params.truncate ?? true;
  if (typeof truncate !== "boolean") {
    throw new InputError(file, "expected true or false", { field: `${where}.truncate` });
  }
  return {
    type,
    theta,
    rotaryDim,
    maxPositions,
    factor,
    originalMaxPositions: original,
    lowFreqFactor: float(params, "low_freq_factor", sub, 1),
    highFreqFactor: float(params, "high_freq_factor", sub, 4),
    attentionFactor: params.attention_factor == null ? null : positiveFloat(params, "attention_factor", sub),
    // `or 32` / `or 1` in transformers: 0 and null fall back to the defaults too.
    betaFast: float(params, "beta_fast", sub, 32) || 32,
    betaSlow: float(params, "beta_slow", sub, 1) || 1,
    mscale: params.mscale == null ? null : float(params, "mscale", sub, 0),
    mscaleAllDim: params.mscale_all_dim == null ? null : float(params, "mscale_all_dim", sub, 0),
    truncate,
    shortFactor,
    longFactor,
    frequencyDType: checkpointDType(cfg),
  };
}

function checkpointDType(cfg: Json): RopeSettings["frequencyDType"] {
  const v = cfg.dtype ?? cfg.torch_dtype;
  return v === "bfloat16" || v === "float16" ? v : "float32";
}

/** rope_parameters keyed by layer type ({"full_attention": {...}, "sliding_attention": {...}}). */
function isNestedByLayerType(p: Json): boolean {
  const values = Object.values(p);
  return values.length > 0 && values.every((v) => typeof v === "object" && v !== null && !Array.isArray(v));
}

function factorList(params: Json, key: string, file: string, rotaryDim: number): number[] {
  const v = params[key];
  if (!Array.isArray(v) || v.length !== rotaryDim / 2 || !v.every((x) => typeof x === "number" && x > 0)) {
    throw new InputError(file, `expected ${rotaryDim / 2} positive numbers (one per rotary frequency)`, {
      field: key,
    });
  }
  return v as number[];
}
