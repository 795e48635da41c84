import { attr, type GraphBuilder } from "../../onnx/graph.js";
import type { Site } from "../../util/neurons.js";
import type { ActivationKind, ModelConfig } from "../config.js";

/**
 * Building blocks of transformer graphs. Attention and the feed-forward activation come in two forms:
 * standard ONNX (opset 17) and, when `fused`, onnxruntime's CPU/CUDA contrib ops (domain com.microsoft:
 * Attention, BiasGelu, FastGelu), which do the same maths in fewer passes over memory. Both forms are
 * tested against the PyTorch reference.
 */
export const MS = "com.microsoft";

export interface Ctx {
  g: GraphBuilder;
  fused: boolean;
  eps: number;
}

/**
 * An intervention point (model/intervention.ts): inputs edit_{site}_{layer}_scale / _value [width]
 * (float32) and _replace [width] (bool); returns replace ? value : x × scale. Scale 1 without
 * replacement passes x through bit for bit.
 */
export function editPoint(
  g: GraphBuilder,
  x: string,
  site: "hidden" | "mlp",
  layer: number,
  width: number,
): string {
  const name = editInputName(site, layer);
  const scale = g.input(`${name}_scale`, "float32", [width]);
  const value = g.input(`${name}_value`, "float32", [width]);
  const replace = g.input(`${name}_replace`, "bool", [width]);
  return g.op1("Where", [replace, value, g.op1("Mul", [x, scale])]);
}

export function editInputName(site: Site, layer: number): string {
  return `edit_${site}_${layer}`;
}

/**
 * The position_ids input, or (GraphPlan.derivedInputs) the same ids computed from input_ids as the
 * runner's positionIds does: RoBERTa numbers non-padding tokens from padding_idx + 1 and gives padding
 * tokens padding_idx; BERT and GPT-2 count 0 … S − 1.
 */
export function positionIdsOf(g: GraphBuilder, cfg: ModelConfig, ids: string, derived: boolean): string {
  if (!derived) return g.input("position_ids", "int64", ["batch", "sequence"]);
  if (cfg.modelType === "roberta") {
    const pad = g.scalar(cfg.padTokenId ?? 1, "int64");
    const real = g.op1("Cast", [g.op1("Not", [g.op1("Equal", [ids, pad])])], { to: 7 });
    const count = g.op1("CumSum", [real, g.scalar(1, "int64")]);
    return g.op1("Add", [g.op1("Mul", [count, real]), pad]);
  }
  // 0 … S − 1 as a running count of ones, not Shape → Range → Expand: onnxruntime's EmbedLayerNorm
  // fusion matches that pattern and produced a graph it could not load (GPT-2, onnxruntime 1.30).
  const ones = g.op1("Add", [g.op1("Mul", [ids, g.scalar(0, "int64")]), g.scalar(1, "int64")]);
  return g.op1("Sub", [g.op1("CumSum", [ones, g.scalar(1, "int64")]), g.scalar(1, "int64")]);
}

/** A float32 initializer. */
export function param(g: GraphBuilder, name: string, data: Float32Array, dims: readonly number[]): string {
  return g.initializer(name, { dtype: "float32", dims, data });
}

/** x · W + b with W stored [in, out]. */
export function linear(g: GraphBuilder, x: string, w: string, b: string): string {
  return g.op1("Add", [g.op1("MatMul", [x, w]), b]);
}

export function layerNorm(ctx: Ctx, x: string, gamma: string, beta: string): string {
  return ctx.g.op1("LayerNormalization", [x, gamma, beta], { axis: -1, epsilon: attr.float(ctx.eps) });
}

/**
 * LayerNorm(x + skip + bias), and the sum itself (the residual stream). Always standard Add +
 * LayerNormalization: onnxruntime's contrib SkipLayerNormalization does the same in one node but its
 * CPU kernel (1.30) was several times slower than the two Adds and LayerNormalization on [32, 32, 768]
 * (bench/RESULTS.md, "Design choices"), so the runner also turns off the fusion that would create it.
 */
export function addLayerNorm(
  ctx: Ctx,
  x: string,
  skip: string,
  bias: string | null,
  gamma: string,
  beta: string,
): { normed: string; sum: string } {
  const { g } = ctx;
  const sum = g.op1("Add", [bias ? g.op1("Add", [x, bias]) : x, skip]);
  return { normed: layerNorm(ctx, sum, gamma, beta), sum };
}

/** activation(h + bias), as transformers' ACT2FN computes it. */
export function biasActivation(ctx: Ctx, h: string, bias: string, kind: ActivationKind): string {
  const { g } = ctx;
  if (ctx.fused && kind === "gelu_erf") return g.op("BiasGelu", [h, bias], {}, { domain: MS })[0];
  if (ctx.fused && kind === "gelu_tanh") return g.op("FastGelu", [h, bias], {}, { domain: MS })[0];
  return activate(g, g.op1("Add", [h, bias]), kind);
}

