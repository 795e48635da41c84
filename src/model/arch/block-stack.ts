import { GraphBuilder } from "../../onnx/graph.js";
import { UserError } from "../../util/errors.js";
import type { BlockArchitecture, ModelConfig } from "../config.js";
import type { CheckpointReader } from "../weights/tensor.js";
import { type BlockWeightName, blockNodes, blockWeightShapes, normalize } from "./block.js";
import { allocateBlockWeights, BlockCheckpoint } from "./block-weights.js";
import { param, positionIdsOf } from "./ops.js";
import { planGraph } from "./plan.js";
import { MASKED, RotaryTables, relativeBucket } from "./positions.js";

/**
 * A block-streamed family's forward pass as one standalone ONNX graph, for compress/: the embeddings
 * and blocks 1 … N chained in one graph with their weights as float32 initializers (read and converted
 * by BlockCheckpoint, as layer-by-layer extraction reads them), each block built by block.ts's own
 * nodes. What BlockRunner computes in JS per batch is computed in the graph from input_ids and
 * attention_mask (right-padded, as extraction batches them), with the same numbers:
 * - embeddings: a Gather on the token table (× Gemma's √H in float32), + GPTBigCode's learned positions;
 * - the additive masks (positions.ts attentionMask: padding, causality, each block's sliding window),
 *   0 or finfo.min from comparisons of positions;
 * - RoPE's cos / sin: tables of positions 0 … maxTokens − 1 computed by RotaryTables, gathered by
 *   position (LongRoPE: the short and the long table, chosen per row by its length, as the runner does);
 * - T5's relative position bias: the bias of every offset −(maxTokens − 1) … maxTokens − 1 from
 *   relativeBucket and block 0's table, gathered by key − query.
 * Values hidden_i and intermediate_i [batch, sequence, width] are emitted under those names (not as
 * graph outputs) for the caller to add nodes after; the last hidden layer is after the final norm, as
 * the runner returns it.
 */
export interface BlockStackOptions {
  /** Hidden-state layers (0 … L) to emit. */
  layers: readonly number[];
  /** Blocks (1 … L) whose MLP neurons to emit. */
  intermediates: readonly number[];
  /** The longest input the graph takes: position tables are computed up to it. */
  maxTokens: number;
}

export interface BlockStackGraph {
  readonly builder: GraphBuilder;
  readonly opsets: { opset: number; extraOpsets: Record<string, number> };
  /** Blocks the graph computes (the highest layer asked for). */
  readonly blocks: number;
}

