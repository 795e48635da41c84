import { attr, type GraphBuilder } from "../../onnx/graph.js";
import type { ActivationKind, BlockArchitecture, ModelConfig } from "../config.js";
import { activate } from "./ops.js";

/**
 * One transformer block of the block-streamed families as an ONNX graph whose weights are graph
 * inputs, not initializers: the same session runs every block of a model, the weights of the block
 * at hand are fed with each run, and a model is never held whole — only the block that runs
 * (layer-by-layer extraction, arch/README in block-runner.ts).
 *
 * Inputs (float32; N = batch × sequence tokens, flattened):
 *   x [N, H]                 the residual stream entering the block
 *   mask [B, 1, S, S]        additive attention mask (padding, causality, sliding window; 0 or finfo.min)
 *   position_bias [1, nH, S, S]   T5 only: the relative position bias of block 0, shared by all blocks
 *   cos, sin [N, rotary]     RoPE families only (arch/rope.ts)
 *   weights, in nn.Linear's [out, in] layout (multiplied with Gemm transB = 1, so never transposed):
 *     ln1, ln1_bias?, qkv [(nH + 2·nKV)·d, H], qkv_bias?, o [H, nH·d], o_bias?, ln2, ln2_bias?,
 *     up [2I, H] (gate rows, then up rows) or [I, H], up_bias?, down [H, I], down_bias?
 * Outputs: out [N, H] (the residual stream after the block) and, in the variant that has it,
 * mlp [N, I]: the MLP neurons (the input of the down projection, act(gate) · up when gated).
 */
export const BLOCK_WEIGHTS = [
  "ln1",
  "ln1_bias",
  "qkv",
  "qkv_bias",
  "o",
  "o_bias",
  "ln2",
  "ln2_bias",
  "up",
  "up_bias",
  "down",
  "down_bias",
] as const;
export type BlockWeightName = (typeof BLOCK_WEIGHTS)[number];

/** Shape of each weight input of a block of `cfg`, or null when the architecture has no such tensor. */
export function blockWeightShapes(cfg: ModelConfig): Record<BlockWeightName, number[] | null> {
  const b = cfg.blocks as BlockArchitecture;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const qkvRows = (cfg.numHeads + 2 * b.numKvHeads) * b.headDim;
  const upRows = b.mlp === "gated" ? 2 * I : I;
  const layerBias = b.norm === "layer";
  return {
    ln1: [H],
    ln1_bias: layerBias ? [H] : null,
    qkv: [qkvRows, H],
    qkv_bias: b.qkvBias ? [qkvRows] : null,
    o: [H, cfg.numHeads * b.headDim],
    o_bias: b.outputBias ? [H] : null,
    ln2: [H],
    ln2_bias: layerBias ? [H] : null,
    up: [upRows, H],
    up_bias: b.mlpBias ? [upRows] : null,
    down: [H, I],
    down_bias: b.mlpBias ? [H] : null,
  };
}

/**
 * The block graph; `withMlp` adds the MLP neurons as a second output; `mlpEdit` adds the inputs
 * mlp_scale, mlp_value [I] (float32) and mlp_replace [I] (bool) that change the MLP neurons before the
 * down projection — neurons' = replace ? value : neurons × scale (model/intervention.ts) — so every later
 * computation sees the change; scale 1 and no replacement leave the neurons bit-identical.
 */
export function buildBlockGraph(g: GraphBuilder, cfg: ModelConfig, withMlp: boolean, mlpEdit = false): void {
  const b = cfg.blocks as BlockArchitecture;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const x = g.input("x", "float32", ["tokens", H]);
  const mask = g.input("mask", "float32", ["batch", 1, "sequence", "sequence"]);
  const positionBias =
    b.positions === "relative"
      ? g.input("position_bias", "float32", [1, cfg.numHeads, "sequence", "sequence"])
      : null;
  const rot = b.rope?.rotaryDim ?? 0;
  const cos = b.positions === "rope" ? g.input("cos", "float32", ["tokens", rot]) : null;
  const sin = b.positions === "rope" ? g.input("sin", "float32", ["tokens", rot]) : null;
  const weights: Partial<Record<BlockWeightName, string>> = {};
  for (const [name, shape] of Object.entries(blockWeightShapes(cfg))) {
    if (shape) weights[name as BlockWeightName] = g.input(name, "float32", shape);
  }
  const edit = mlpEdit
    ? {
        scale: g.input("mlp_scale", "float32", [I]),
        value: g.input("mlp_value", "float32", [I]),
        replace: g.input("mlp_replace", "bool", [I]),
      }
    : null;
  const { out, mlp } = blockNodes(g, cfg, { x, mask, positionBias, cos, sin, weights, edit });
  g.op("Identity", [out], {}, { outputs: ["out"] });
  g.output("out", "float32", ["tokens", H]);
  if (withMlp) {
    g.op("Identity", [mlp], {}, { outputs: ["mlp"] });
    g.output("mlp", "float32", ["tokens", I]);
  }
}

