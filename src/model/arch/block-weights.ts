import { InputError, UserError } from "../../util/errors.js";
import type { BlockArchitecture, BlockModelType, ModelConfig } from "../config.js";
import { type CheckpointReader, elementCount } from "../weights/tensor.js";
import { type BlockWeightName, blockWeightShapes } from "./block.js";

/**
 * Where each family's checkpoint keeps the tensors of a block (arch/block.ts's canonical inputs) and
 * the model-wide ones (embeddings, final norm, T5's relative position table), and how fused layouts
 * map onto the canonical ones: Phi-3's qkv_proj and gate_up_proj are already [q; k; v] and
 * [gate; up]; GPT-NeoX's query_key_value and GPTBigCode's multi-head c_attn interleave q, k, v per
 * head and are reordered; separate q / k / v (gate / up) tensors are read into consecutive rows.
 * Every tensor is checked against config.json before anything runs, and read with
 * CheckpointReader.readRange straight into its place (bf16 / f16 converted on the way).
 */
interface Part {
  /** Tensor name without the checkpoint's prefix. */
  tensor: string;
  shape: number[];
  into: BlockWeightName;
  /** First element of `into` this tensor fills. */
  offset: number;
  /** Rows of [heads, 3, d] to reorder into [3, heads, d] (per-head fused QKV). */
  interleavedHeads?: number;
}

interface Layout {
  /** Prefixes the saving class may have added, most specific first. */
  prefixes: string[];
  /** A tensor every checkpoint of the family has (finds the prefix). */
  probe: string;
  embedding: string[];
  /** GPTBigCode's learned positions. */
  positions: string | null;
  finalNorm: string;
  relativeBias: string | null;
  block(i: number): Part[];
}