/** activation(x) in standard ONNX ops, by the formula transformers' ACT2FN uses. */
export function activate(g: GraphBuilder, x: string, kind: ActivationKind): string {
  const f = (v: number) => g.scalar(v);
  switch (kind) {
    case "gelu_erf": {
      // 0.5 · x · (1 + erf(x / √2))
      const erf = g.op1("Erf", [g.op1("Div", [x, f(Math.SQRT2)])]);
      return g.op1("Mul", [g.op1("Mul", [x, f(0.5)]), g.op1("Add", [erf, f(1)])]);
    }
    case "gelu_tanh": {
      // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
      const cube = g.op1("Mul", [g.op1("Mul", [x, x]), x]);
      const inner = g.op1("Add", [x, g.op1("Mul", [cube, f(0.044715)])]);
      const t = g.op1("Tanh", [g.op1("Mul", [inner, f(Math.sqrt(2 / Math.PI))])]);
      return g.op1("Mul", [g.op1("Mul", [x, f(0.5)]), g.op1("Add", [t, f(1)])]);
    }
    case "quick_gelu":
      return g.op1("Mul", [x, g.op1("Sigmoid", [g.op1("Mul", [x, f(1.702)])])]);
    case "relu":
      return g.op1("Relu", [x]);
    case "silu":
      return g.op1("Mul", [x, g.op1("Sigmoid", [x])]);
  }
}

/** The attention mask in the form each attention variant consumes; built once per graph. */
export interface MaskInfo {
  /** Standard: additive float mask, [B,1,1,S] (or [B,1,S,S] when causal). Fused: int32 [B,S]. */
  value: string;
  causal: boolean;
}

/** finfo(float32).min, what transformers adds to masked scores. */
const MASKED = -3.4028234663852886e38;

export function prepareMask(ctx: Ctx, attentionMask: string, causal: boolean): MaskInfo {
  const { g } = ctx;
  if (ctx.fused) return { value: g.op1("Cast", [attentionMask], { to: 6 }), causal };
  const keep = g.op1("Cast", [attentionMask], { to: 1 });
  const additive = g.op1("Mul", [g.op1("Sub", [g.scalar(1), keep]), g.scalar(MASKED)]);
  const padding = g.op1("Unsqueeze", [additive, g.int64s([1, 2])]);
  if (!causal) return { value: padding, causal };
  // Lower-triangular [S,S]: key j visible from query i when j <= i. Min (not a sum) of the two masks
  // keeps masked scores at finfo.min instead of overflowing to -inf.
  const seq = g.op1("Gather", [g.op1("Shape", [attentionMask]), g.int64s([1])]);
  const steps = g.op1("Range", [g.scalar(0, "int64"), g.op1("Squeeze", [seq]), g.scalar(1, "int64")]);
  const rows = g.op1("Unsqueeze", [steps, g.int64s([1])]);
  const cols = g.op1("Unsqueeze", [steps, g.int64s([0])]);
  const visible = g.op1("GreaterOrEqual", [rows, cols]);
  const tri = g.op1("Where", [visible, g.scalar(0), g.scalar(MASKED)]);
  return { value: g.op1("Min", [padding, tri]), causal };
}

export interface AttentionParams {
  /** Packed [H, 3H] (Q | K | V columns), Q already multiplied by the score scale in the standard form. */
  qkvWeight: string;
  qkvBias: string;
  heads: number;
  headSize: number;
  /** Score scale for the fused op (the standard form has it folded into Q). */
  scale: number;
}

/** Multi-head self-attention of x [B,S,H] → context [B,S,H], before the output projection. */
export function selfAttention(ctx: Ctx, x: string, p: AttentionParams, mask: MaskInfo): string {
  const { g } = ctx;
  if (ctx.fused) {
    const attrs = { num_heads: p.heads, unidirectional: mask.causal ? 1 : 0, scale: attr.float(p.scale) };
    return g.op("Attention", [x, p.qkvWeight, p.qkvBias, mask.value], attrs, { domain: MS })[0];
  }
  const qkv = linear(g, x, p.qkvWeight, p.qkvBias);
  const hidden = p.heads * p.headSize;
  const [q, k, v] = g.op("Split", [qkv, g.int64s([hidden, hidden, hidden])], { axis: 2 }, { outputs: 3 });
  const heads = (t: string, perm: number[]) =>
    g.op1("Transpose", [g.op1("Reshape", [t, g.int64s([0, 0, p.heads, p.headSize])])], { perm });
  const scores = g.op1("MatMul", [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]);
  const probs = g.op1("Softmax", [g.op1("Add", [scores, mask.value])], { axis: -1 });
  const context = g.op1("MatMul", [probs, heads(v, [0, 2, 1, 3])]);
  const merged = g.op1("Transpose", [context], { perm: [0, 2, 1, 3] });
  return g.op1("Reshape", [merged, g.int64s([0, 0, hidden])]);
}