/** The values a block reads: block.ts's inputs, whether graph inputs (one session for every block) or values of a larger graph. */
export interface BlockValues {
  x: string;
  mask: string;
  positionBias: string | null;
  cos: string | null;
  sin: string | null;
  weights: Partial<Record<BlockWeightName, string>>;
  edit: { scale: string; value: string; replace: string } | null;
}

/**
 * A block's nodes in `g` on the given values: `out` [N, H] (the residual stream after the block) and
 * `mlp` [N, I] (the MLP neurons). buildBlockGraph makes them a graph of their own; a standalone model
 * of several blocks (arch/block-stack.ts) chains them.
 */
export function blockNodes(g: GraphBuilder, cfg: ModelConfig, v: BlockValues): { out: string; mlp: string } {
  const b = cfg.blocks as BlockArchitecture;
  const I = cfg.intermediateSize;
  const { x, weights: w } = v;
  const norm = (value: string, weight: string, bias: string | undefined) =>
    normalize(g, b, value, weight, bias);
  const attnIn = norm(x, w.ln1!, w.ln1_bias);
  const attn = attention(g, cfg, b, attnIn, v.mask, v.positionBias, v.cos, v.sin, w);
  let out: string;
  let mlp: { neurons: string; out: string };
  if (b.parallelResidual) {
    // GPT-NeoX: mlp_output + attn_output + hidden_states, summed in that order.
    mlp = feedForward(g, b, cfg.activationKind, norm(x, w.ln2!, w.ln2_bias), w, I, v.edit);
    out = g.op1("Add", [g.op1("Add", [mlp.out, attn]), x]);
  } else {
    const mid = g.op1("Add", [x, attn]);
    mlp = feedForward(g, b, cfg.activationKind, norm(mid, w.ln2!, w.ln2_bias), w, I, v.edit);
    out = g.op1("Add", [mid, mlp.out]);
  }
  return { out, mlp: mlp.neurons };
}

/** The model's final norm (applied to the last hidden state, as transformers returns it). */
export function buildFinalNormGraph(g: GraphBuilder, cfg: ModelConfig): void {
  const b = cfg.blocks as BlockArchitecture;
  const H = cfg.hiddenSize;
  const x = g.input("x", "float32", ["tokens", H]);
  const weight = g.input("norm", "float32", [H]);
  const bias = b.norm === "layer" ? g.input("norm_bias", "float32", [H]) : undefined;
  g.op("Identity", [normalize(g, b, x, weight, bias)], {}, { outputs: ["out"] });
  g.output("out", "float32", ["tokens", H]);
}

/**
 * LayerNorm, or RMSNorm as transformers computes it in float32: x · rsqrt(mean(x²) + eps) · w. Gemma's
 * (1 + w) is folded into the weight when it is read (arch/block-weights.ts).
 */
export function normalize(
  g: GraphBuilder,
  b: BlockArchitecture,
  x: string,
  weight: string,
  bias?: string,
): string {
  if (b.norm === "layer") {
    return g.op1("LayerNormalization", [x, weight, bias!], { axis: -1, epsilon: attr.float(b.normEps) });
  }
  const meanSquare = g.op1("ReduceMean", [g.op1("Mul", [x, x])], { axes: [-1], keepdims: 1 });
  const inv = g.op1("Reciprocal", [g.op1("Sqrt", [g.op1("Add", [meanSquare, g.scalar(b.normEps)])])]);
  return g.op1("Mul", [weight, g.op1("Mul", [x, inv])]);
}

/** x · Wᵀ (+ bias) for W stored [out, in]. */
function linear(g: GraphBuilder, x: string, weight: string, bias: string | undefined): string {
  return g.op1("Gemm", bias ? [x, weight, bias] : [x, weight], { transB: 1 });
}

