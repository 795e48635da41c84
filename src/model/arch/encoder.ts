import type { GraphBuilder } from "../../onnx/graph.js";
import type { ModelConfig } from "../config.js";
import {
  addLayerNorm,
  biasActivation,
  type Ctx,
  editPoint,
  type MaskInfo,
  param,
  positionIdsOf,
  prepareMask,
  selfAttention,
} from "./ops.js";
import type { GraphPlan } from "./plan.js";
import { type CheckpointParams, concatColumns, scaled, transpose } from "./weights.js";

/**
 * BERT and RoBERTa (CodeBERT, GraphCodeBERT, UniXcoder, CodeBERTa): post-layer-norm encoder blocks,
 * as transformers' modeling_bert. RoBERTa differs only in its position ids (computed by the runner)
 * and config values.
 */
export const ENCODER_PREFIXES = ["", "bert.", "roberta.", "model."];
export const ENCODER_PROBE = "embeddings.word_embeddings.weight";

/** Adds the encoder to `g`; returns the value name of each planned output (hidden_i / intermediate_i). */
export function buildEncoder(
  g: GraphBuilder,
  cfg: ModelConfig,
  params: CheckpointParams,
  plan: GraphPlan,
): Map<string, string> {
  params.refuseBlocksBeyond("encoder.layer.", cfg.numLayers, cfg.source, "num_hidden_layers");
  const ctx: Ctx = { g, fused: plan.fused, eps: cfg.layerNormEps };
  const out = new Map<string, string>();
  const ids = g.input("input_ids", "int64", ["batch", "sequence"]);
  const mask = g.input("attention_mask", "int64", ["batch", "sequence"]);
  const positions = positionIdsOf(g, cfg, ids, plan.derivedInputs);
  // A standalone graph's token type is always 0: the one-type path below adds table row 0, which is
  // what Gather of zeros adds, in the same order.
  const types =
    cfg.typeVocabSize > 1 && !plan.derivedInputs
      ? g.input("token_type_ids", "int64", ["batch", "sequence"])
      : null;

  const H = cfg.hiddenSize;
  // Interventions (plan.editable): the embedding output is recorded as block 1 receives it, a block's
  // output as the block produced it, before the change the next block sees (model/intervention.ts).
  let x = embeddings(ctx, cfg, params, ids, positions, types);
  if (plan.editable) x = editPoint(g, x, "hidden", 0, H);
  if (plan.hidden.has(0)) out.set("hidden_0", x);
  const maskInfo = plan.blocks > 0 ? prepareMask(ctx, mask, cfg.causal) : null;
  for (let i = 0; i < plan.blocks; i++) {
    const block = encoderBlock(ctx, cfg, params, i, x, maskInfo!, plan.editable);
    // The model's last layer has no next block: its change is what the prediction head receives, so
    // that output shows it.
    const last = i + 1 === cfg.numLayers;
    const edited = plan.editable && (last || i + 1 < plan.blocks);
    x = edited ? editPoint(g, block.output, "hidden", i + 1, H) : block.output;
    if (plan.hidden.has(i + 1)) out.set(`hidden_${i + 1}`, last ? x : block.output);
    if (plan.intermediate.has(i + 1)) out.set(`intermediate_${i + 1}`, block.intermediate);
  }
  return out;
}

function embeddings(
  ctx: Ctx,
  cfg: ModelConfig,
  params: CheckpointParams,
  ids: string,
  positions: string,
  types: string | null,
): string {
  const { g } = ctx;
  const H = cfg.hiddenSize;
  const e = "embeddings.";
  const word = param(g, "word_embeddings", params.get(`${e}word_embeddings.weight`, [cfg.vocabSize, H]), [
    cfg.vocabSize,
    H,
  ]);
  const posTable = params.get(`${e}position_embeddings.weight`, [cfg.maxPositions, H]);
  const pos = param(g, "position_embeddings", posTable, [cfg.maxPositions, H]);
  const typeTable = params.get(`${e}token_type_embeddings.weight`, [cfg.typeVocabSize, H]);
  const gamma = param(g, "embeddings_ln_gamma", params.get(`${e}LayerNorm.weight`, [H]), [H]);
  const beta = param(g, "embeddings_ln_beta", params.get(`${e}LayerNorm.bias`, [H]), [H]);

  const wordVec = g.op1("Gather", [word, ids]);
  const posVec = g.op1("Gather", [pos, positions]);
  if (types) {
    const typeVec = g.op1("Gather", [
      param(g, "token_type_embeddings", typeTable, [cfg.typeVocabSize, H]),
      types,
    ]);
    return addLayerNorm(ctx, g.op1("Add", [wordVec, typeVec]), posVec, null, gamma, beta).normed;
  }
  // One token type (RoBERTa), or token type 0 throughout: every token adds row 0, a constant bias.
  const typeRow = param(g, "token_type_row", typeTable.slice(0, H), [H]);
  return addLayerNorm(ctx, wordVec, posVec, typeRow, gamma, beta).normed;
}