function layoutOf(cfg: ModelConfig): Layout {
  const b = cfg.blocks as BlockArchitecture;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const nH = cfg.numHeads;
  const kv = b.numKvHeads;
  const d = b.headDim;
  const qRows = nH * d;
  const kvRows = kv * d;
  const type = cfg.modelType as BlockModelType;
  const linear = (
    tensor: string,
    into: BlockWeightName,
    rows: number,
    cols: number,
    rowOffset = 0,
  ): Part[] => [{ tensor: `${tensor}.weight`, shape: [rows, cols], into, offset: rowOffset * cols }];
  const bias = (tensor: string, into: BlockWeightName, rows: number, rowOffset = 0): Part[] => [
    { tensor: `${tensor}.bias`, shape: [rows], into, offset: rowOffset },
  ];
  const norm = (tensor: string, into: "ln1" | "ln2"): Part[] => [
    { tensor: `${tensor}.weight`, shape: [H], into, offset: 0 },
    ...(b.norm === "layer" ? bias(tensor, `${into}_bias` as BlockWeightName, H) : []),
  ];
  const separateQkv = (p: string, names: [string, string, string], out: string): Part[] => [
    ...linear(`${p}${names[0]}`, "qkv", qRows, H),
    ...linear(`${p}${names[1]}`, "qkv", kvRows, H, qRows),
    ...linear(`${p}${names[2]}`, "qkv", kvRows, H, qRows + kvRows),
    ...(b.qkvBias
      ? [
          ...bias(`${p}${names[0]}`, "qkv_bias", qRows),
          ...bias(`${p}${names[1]}`, "qkv_bias", kvRows, qRows),
          ...bias(`${p}${names[2]}`, "qkv_bias", kvRows, qRows + kvRows),
        ]
      : []),
    ...linear(`${p}${out}`, "o", H, qRows),
    ...(b.outputBias ? bias(`${p}${out}`, "o_bias", H) : []),
  ];
  const plainMlp = (fc: string, proj: string): Part[] => [
    ...linear(fc, "up", I, H),
    ...(b.mlpBias ? bias(fc, "up_bias", I) : []),
    ...linear(proj, "down", H, I),
    ...(b.mlpBias ? bias(proj, "down_bias", H) : []),
  ];
  const gatedMlp = (gate: string, up: string, down: string): Part[] => [
    ...linear(gate, "up", I, H),
    ...linear(up, "up", I, H, I),
    ...(b.mlpBias
      ? [...bias(gate, "up_bias", I), ...bias(up, "up_bias", I, I), ...bias(down, "down_bias", H)]
      : []),
    ...linear(down, "down", H, I),
  ];
  const fusedQkv = (tensor: string, interleavedHeads?: number): Part[] => [
    { tensor: `${tensor}.weight`, shape: [qRows + 2 * kvRows, H], into: "qkv", offset: 0, interleavedHeads },
    ...(b.qkvBias
      ? [
          {
            tensor: `${tensor}.bias`,
            shape: [qRows + 2 * kvRows],
            into: "qkv_bias" as const,
            offset: 0,
            interleavedHeads,
          },
        ]
      : []),
  ];
  switch (type) {
    case "gpt_bigcode":
      return {
        prefixes: ["transformer.", ""],
        probe: "wte.weight",
        embedding: ["wte.weight"],
        positions: "wpe.weight",
        finalNorm: "ln_f",
        relativeBias: null,
        block: (i) => {
          const p = `h.${i}.`;
          return [
            ...norm(`${p}ln_1`, "ln1"),
            // Multi-query: [q (H); k (d); v (d)]; multi-head: per head [q; k; v].
            ...fusedQkv(`${p}attn.c_attn`, kv === 1 ? undefined : nH),
            ...linear(`${p}attn.c_proj`, "o", H, H),
            ...bias(`${p}attn.c_proj`, "o_bias", H),
            ...norm(`${p}ln_2`, "ln2"),
            ...plainMlp(`${p}mlp.c_fc`, `${p}mlp.c_proj`),
          ];
        },
      };
    case "gpt_neox":
      return {
        prefixes: ["gpt_neox.", ""],
        probe: "embed_in.weight",
        embedding: ["embed_in.weight"],
        positions: null,
        finalNorm: "final_layer_norm",
        relativeBias: null,
        block: (i) => {
          const p = `layers.${i}.`;
          return [
            ...norm(`${p}input_layernorm`, "ln1"),
            ...fusedQkv(`${p}attention.query_key_value`, nH),
            ...linear(`${p}attention.dense`, "o", H, H),
            ...(b.outputBias ? bias(`${p}attention.dense`, "o_bias", H) : []),
            ...norm(`${p}post_attention_layernorm`, "ln2"),
            ...plainMlp(`${p}mlp.dense_h_to_4h`, `${p}mlp.dense_4h_to_h`),
          ];
        },
      };
    case "t5":
      return {
        prefixes: [""],
        probe: "encoder.block.0.layer.0.SelfAttention.q.weight",
        embedding: ["encoder.embed_tokens.weight", "shared.weight"],
        positions: null,
        finalNorm: "encoder.final_layer_norm",
        relativeBias: "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        block: (i) => {
          const p = `encoder.block.${i}.layer.`;
          const ff = `${p}1.DenseReluDense.`;
          return [
            ...norm(`${p}0.layer_norm`, "ln1"),
            ...separateQkv(`${p}0.SelfAttention.`, ["q", "k", "v"], "o"),
            ...norm(`${p}1.layer_norm`, "ln2"),
            ...(b.mlp === "gated"
              ? gatedMlp(`${ff}wi_0`, `${ff}wi_1`, `${ff}wo`)
              : plainMlp(`${ff}wi`, `${ff}wo`)),
          ];
        },
      };
    default: {
      // Llama, Mistral, Qwen2, Gemma, Phi-3, StarCoder2: transformers' LlamaModel naming.
      return {
        prefixes: ["model.", ""],
        probe: "embed_tokens.weight",
        embedding: ["embed_tokens.weight"],
        positions: null,
        finalNorm: "norm",
        relativeBias: null,
        block: (i) => {
          const p = `layers.${i}.`;
          const attn = `${p}self_attn.`;
          const parts = [
            ...norm(`${p}input_layernorm`, "ln1"),
            ...norm(`${p}post_attention_layernorm`, "ln2"),
          ];
          if (type === "phi3") {
            return [
              ...parts,
              ...fusedQkv(`${attn}qkv_proj`),
              ...linear(`${attn}o_proj`, "o", H, qRows),
              ...linear(`${p}mlp.gate_up_proj`, "up", 2 * I, H),
              ...linear(`${p}mlp.down_proj`, "down", H, I),
            ];
          }
          const mlp =
            type === "starcoder2"
              ? plainMlp(`${p}mlp.c_fc`, `${p}mlp.c_proj`)
              : gatedMlp(`${p}mlp.gate_proj`, `${p}mlp.up_proj`, `${p}mlp.down_proj`);
          return [...parts, ...separateQkv(attn, ["q_proj", "k_proj", "v_proj"], "o_proj"), ...mlp];
        },
      };
    }
  }
}

/** One tensor read: its bytes in a file, converted into `into` from element `destOffset`. */
export interface BlockReadJob {
  path: string;
  offset: number;
  dtype: "F32" | "F16" | "BF16";
  count: number;
  into: BlockWeightName;
  destOffset: number;
  /** Per-head fused QKV rows [heads, 3, d] (each `cols` wide) to reorder into [3, heads, d]. */
  interleave: { heads: number; d: number; cols: number } | null;
}

