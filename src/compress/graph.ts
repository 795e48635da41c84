import { buildBlockStackGraph } from "../model/arch/block-stack.js";
import { buildTransformerGraph, type TensorSource } from "../model/arch/index.js";
import { param } from "../model/arch/ops.js";
import { BLOCK_MODEL_TYPES, CLASSIC_MODEL_TYPES, type ModelConfig } from "../model/config.js";
import type { CheckpointReader, TensorMap } from "../model/weights/tensor.js";
import type { GraphBuilder } from "../onnx/graph.js";
import { UserError } from "../util/errors.js";
import type { Site } from "../util/neurons.js";

/**
 * The compressed task model as one ONNX graph: the source model's forward pass, built by the same
 * builders as extraction (model/arch, so every speed-up there applies here; the block-streamed LLM
 * families as their blocks chained in one graph, arch/block-stack.ts), cut after the highest layer the
 * set uses, then the set's units gathered from the layers that hold them, then the probe. Inputs are
 * only input_ids and attention_mask (positions, token types, masks and position tables are derived in
 * the graph).
 */
export interface ProbeOnNeurons {
  site: Site;
  /** Units per layer of the site. */
  width: number;
  /** 1, or 2 for pairs ([v(a); v(b)]). */
  sides: number;
  /** The probe's inputs in its order: the side (0 = a) and the site id of each. */
  inputs: readonly { side: number; id: number }[];
  /** Weights on standardized inputs, feature-major [inputs × classes] (inputs: every side's, in order). */
  weights: Float64Array;
  bias: Float64Array;
  /** The standardisation the weights expect: (x − mean) / scale per input. */
  mean: Float64Array;
  scale: Float64Array;
  classes: number;
}

export interface CompressedGraph {
  builder: GraphBuilder;
  opsets: { opset: number; extraOpsets: Record<string, number> };
  /** Units gathered (the `neurons` output), ascending site ids. */
  units: number[];
  /** Layers the units come from, ascending. */
  layers: number[];
  /** Blocks the graph computes. */
  blocks: number;
}

export const GRAPH_INPUTS = ["input_ids", "attention_mask"];

/** The families compress builds as one graph: the classic three and every block-streamed family. */
export const COMPRESSIBLE_MODEL_TYPES: readonly string[] = [...CLASSIC_MODEL_TYPES, ...BLOCK_MODEL_TYPES];

/** The model is of a family compress cannot build as one graph. */
export class NotCompressible extends UserError {}

export interface CompressedGraphOptions {
  /**
   * Fused contrib operators (BERT, RoBERTa, GPT-2): must be what the activations were extracted with
   * (extraction's default, true) for the hidden states to be the stored ones bit for bit.
   */
  fused?: boolean;
  /** Longest input the model takes (the block families' position tables are computed up to it). */
  maxTokens?: number;
}
export const GRAPH_OUTPUTS = ["logits", "neurons"];

/**
 * Builds the graph; `checkpoint` must be a CheckpointReader (model/weights openCheckpoint) for the
 * block-streamed families, which read it block by block.
 */
export function buildCompressedGraph(
  cfg: ModelConfig,
  checkpoint: TensorMap | TensorSource | CheckpointReader,
  source: string,
  probe: ProbeOnNeurons,
  opts: CompressedGraphOptions = {},
): CompressedGraph {
  if (!COMPRESSIBLE_MODEL_TYPES.includes(cfg.modelType))
    throw new NotCompressible(
      `compress cannot build model_type ${cfg.modelType} as one graph; it builds ${COMPRESSIBLE_MODEL_TYPES.join(", ")}`,
    );
  const inputs = probe.inputs.length;
  const C = probe.classes;
  if (probe.weights.length !== inputs * C || probe.bias.length !== C || probe.mean.length !== inputs)
    throw new Error(`compress: probe weights for ${inputs} inputs × ${C} classes expected`);
  const units = [...new Set(probe.inputs.map((i) => i.id))].sort((a, b) => a - b);
  if (units.length === 0) throw new UserError("compress: the set has no neurons");
  const layerOf = (id: number) => Math.floor(id / probe.width);
  const layers = [...new Set(units.map(layerOf))];
  const mlp = probe.site === "mlp";
  const selection = { layers: mlp ? [] : layers, intermediates: mlp ? layers : [] };
  let graph: { builder: GraphBuilder; opsets: CompressedGraph["opsets"] };
  if (cfg.blocks) {
    if (checkpoint instanceof Map || !("readRange" in checkpoint))
      throw new Error(
        "compress: the block families read their checkpoint block by block (a CheckpointReader)",
      );
    graph = buildBlockStackGraph(cfg, checkpoint, source, {
      ...selection,
      maxTokens: opts.maxTokens ?? cfg.maxSequenceLength,
    });
  } else {
    graph = buildTransformerGraph(cfg, checkpoint, source, {
      ...selection,
      fused: opts.fused ?? true,
      derivedInputs: true,
      graphOutputs: false,
    });
  }
  const g = graph.builder;
  const parts = layers.map((layer) => {
    const value = `${mlp ? "intermediate" : "hidden"}_${layer}`;
    const inLayer = units.filter((u) => layerOf(u) === layer).map((u) => u - layer * probe.width);
    const whole = inLayer.length === probe.width && inLayer.every((u, i) => u === i);
    return whole ? value : g.op1("Gather", [value, g.int64s(inLayer)], { axis: 2 });
  });
  const neurons = parts.length === 1 ? parts[0] : g.op1("Concat", parts, { axis: 2 });
  g.op("Identity", [neurons], {}, { outputs: ["neurons"] });

  // Folded probe: W' = W / scale and b' = b − Σ W · mean / scale, in float64; side s's inputs map to
  // columns s·C … s·C + C − 1 of the unit's row, and the whole bias goes with the first side.
  const position = new Map(units.map((u, i) => [u, i]));
  const sides = probe.sides;
  const w = new Float64Array(units.length * sides * C);
  const b = Float64Array.from(probe.bias);
  probe.inputs.forEach(({ side, id }, j) => {
    const row = position.get(id)! * sides * C + side * C;
    for (let c = 0; c < C; c++) {
      const v = probe.weights[j * C + c] / probe.scale[j];
      w[row + c] += v;
      b[c] -= v * probe.mean[j];
    }
  });
  const bias = new Float32Array(sides * C);
  bias.set(Float32Array.from(b));
  const logits = g.op1("Add", [
    g.op1("MatMul", [neurons, param(g, "probe_w", Float32Array.from(w), [units.length, sides * C])]),
    param(g, "probe_b", bias, [sides * C]),
  ]);
  g.op("Identity", [logits], {}, { outputs: ["logits"] });
  g.output("logits", "float32", ["batch", "sequence", sides * C]);
  g.output("neurons", "float32", ["batch", "sequence", units.length]);
  return { builder: g, opsets: graph.opsets, units, layers, blocks: Math.max(...layers) };
}