export function buildBlockStackGraph(
  cfg: ModelConfig,
  reader: CheckpointReader,
  source: string,
  opts: BlockStackOptions,
): BlockStackGraph {
  if (!cfg.blocks) throw new Error(`block stack: ${cfg.modelType} is not a block-streamed family`);
  const b: BlockArchitecture = cfg.blocks;
  const plan = planGraph(cfg, { layers: opts.layers, intermediates: opts.intermediates });
  const M = opts.maxTokens;
  if (!Number.isInteger(M) || M < 1 || M > cfg.maxSequenceLength)
    throw new UserError(
      `block stack: maxTokens ${M} is outside 1 … ${cfg.maxSequenceLength} (the model's positions)`,
    );
  // The reader stays the caller's: BlockCheckpoint.close would close it.
  const checkpoint = new BlockCheckpoint(cfg, reader, source);
  const H = cfg.hiddenSize;
  const L = cfg.numLayers;
  const g = new GraphBuilder(`codeneurons_${cfg.modelType}`);
  const ids = g.input("input_ids", "int64", ["batch", "sequence"]);
  const attentionMask = g.input("attention_mask", "int64", ["batch", "sequence"]);
  // [B, S]: 0 … S − 1 in every row (the runner's positions of a right-padded batch).
  const pos = positionIdsOf(g, cfg, ids, true);
  const unsqueeze = (v: string, axes: number[]) => g.op1("Unsqueeze", [v, g.int64s(axes)]);
  const flat = (v: string, width: number) => g.op1("Reshape", [v, g.int64s([-1, width])]);
  const batchShape = g.op1("Concat", [g.op1("Shape", [ids]), g.int64s([-1])], { axis: 0 });
  const unflat = (v: string) => g.op1("Reshape", [v, batchShape]);

  let x = g.op1("Gather", [param(g, "embed_tokens", checkpoint.embeddingTable(), [cfg.vocabSize, H]), ids], {
    axis: 0,
  });
  if (b.embeddingScale !== null) x = g.op1("Mul", [x, g.scalar(b.embeddingScale)]);
  if (checkpoint.hasLearnedPositions()) {
    const table = new Float32Array(M * H);
    checkpoint.positionRows(
      Array.from({ length: M }, (_, i) => i),
      table,
    );
    x = g.op1("Add", [x, g.op1("Gather", [param(g, "embed_positions", table, [M, H]), pos], { axis: 0 })]);
  }
  const values = new Map<string, string>();
  if (plan.hidden.has(0)) values.set("hidden_0", x);
  x = flat(x, H);

  // Masks [B, 1, S, S], one per distinct sliding window.
  const query = unsqueeze(pos, [1, 3]);
  const key = unsqueeze(pos, [1, 2]);
  const seq = g.op1("Slice", [g.op1("Shape", [ids]), g.int64s([1]), g.int64s([2])]);
  const maskShape = g.op1(
    "Concat",
    [g.op1("Slice", [g.op1("Shape", [ids]), g.int64s([0]), g.int64s([1])]), g.int64s([1]), seq, seq],
    { axis: 0 },
  );
  // Expanded to [B, 1, S, S] so that an encoder's mask (no causal term) has the shape the block reads S from.
  const keyPresent = g.op1("Expand", [
    unsqueeze(g.op1("Cast", [attentionMask], { to: 9 }), [1, 2]),
    maskShape,
  ]);
  const masks = new Map<number | null, string>();
  const maskOf = (window: number | null) => {
    let m = masks.get(window);
    if (m === undefined) {
      let visible = keyPresent;
      if (cfg.causal) visible = g.op1("And", [visible, g.op1("LessOrEqual", [key, query])]);
      if (window !== null)
        visible = g.op1("And", [
          visible,
          g.op1("Greater", [key, g.op1("Sub", [query, g.scalar(window, "int64")])]),
        ]);
      m = g.op1("Where", [visible, g.scalar(0), g.scalar(MASKED)]);
      masks.set(window, m);
    }
    return m;
  };

  let cos: string | null = null;
  let sin: string | null = null;
  if (b.positions === "rope") {
    const R = b.rope!.rotaryDim;
    const tables = new RotaryTables(b.rope!).positionTables(M);
    const gather = (t: Float32Array, name: string) =>
      g.op1("Gather", [param(g, name, t, [M, R]), pos], { axis: 0 });
    cos = gather(tables.short.cos, "rope_cos");
    sin = gather(tables.short.sin, "rope_sin");
    if (tables.long) {
      const length = g.op1("ReduceSum", [attentionMask, g.int64s([1])], { keepdims: 1 });
      const long = unsqueeze(g.op1("Greater", [length, g.scalar(tables.long.from - 1, "int64")]), [2]);
      cos = g.op1("Where", [long, gather(tables.long.cos, "rope_cos_long"), cos]);
      sin = g.op1("Where", [long, gather(tables.long.sin, "rope_sin_long"), sin]);
    }
    cos = flat(cos, R);
    sin = flat(sin, R);
  }

  let positionBias: string | null = null;
  if (b.positions === "relative") {
    const rel = b.relative!;
    const table = checkpoint.relativeBiasTable()!;
    const nH = cfg.numHeads;
    const byOffset = new Float32Array((2 * M - 1) * nH);
    for (let r = -(M - 1); r < M; r++) {
      const bucket = relativeBucket(r, rel.numBuckets, rel.maxDistance, rel.bidirectional);
      byOffset.set(table.subarray(bucket * nH, (bucket + 1) * nH), (r + M - 1) * nH);
    }
    const row = g.op1("Gather", [pos, g.scalar(0, "int64")], { axis: 0 }); // [S]
    // [S, S]: key − query + M − 1, queries down, keys across.
    const offset = g.op1("Add", [
      g.op1("Sub", [unsqueeze(row, [0]), unsqueeze(row, [1])]),
      g.scalar(M - 1, "int64"),
    ]);
    const bias = g.op1("Gather", [param(g, "relative_bias", byOffset, [2 * M - 1, nH]), offset], { axis: 0 });
    positionBias = unsqueeze(g.op1("Transpose", [bias], { perm: [2, 0, 1] }), [0]);
  }

  const shapes = blockWeightShapes(cfg);
  for (let i = 0; i < plan.blocks; i++) {
    const read = allocateBlockWeights(cfg);
    checkpoint.readBlock(i, read);
    const weights: Partial<Record<BlockWeightName, string>> = {};
    for (const [name, data] of Object.entries(read)) {
      const shape = shapes[name as BlockWeightName];
      if (data && shape) weights[name as BlockWeightName] = param(g, `block${i}_${name}`, data, shape);
    }
    const block = blockNodes(g, cfg, {
      x,
      mask: maskOf(b.slidingWindows[i]),
      positionBias,
      cos,
      sin,
      weights,
      edit: null,
    });
    x = block.out;
    const layer = i + 1;
    if (plan.intermediate.has(layer)) values.set(`intermediate_${layer}`, unflat(block.mlp));
    if (plan.hidden.has(layer)) {
      let last = x;
      if (layer === L) {
        const norm = checkpoint.finalNorm();
        last = normalize(
          g,
          b,
          x,
          param(g, "final_norm", norm.weight, [H]),
          norm.bias ? param(g, "final_norm_bias", norm.bias, [H]) : undefined,
        );
      }
      values.set(`hidden_${layer}`, unflat(last));
    }
  }
  for (const o of plan.outputs) g.op("Identity", [values.get(o.name)!], {}, { outputs: [o.name] });
  return { builder: g, opsets: { opset: 17, extraOpsets: {} }, blocks: plan.blocks };
}