function encoderBlock(
  ctx: Ctx,
  cfg: ModelConfig,
  params: CheckpointParams,
  i: number,
  x: string,
  mask: MaskInfo,
  editable: boolean,
): { output: string; intermediate: string } {
  const { g } = ctx;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const p = `encoder.layer.${i}.`;
  // nn.Linear weights are [out, in]; MatMul wants [in, out].
  const linearW = (name: string, outDim: number, inDim: number) =>
    transpose(params.get(`${p}${name}.weight`, [outDim, inDim]), outDim, inDim);
  const bias = (name: string, n: number) => params.get(`${p}${name}.bias`, [n]);

  const scale = 1 / Math.sqrt(cfg.headSize);
  // The standard graph folds the score scale into Q; the fused Attention op applies it itself.
  const qScale = ctx.fused ? 1 : scale;
  const qkvW = concatColumns(
    [
      scaled(linearW("attention.self.query", H, H), qScale),
      linearW("attention.self.key", H, H),
      linearW("attention.self.value", H, H),
    ],
    H,
  );
  const qkvB = concatColumns(
    [
      scaled(bias("attention.self.query", H), qScale),
      bias("attention.self.key", H),
      bias("attention.self.value", H),
    ],
    1,
  );
  const L = `l${i}_`;
  const context = selfAttention(
    ctx,
    x,
    {
      qkvWeight: param(g, `${L}qkv_w`, qkvW, [H, 3 * H]),
      qkvBias: param(g, `${L}qkv_b`, qkvB, [3 * H]),
      heads: cfg.numHeads,
      headSize: cfg.headSize,
      scale,
    },
    mask,
  );
  const attnOut = g.op1("MatMul", [
    context,
    param(g, `${L}attn_out_w`, linearW("attention.output.dense", H, H), [H, H]),
  ]);
  const afterAttn = addLayerNorm(
    ctx,
    attnOut,
    x,
    param(g, `${L}attn_out_b`, bias("attention.output.dense", H), [H]),
    param(g, `${L}attn_ln_g`, params.get(`${p}attention.output.LayerNorm.weight`, [H]), [H]),
    param(g, `${L}attn_ln_b`, params.get(`${p}attention.output.LayerNorm.bias`, [H]), [H]),
  ).normed;

  const up = g.op1("MatMul", [
    afterAttn,
    param(g, `${L}ffn_in_w`, linearW("intermediate.dense", I, H), [H, I]),
  ]);
  const activated = biasActivation(
    ctx,
    up,
    param(g, `${L}ffn_in_b`, bias("intermediate.dense", I), [I]),
    cfg.activationKind,
  );
  // The MLP neurons as output.dense receives them (changed, when intervened on).
  const act = editable ? editPoint(g, activated, "mlp", i + 1, I) : activated;
  const down = g.op1("MatMul", [act, param(g, `${L}ffn_out_w`, linearW("output.dense", H, I), [I, H])]);
  const output = addLayerNorm(
    ctx,
    down,
    afterAttn,
    param(g, `${L}ffn_out_b`, bias("output.dense", H), [H]),
    param(g, `${L}ffn_ln_g`, params.get(`${p}output.LayerNorm.weight`, [H]), [H]),
    param(g, `${L}ffn_ln_b`, params.get(`${p}output.LayerNorm.bias`, [H]), [H]),
  ).normed;
  return { output, intermediate: act };
}
