import type { GraphBuilder } from "../../onnx/graph.js";
import type { ModelConfig } from "../config.js";
import {
  addLayerNorm,
  biasActivation,
  type Ctx,
  editPoint,
  layerNorm,
  type MaskInfo,
  param,
  positionIdsOf,
  prepareMask,
  selfAttention,
} from "./ops.js";
import type { GraphPlan } from "./plan.js";
import type { CheckpointParams } from "./weights.js";

/**
 * GPT-2 (gpt2, CodeGPT-small-java/py and the adapted ones): pre-layer-norm causal blocks, as
 * transformers' modeling_gpt2. hidden_i is the residual stream entering block i + 1; the last hidden
 * state has ln_f applied, exactly as transformers returns it. Conv1D weights are already [in, out].
 */
export const GPT2_PREFIXES = ["", "transformer.", "model."];
export const GPT2_PROBE = "wte.weight";

interface BlockParams {
  ln1: [string, string];
  ln2: [string, string];
  qkvW: string;
  qkvB: string;
  projW: string;
  projB: string;
  fcW: string;
  fcB: string;
  outW: string;
  outB: string;
  scale: number;
}

/** Adds GPT-2 to `g`; returns the value name of each planned output (hidden_i / intermediate_i). */
export function buildGpt2(
  g: GraphBuilder,
  cfg: ModelConfig,
  params: CheckpointParams,
  plan: GraphPlan,
): Map<string, string> {
  params.refuseBlocksBeyond("h.", cfg.numLayers, cfg.source, "n_layer");
  const ctx: Ctx = { g, fused: plan.fused, eps: cfg.layerNormEps };
  const out = new Map<string, string>();
  const H = cfg.hiddenSize;
  const ids = g.input("input_ids", "int64", ["batch", "sequence"]);
  const mask = g.input("attention_mask", "int64", ["batch", "sequence"]);
  const positions = positionIdsOf(g, cfg, ids, plan.derivedInputs);

  const wte = param(g, "wte", params.get("wte.weight", [cfg.vocabSize, H]), [cfg.vocabSize, H]);
  const wpe = param(g, "wpe", params.get("wpe.weight", [cfg.maxPositions, H]), [cfg.maxPositions, H]);
  const tokens = g.op1("Gather", [wte, ids]);
  const places = g.op1("Gather", [wpe, positions]);
  const blocks = Array.from({ length: plan.blocks }, (_, i) => blockParams(ctx, cfg, params, i));
  const lnF = plan.blocks === cfg.numLayers ? layerNormParams(g, params, "ln_f", H) : null;

  // The residual stream x_i and its layer-normed form, the next block's input.
  let x: string;
  let normed: string | null = null;
  if (plan.editable) {
    // Interventions (model/intervention.ts): the stream is edited between the sum and the next layer
    // norm, so the fused Add + LayerNorm is split; layer 0 is recorded as block 1 receives it.
    x = editPoint(g, g.op1("Add", [tokens, places]), "hidden", 0, H);
    if (blocks.length > 0) normed = layerNorm(ctx, x, ...blocks[0].ln1);
  } else if (blocks.length > 0) {
    ({ sum: x, normed } = addLayerNorm(ctx, tokens, places, null, ...blocks[0].ln1));
  } else {
    x = g.op1("Add", [tokens, places]);
  }
  if (plan.hidden.has(0)) out.set("hidden_0", x);
  const maskInfo = blocks.length > 0 ? prepareMask(ctx, mask, true) : null;

  for (let i = 0; i < blocks.length; i++) {
    const step = gpt2Block(ctx, cfg, blocks[i], x, normed!, maskInfo!, plan.editable ? i + 1 : null);
    if (plan.intermediate.has(i + 1)) out.set(`intermediate_${i + 1}`, step.intermediate);
    const nextLn = i + 1 < blocks.length ? blocks[i + 1].ln1 : lnF;
    // transformers applies ln_f to the last hidden state it returns.
    const isLast = i + 1 === cfg.numLayers;
    if (plan.editable) {
      const produced = g.op1("Add", [g.op1("Add", [step.mlpOut, blocks[i].outB]), step.residual]);
      // The last layer's change reaches ln_f and so the prediction head (and the returned hidden state).
      x = i + 1 < blocks.length || isLast ? editPoint(g, produced, "hidden", i + 1, H) : produced;
      normed = nextLn ? layerNorm(ctx, x, ...nextLn) : null;
      if (plan.hidden.has(i + 1)) out.set(`hidden_${i + 1}`, isLast ? normed! : produced);
      continue;
    }
    if (nextLn) {
      ({ sum: x, normed } = addLayerNorm(ctx, step.mlpOut, step.residual, blocks[i].outB, ...nextLn));
    } else {
      x = g.op1("Add", [g.op1("Add", [step.mlpOut, blocks[i].outB]), step.residual]);
    }
    if (plan.hidden.has(i + 1)) out.set(`hidden_${i + 1}`, isLast ? normed! : x);
  }
  return out;
}

