import { GraphBuilder } from "../../onnx/graph.js";
import type { ModelConfig } from "../config.js";
import type { TensorMap } from "../weights/tensor.js";
import { buildEncoder, ENCODER_PREFIXES, ENCODER_PROBE } from "./encoder.js";
import { buildGpt2, GPT2_PREFIXES, GPT2_PROBE } from "./gpt2.js";
import { type GraphOptions, type GraphOutput, type GraphPlan, planGraph } from "./plan.js";
import { CheckpointParams, type TensorSource } from "./weights.js";

export type { GraphOptions, GraphOutput } from "./plan.js";
export type { TensorSource } from "./weights.js";

export type GraphInputName = "input_ids" | "attention_mask" | "position_ids" | "token_type_ids";

/** A transformer forward pass as an ONNX graph, not yet serialised (the runner picks inline or external data). */
export interface TransformerGraph {
  readonly builder: GraphBuilder;
  readonly inputs: readonly GraphInputName[];
  readonly outputs: readonly GraphOutput[];
  /** Opsets to declare when serialising. */
  readonly opsets: { opset: number; extraOpsets: Record<string, number> };
  /** Checkpoint tensors the graph did not use (heads, poolers, buffers), for logging. */
  readonly unusedTensors: readonly string[];
  /** Intervention points (GraphOptions.editable): each site and layer whose edit inputs the graph has. */
  readonly editPoints: readonly { site: "hidden" | "mlp"; layer: number; width: number }[];
}

/**
 * Builds the forward pass of `cfg`'s architecture with the checkpoint's parameters. Inputs are
 * int64 [batch, sequence]: input_ids, attention_mask (1 = token, 0 = padding), position_ids, and
 * token_type_ids when the model has more than one token type. Outputs are float32: hidden_i
 * [batch, sequence, hidden] and intermediate_i [batch, sequence, intermediate].
 *
 * @param source names the checkpoint in error messages (missing tensors, shape mismatches).
 */
export function buildTransformerGraph(
  cfg: ModelConfig,
  weights: TensorMap | TensorSource,
  source: string,
  opts: GraphOptions = {},
): TransformerGraph {
  const plan = planGraph(cfg, opts);
  const g = new GraphBuilder(`codeneurons_${cfg.modelType}`);
  let values: Map<string, string>;
  if (cfg.modelType === "gpt2") {
    const params = new CheckpointParams(weights, source, GPT2_PREFIXES, GPT2_PROBE);
    values = buildGpt2(g, cfg, params, plan);
    return finish(g, cfg, plan, values, params);
  }
  const params = new CheckpointParams(weights, source, ENCODER_PREFIXES, ENCODER_PROBE);
  values = buildEncoder(g, cfg, params, plan);
  return finish(g, cfg, plan, values, params);
}

function finish(
  g: GraphBuilder,
  cfg: ModelConfig,
  plan: GraphPlan,
  values: Map<string, string>,
  params: CheckpointParams,
): TransformerGraph {
  const outputs = plan.outputs;
  for (const o of outputs) {
    const value = values.get(o.name);
    if (!value) throw new Error(`graph builder: output ${o.name} was planned but not built`);
    g.op("Identity", [value], {}, { outputs: [o.name] });
    if (plan.graphOutputs) g.output(o.name, "float32", ["batch", "sequence", o.width]);
  }
  const inputs: GraphInputName[] = ["input_ids", "attention_mask"];
  if (!plan.derivedInputs) {
    inputs.push("position_ids");
    if (cfg.modelType !== "gpt2" && cfg.typeVocabSize > 1) inputs.push("token_type_ids");
  }
  return {
    builder: g,
    inputs,
    outputs,
    opsets: { opset: 17, extraOpsets: plan.fused ? { "com.microsoft": 1 } : {} },
    unusedTensors: params.unused(),
    // The builders put a point on hidden layers 0 … blocks − 1 (what block i + 1 receives), on the
    // model's last layer L when it is built (what the prediction head receives), and on the MLP of blocks
    // 1 … blocks; a change after the last built block of a cut graph could not reach any output.
    editPoints: plan.editable
      ? [
          ...Array.from(
            { length: plan.blocks === cfg.numLayers ? plan.blocks + 1 : plan.blocks },
            (_, l) => ({
              site: "hidden" as const,
              layer: l,
              width: cfg.hiddenSize,
            }),
          ),
          ...Array.from({ length: plan.blocks }, (_, l) => ({
            site: "mlp" as const,
            layer: l + 1,
            width: cfg.intermediateSize,
          })),
        ]
      : [],
  };
}
