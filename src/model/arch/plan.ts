import { UserError } from "../../util/errors.js";
import type { ModelConfig } from "../config.js";

/** Which values a graph emits. Layers are numbered as in docs/DESIGN.md: 0 = embeddings, i = block i. */
export interface GraphOptions {
  /** Hidden-state layers to output (0 … L); default all. */
  layers?: readonly number[];
  /** Blocks (1 … L) whose feed-forward activations (after the activation function) to output; default none. */
  intermediates?: readonly number[];
  /** Use onnxruntime's contrib ops (com.microsoft Attention, BiasGelu, FastGelu); default true. */
  fused?: boolean;
  /**
   * Give every hidden layer 0 … blocks and every MLP layer an intervention point (ops.ts editPoint),
   * fed per run (runner.ts); default false (extraction graphs have none).
   */
  editable?: boolean;
  /**
   * A standalone graph (compress/): position_ids and token_type_ids are computed inside the graph from
   * input_ids as the runner computes them (RoBERTa's padding-aware numbering, 0 … S − 1 otherwise;
   * token type 0), so that its only inputs are input_ids and attention_mask; default false.
   */
  derivedInputs?: boolean;
  /**
   * Emit the planned values under their names (hidden_i, intermediate_i) without making them graph
   * outputs, for a caller that adds nodes after them (compress/ appends a probe); default true.
   */
  graphOutputs?: boolean;
}

export interface GraphOutput {
  /** Output name in the ONNX graph: `hidden_<layer>` or `intermediate_<layer>`. */
  readonly name: string;
  readonly kind: "hidden" | "intermediate";
  readonly layer: number;
  /** Values per token: hidden size or intermediate size. */
  readonly width: number;
}

/** The resolved selection: what to emit and how many blocks must be built to get it. */
export interface GraphPlan {
  readonly hidden: ReadonlySet<number>;
  readonly intermediate: ReadonlySet<number>;
  /** Blocks 1 … blocks are built; later ones are left out (they cannot affect the requested outputs). */
  readonly blocks: number;
  readonly fused: boolean;
  readonly editable: boolean;
  readonly derivedInputs: boolean;
  readonly graphOutputs: boolean;
  readonly outputs: readonly GraphOutput[];
}

export function planGraph(cfg: ModelConfig, opts: GraphOptions = {}): GraphPlan {
  const all = Array.from({ length: cfg.numLayers + 1 }, (_, i) => i);
  const hidden = checkLayers(opts.layers ?? all, 0, cfg.numLayers, "layers");
  const intermediate = checkLayers(opts.intermediates ?? [], 1, cfg.numLayers, "intermediates");
  if (hidden.length + intermediate.length === 0)
    throw new UserError("no layers selected: nothing to compute");
  const blocks = Math.max(0, ...hidden, ...intermediate);
  const outputs: GraphOutput[] = [
    ...hidden.map((layer) => ({
      name: `hidden_${layer}`,
      kind: "hidden" as const,
      layer,
      width: cfg.hiddenSize,
    })),
    ...intermediate.map((layer) => ({
      name: `intermediate_${layer}`,
      kind: "intermediate" as const,
      layer,
      width: cfg.intermediateSize,
    })),
  ];
  return {
    hidden: new Set(hidden),
    intermediate: new Set(intermediate),
    blocks,
    fused: opts.fused ?? true,
    editable: opts.editable ?? false,
    derivedInputs: opts.derivedInputs ?? false,
    graphOutputs: opts.graphOutputs ?? true,
    outputs,
  };
}

function checkLayers(layers: readonly number[], min: number, max: number, what: string): number[] {
  for (const l of layers) {
    if (!Number.isInteger(l) || l < min || l > max) {
      throw new UserError(`${what}: layer ${l} does not exist (this model has ${min} … ${max})`);
    }
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}