export interface BlockReadPlan {
  jobs: BlockReadJob[];
  /** Weights that hold Gemma's w of (1 + w), turned into 1 + w after reading. */
  onePlus: BlockWeightName[];
}

/** The canonical weights of one block (arch/block.ts's inputs), as reused float32 buffers. */
export type BlockWeights = Partial<Record<BlockWeightName, Float32Array>>;

export function allocateBlockWeights(cfg: ModelConfig): BlockWeights {
  const out: BlockWeights = {};
  for (const [name, shape] of Object.entries(blockWeightShapes(cfg))) {
    if (shape) out[name as BlockWeightName] = new Float32Array(elementCount(shape));
  }
  return out;
}

/** Float32 bytes of one block's weights. */
export function blockWeightBytes(cfg: ModelConfig): number {
  let n = 0;
  for (const shape of Object.values(blockWeightShapes(cfg))) if (shape) n += elementCount(shape);
  return 4 * n;
}

/**
 * A checkpoint of a block-streamed family, opened for reading block by block. The constructor checks
 * every tensor's presence and shape against config.json (and that the checkpoint has no more blocks
 * than the config says), so a mismatch is reported before any work starts.
 */
export class BlockCheckpoint {
  private readonly layout: Layout;
  private readonly prefix: string;
  private readonly embeddingName: string;
  private readonly names: ReadonlySet<string>;
  private readonly used = new Set<string>();
  private scratch = new Float32Array(0);

  constructor(
    readonly config: ModelConfig,
    private readonly reader: CheckpointReader,
    readonly source: string,
  ) {
    this.layout = layoutOf(config);
    this.names = new Set(reader.names());
    const prefix = this.layout.prefixes.find((p) => this.names.has(p + this.layout.probe));
    if (prefix === undefined) {
      const tried = this.layout.prefixes.map((p) => `'${p}${this.layout.probe}'`).join(", ");
      throw new UserError(
        `${source}: no tensor ${tried}; is this checkpoint of the model type its config.json says ` +
          `(${config.modelType})? (it holds ${describeNames([...this.names])})`,
      );
    }
    this.prefix = prefix;
    const embedding = this.layout.embedding.find((n) => this.names.has(prefix + n));
    if (embedding === undefined) {
      throw new InputError(source, `missing tensor '${prefix}${this.layout.embedding[0]}'`);
    }
    this.embeddingName = embedding;
    this.validate();
  }

  private validate(): void {
    const cfg = this.config;
    const H = cfg.hiddenSize;
    this.check(this.embeddingName, [cfg.vocabSize, H]);
    if (this.layout.positions) this.check(this.layout.positions, [cfg.maxPositions, H]);
    this.check(`${this.layout.finalNorm}.weight`, [H]);
    if (cfg.blocks?.norm === "layer") this.check(`${this.layout.finalNorm}.bias`, [H]);
    if (this.layout.relativeBias) {
      this.check(this.layout.relativeBias, [cfg.blocks!.relative!.numBuckets, cfg.numHeads]);
    }
    for (let i = 0; i < cfg.numLayers; i++)
      for (const part of this.layout.block(i)) this.check(part.tensor, part.shape);
    const beyond = this.layout.block(cfg.numLayers).find((p) => this.names.has(this.prefix + p.tensor));
    if (beyond) {
      throw new InputError(
        cfg.source,
        `says ${cfg.numLayers} layers but the checkpoint has more (it holds '${this.prefix}${beyond.tensor}')`,
        {
          field:
            cfg.modelType === "gpt_bigcode"
              ? "n_layer"
              : cfg.modelType === "t5"
                ? "num_layers"
                : "num_hidden_layers",
        },
      );
    }
  }