function attention(
  g: GraphBuilder,
  cfg: ModelConfig,
  b: BlockArchitecture,
  x: string,
  mask: string,
  positionBias: string | null,
  cos: string | null,
  sin: string | null,
  w: Partial<Record<BlockWeightName, string>>,
): string {
  const nH = cfg.numHeads;
  const kv = b.numKvHeads;
  const d = b.headDim;
  const rep = nH / kv;
  const qkv = linear(g, x, w.qkv!, w.qkv_bias);
  const [q, k, v] = g.op("Split", [qkv, g.int64s([nH * d, kv * d, kv * d])], { axis: 1 }, { outputs: 3 });
  // S from the mask's shape; the batch dimension is left to Reshape (-1).
  const seq = g.op1("Slice", [g.op1("Shape", [mask]), g.int64s([2]), g.int64s([3])]);
  const shape = (...dims: (number | string)[]) =>
    g.op1(
      "Concat",
      dims.map((dim) => (typeof dim === "string" ? dim : g.int64s([dim]))),
      { axis: 0 },
    );
  const heads = (t: string, n: number) => g.op1("Reshape", [t, shape(-1, seq, n, d)]);
  let q4 = heads(q, nH);
  let k4 = heads(k, kv);
  if (cos && sin) {
    const rot = b.rope!.rotaryDim;
    const c = g.op1("Reshape", [cos, shape(-1, seq, 1, rot)]);
    const s = g.op1("Reshape", [sin, shape(-1, seq, 1, rot)]);
    q4 = rotate(g, q4, c, s, rot, d);
    k4 = rotate(g, k4, c, s, rot, d);
  }
  const qT = g.op1("Transpose", [q4], { perm: [0, 2, 1, 3] }); // [B, nH, S, d]
  const kT = g.op1("Transpose", [k4], { perm: [0, 2, 3, 1] }); // [B, kv, d, S]
  const vT = g.op1("Transpose", [heads(v, kv)], { perm: [0, 2, 1, 3] }); // [B, kv, S, d]
  // Grouped-query attention without copying K and V: the rep query heads that share a key/value head
  // are consecutive (transformers' repeat_kv), so [B, nH, S, d] reads as [B, kv, rep·S, d].
  const repSeq = rep === 1 ? seq : g.op1("Mul", [seq, g.int64s([rep])]);
  const grouped = (t: string, last: string | number) =>
    rep === 1 ? t : g.op1("Reshape", [t, shape(-1, kv, repSeq, last)]);
  let scores = g.op1("MatMul", [grouped(qT, d), kT]);
  if (rep !== 1) scores = g.op1("Reshape", [scores, shape(-1, nH, seq, seq)]);
  if (b.attentionScale !== 1) scores = g.op1("Mul", [scores, g.scalar(b.attentionScale)]);
  // T5 adds (position_bias + mask) in one go, the others the mask.
  const bias = positionBias ? g.op1("Add", [positionBias, mask]) : mask;
  const probs = g.op1("Softmax", [g.op1("Add", [scores, bias])], { axis: -1 });
  let context = g.op1("MatMul", [grouped(probs, seq), vT]);
  if (rep !== 1) context = g.op1("Reshape", [context, shape(-1, nH, seq, d)]);
  const merged = g.op1("Transpose", [context], { perm: [0, 2, 1, 3] });
  const flat = g.op1("Reshape", [merged, g.int64s([-1, nH * d])]);
  return linear(g, flat, w.o!, w.o_bias);
}

/**
 * RoPE on [B, S, heads, d]: the first `rot` dimensions become x·cos + rotate_half(x)·sin, with
 * rotate_half(x) = cat(−x₂, x₁) over the two halves of those dimensions; the rest pass through.
 */
function rotate(g: GraphBuilder, x: string, cos: string, sin: string, rot: number, d: number): string {
  const [rotating, passing] =
    rot === d ? [x, null] : g.op("Split", [x, g.int64s([rot, d - rot])], { axis: 3 }, { outputs: 2 });
  const [x1, x2] = g.op("Split", [rotating, g.int64s([rot / 2, rot / 2])], { axis: 3 }, { outputs: 2 });
  const half = g.op1("Concat", [g.op1("Neg", [x2]), x1], { axis: 3 });
  const rotated = g.op1("Add", [g.op1("Mul", [rotating, cos]), g.op1("Mul", [half, sin])]);
  return passing ? g.op1("Concat", [rotated, passing], { axis: 3 }) : rotated;
}

function feedForward(
  g: GraphBuilder,
  b: BlockArchitecture,
  kind: ActivationKind,
  x: string,
  w: Partial<Record<BlockWeightName, string>>,
  I: number,
  edit: { scale: string; value: string; replace: string } | null,
): { neurons: string; out: string } {
  const up = linear(g, x, w.up!, w.up_bias);
  let neurons: string;
  if (b.mlp === "gated") {
    const [gate, value] = g.op("Split", [up, g.int64s([I, I])], { axis: 1 }, { outputs: 2 });
    neurons = g.op1("Mul", [activate(g, gate, kind), value]);
  } else {
    neurons = activate(g, up, kind);
  }
  if (edit) neurons = g.op1("Where", [edit.replace, edit.value, g.op1("Mul", [neurons, edit.scale])]);
  return { neurons, out: linear(g, neurons, w.down!, w.down_bias) };
}