function layerNormParams(
  g: GraphBuilder,
  params: CheckpointParams,
  name: string,
  H: number,
): [string, string] {
  return [
    param(g, `${name.replaceAll(".", "_")}_g`, params.get(`${name}.weight`, [H]), [H]),
    param(g, `${name.replaceAll(".", "_")}_b`, params.get(`${name}.bias`, [H]), [H]),
  ];
}

function blockParams(ctx: Ctx, cfg: ModelConfig, params: CheckpointParams, i: number): BlockParams {
  const { g } = ctx;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const p = `h.${i}.`;
  const L = `l${i}_`;
  let scale = cfg.scaleAttnWeights ? 1 / Math.sqrt(cfg.headSize) : 1;
  if (cfg.scaleAttnByInverseLayerIdx) scale /= i + 1;
  // Standard graph: fold the score scale into the Q columns (the first H of c_attn's 3H outputs).
  const qkvW = params.get(`${p}attn.c_attn.weight`, [H, 3 * H]);
  const qkvB = params.get(`${p}attn.c_attn.bias`, [3 * H]);
  const qScale = ctx.fused ? 1 : scale;
  const scaledW = qScale === 1 ? qkvW : scaleQColumns(qkvW, H, qScale);
  const scaledB = qScale === 1 ? qkvB : Float32Array.from(qkvB, (v, j) => (j < H ? v * qScale : v));
  return {
    ln1: layerNormParams(g, params, `${p}ln_1`, H),
    ln2: layerNormParams(g, params, `${p}ln_2`, H),
    qkvW: param(g, `${L}qkv_w`, scaledW, [H, 3 * H]),
    qkvB: param(g, `${L}qkv_b`, scaledB, [3 * H]),
    projW: param(g, `${L}proj_w`, params.get(`${p}attn.c_proj.weight`, [H, H]), [H, H]),
    projB: param(g, `${L}proj_b`, params.get(`${p}attn.c_proj.bias`, [H]), [H]),
    fcW: param(g, `${L}fc_w`, params.get(`${p}mlp.c_fc.weight`, [H, I]), [H, I]),
    fcB: param(g, `${L}fc_b`, params.get(`${p}mlp.c_fc.bias`, [I]), [I]),
    outW: param(g, `${L}mlp_proj_w`, params.get(`${p}mlp.c_proj.weight`, [I, H]), [I, H]),
    outB: param(g, `${L}mlp_proj_b`, params.get(`${p}mlp.c_proj.bias`, [H]), [H]),
    scale,
  };
}

function scaleQColumns(w: Float32Array, H: number, factor: number): Float32Array {
  const out = Float32Array.from(w);
  for (let r = 0; r < H; r++) {
    const base = r * 3 * H;
    for (let c = 0; c < H; c++) out[base + c] *= factor;
  }
  return out;
}

function gpt2Block(
  ctx: Ctx,
  cfg: ModelConfig,
  b: BlockParams,
  x: string,
  normed: string,
  mask: MaskInfo,
  editLayer: number | null,
): { residual: string; mlpOut: string; intermediate: string } {
  const { g } = ctx;
  const context = selfAttention(
    ctx,
    normed,
    { qkvWeight: b.qkvW, qkvBias: b.qkvB, heads: cfg.numHeads, headSize: cfg.headSize, scale: b.scale },
    mask,
  );
  const proj = g.op1("MatMul", [context, b.projW]);
  const { sum: residual, normed: ln2 } = addLayerNorm(ctx, proj, x, b.projB, ...b.ln2);
  const activated = biasActivation(ctx, g.op1("MatMul", [ln2, b.fcW]), b.fcB, cfg.activationKind);
  const act =
    editLayer === null ? activated : editPoint(g, activated, "mlp", editLayer, cfg.intermediateSize);
  return { residual, mlpOut: g.op1("MatMul", [act, b.outW]), intermediate: act };
}