  private check(name: string, shape: readonly number[]): void {
    const full = this.prefix + name;
    if (!this.names.has(full)) throw new InputError(this.source, `missing tensor '${full}'`);
    const got = this.reader.info(full).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new UserError(
        `${this.source}: tensor '${full}' has shape [${got.join(", ")}], expected [${shape.join(", ")}] from config.json`,
      );
    }
  }

  private read(name: string, dest: Float32Array, begin = 0, end = dest.length): void {
    const full = this.prefix + name;
    this.used.add(full);
    this.reader.readRange(full, begin, end, dest);
  }

  /** Fills `w` with block `i`'s weights (0-based). */
  readBlock(i: number, w: BlockWeights): void {
    for (const part of this.layout.block(i)) {
      const dest = w[part.into]!;
      const n = elementCount(part.shape);
      const into = dest.subarray(part.offset, part.offset + n);
      if (part.interleavedHeads === undefined) {
        this.read(part.tensor, into);
        continue;
      }
      if (this.scratch.length < n) this.scratch = new Float32Array(n);
      const src = this.scratch.subarray(0, n);
      this.read(part.tensor, src);
      deinterleaveHeads(src, into, part.interleavedHeads, this.config.blocks!.headDim, n / part.shape[0]);
    }
    if (this.config.blocks?.norm === "rms_one_plus") {
      onePlus(w.ln1!);
      onePlus(w.ln2!);
    }
  }

  /**
   * Block `i`'s reads as jobs another thread can do on its own (model/weight-prefetch.ts), or null when
   * a tensor's bytes are not plainly in a file (pickled checkpoints read on the main thread).
   */
  readJobs(i: number): BlockReadPlan | null {
    const jobs: BlockReadJob[] = [];
    for (const part of this.layout.block(i)) {
      const full = this.prefix + part.tensor;
      const at = this.reader.locate?.(full);
      if (!at || (at.dtype !== "F32" && at.dtype !== "F16" && at.dtype !== "BF16")) return null;
      this.used.add(full);
      jobs.push({
        path: at.path,
        offset: at.offset,
        dtype: at.dtype,
        count: at.count,
        into: part.into,
        destOffset: part.offset,
        interleave:
          part.interleavedHeads === undefined
            ? null
            : {
                heads: part.interleavedHeads,
                d: this.config.blocks!.headDim,
                cols: at.count / part.shape[0],
              },
      });
    }
    return { jobs, onePlus: this.config.blocks?.norm === "rms_one_plus" ? ["ln1", "ln2"] : [] };
  }

  /** The final norm's weight (and bias for LayerNorm families). */
  finalNorm(): { weight: Float32Array; bias: Float32Array | null } {
    const H = this.config.hiddenSize;
    const weight = new Float32Array(H);
    this.read(`${this.layout.finalNorm}.weight`, weight);
    if (this.config.blocks?.norm === "rms_one_plus") onePlus(weight);
    let bias: Float32Array | null = null;
    if (this.config.blocks?.norm === "layer") {
      bias = new Float32Array(H);
      this.read(`${this.layout.finalNorm}.bias`, bias);
    }
    return { weight, bias };
  }

  /** T5's relative attention bias table [buckets, heads] (block 0's, shared by all blocks). */
  relativeBiasTable(): Float32Array | null {
    if (!this.layout.relativeBias) return null;
    const rel = this.config.blocks!.relative!;
    const out = new Float32Array(rel.numBuckets * this.config.numHeads);
    this.read(this.layout.relativeBias, out);
    return out;
  }

  /** Rows `ids` of the token-embedding table into dest [ids.length, H]. */
  embeddingRows(ids: ArrayLike<number>, dest: Float32Array): void {
    this.rows(this.embeddingName, ids, dest);
  }

  /** Rows of the learned position table (GPTBigCode). */
  positionRows(positions: ArrayLike<number>, dest: Float32Array): void {
    this.rows(this.layout.positions!, positions, dest);
  }

  /** The whole token-embedding table (for models small enough to keep it). */
  embeddingTable(): Float32Array {
    const t = new Float32Array(this.config.vocabSize * this.config.hiddenSize);
    this.read(this.embeddingName, t);
    return t;
  }

  hasLearnedPositions(): boolean {
    return this.layout.positions !== null;
  }

  private rows(name: string, ids: ArrayLike<number>, dest: Float32Array): void {
    const H = this.config.hiddenSize;
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t];
      this.read(name, dest.subarray(t * H, (t + 1) * H), id * H, (id + 1) * H);
    }
  }

  /** Checkpoint tensors nothing read (LM heads, buffers), for logging. */
  unused(): string[] {
    return [...this.names].filter((n) => !this.used.has(n));
  }

  close(): void {
    this.reader.close();
  }
}

/** Rows [heads, 3, d] (each `cols` wide) → [3, heads, d]: per-head q|k|v to all q, all k, all v. */
function deinterleaveHeads(
  src: Float32Array,
  dest: Float32Array,
  heads: number,
  d: number,
  cols: number,
): void {
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 3; j++) {
      const from = (h * 3 + j) * d * cols;
      const to = (j * heads + h) * d * cols;
      dest.set(src.subarray(from, from + d * cols), to);
    }
  }
}

/** Gemma's RMSNorm scales by (1 + w), computed in float32 as transformers does. */
function onePlus(w: Float32Array): void {
  for (let i = 0; i < w.length; i++) w[i] = Math.fround(1 + w[i]);
}

function describeNames(names: string[]): string {
  if (names.length === 0) return "no tensors";
  const shown = names.slice(0, 5).map((n) => `'${n}'`);
  return `${names.length} tensors: ${shown.join(", ")}${names.length > 5 ? ", …" : ""}`;
}
