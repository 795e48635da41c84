import { totalmem } from "node:os";
import { createSession, ort } from "../linalg/runtime.js";
import { GraphBuilder } from "../onnx/graph.js";
import { UserError } from "../util/errors.js";
import {
  type BlockWeightName,
  blockWeightShapes,
  buildBlockGraph,
  buildFinalNormGraph,
} from "./arch/block.js";
import {
  allocateBlockWeights,
  BlockCheckpoint,
  type BlockWeights,
  blockWeightBytes,
} from "./arch/block-weights.js";
import { attentionMask, RotaryTables, relativePositionBias } from "./arch/positions.js";
import type { BlockArchitecture, ModelConfig } from "./config.js";
import { applyEdit, type UnitEdit } from "./intervention.js";
import type { ForwardTimes, RunInput, RunOutput } from "./runner.js";
import { WeightPrefetcher } from "./weight-prefetch.js";
import type { CheckpointReader } from "./weights/tensor.js";

/**
 * Runs the block-streamed families (Llama, Mistral, Qwen2, StarCoder2, Gemma, Phi-3, GPTBigCode,
 * GPT-NeoX, T5 encoders) layer by layer: a group of batches goes through the embeddings, then through
 * block 1, block 2, … in turn. One ONNX session serves every block (weights are graph inputs, see
 * arch/block.ts), so only the block that runs needs its weights in memory: for a model larger than
 * memory, each block's tensors are read from the checkpoint (converted from bf16 / f16) on a worker
 * thread while the previous block computes (weight-prefetch.ts), into two alternating sets of buffers;
 * weights then cost two blocks whatever the depth (the caller's stored outputs are the caller's).
 * Models whose blocks fit in residentLimitBytes() keep them all loaded instead.
 */
export interface BlockRunnerOptions {
  /** Hidden-state layers to output (0 = embeddings … L); default all. */
  layers?: readonly number[];
  /** Blocks (1 … L) whose MLP neurons to output; default none. */
  mlpLayers?: readonly number[];
  /** "resident": all block weights stay loaded; "stream": one block at a time; "auto" (default) decides by size. */
  weights?: "auto" | "resident" | "stream";
  threads?: number;
  /** Names the checkpoint in messages. */
  source?: string;
}

/** Receives outputs as they are computed: `data` is [batch × seq × width] of batch `batch` of the group. */
export type OutputSink = (batch: number, site: "hidden" | "mlp", layer: number, data: Float32Array) => void;

/** Blocks totalling at most this many float32 bytes stay in memory under "auto". */
export function residentLimitBytes(): number {
  return Math.min(2 * 1024 ** 3, totalmem() / 8);
}

interface BatchState {
  input: RunInput;
  lengths: number[];
  tokens: number;
  x: Float32Array;
  masks: Map<number | null, ort.Tensor>;
  cos: ort.Tensor | null;
  sin: ort.Tensor | null;
  positionBias: ort.Tensor | null;
}

export class BlockRunner {
  /** Hidden-state layers the runner emits, ascending. */
  readonly layers: number[];
  /** Blocks whose MLP neurons it emits, ascending. */
  readonly mlpLayers: number[];
  readonly streaming: boolean;
  private readonly blocksNeeded: number;
  private readonly arch: BlockArchitecture;
  private readonly rotary: RotaryTables | null;
  private readonly relativeTable: Float32Array | null;
  private readonly finalNorm: { weight: ort.Tensor; bias: ort.Tensor | null };
  private embeddingTable: Float32Array | null = null;
  /** Resident: one weight set per block; streaming: one set, refilled. */
  private readonly weightSets: { weights: BlockWeights; feeds: Record<string, ort.Tensor> }[] = [];
  private loadedBlock = -1;
  /** Streaming from safetensors: reads the next block on another thread (null: not possible here). */
  private prefetcher: WeightPrefetcher | null | undefined;

  private constructor(
    readonly config: ModelConfig,
    private readonly checkpoint: BlockCheckpoint,
    private readonly sessions: BlockSessions,
    opts: { layers: number[]; mlpLayers: number[]; streaming: boolean },
  ) {
    this.layers = opts.layers;
    this.mlpLayers = opts.mlpLayers;
    this.streaming = opts.streaming;
    this.arch = config.blocks as BlockArchitecture;
    this.blocksNeeded = Math.max(0, ...this.layers, ...this.mlpLayers);
    this.rotary = this.arch.rope ? new RotaryTables(this.arch.rope) : null;
    this.relativeTable = checkpoint.relativeBiasTable();
    const norm = checkpoint.finalNorm();
    const H = config.hiddenSize;
    this.finalNorm = {
      weight: new ort.Tensor("float32", norm.weight, [H]),
      bias: norm.bias ? new ort.Tensor("float32", norm.bias, [H]) : null,
    };
    if (!this.streaming) this.embeddingTable = checkpoint.embeddingTable();
  }

  /** Opens `reader` (which the runner owns from now on and closes on release). */
  static async create(
    config: ModelConfig,
    reader: CheckpointReader,
    opts: BlockRunnerOptions = {},
  ): Promise<BlockRunner> {
    if (!config.blocks) throw new Error(`BlockRunner: ${config.modelType} is not a block-streamed family`);
    let checkpoint: BlockCheckpoint;
    try {
      checkpoint = new BlockCheckpoint(config, reader, opts.source ?? reader.path);
    } catch (e) {
      reader.close();
      throw e;
    }
    try {
      const L = config.numLayers;
      const layers = checkLayers(opts.layers ?? Array.from({ length: L + 1 }, (_, i) => i), 0, L, "layers");
      const mlpLayers = checkLayers(opts.mlpLayers ?? [], 1, L, "MLP layers");
      if (layers.length + mlpLayers.length === 0)
        throw new UserError("no layers selected: nothing to compute");
      const blocks = Math.max(0, ...layers, ...mlpLayers);
      const mode = opts.weights ?? "auto";
      const streaming =
        mode === "stream" || (mode === "auto" && blocks * blockWeightBytes(config) > residentLimitBytes());
      const sessionOpts: ort.InferenceSession.SessionOptions = {
        graphOptimizationLevel: "all",
        ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
      };
      const sessions = new BlockSessions(config, sessionOpts);
      // Create the sessions every run needs now, so that a graph problem shows before any work.
      await sessions.block(mlpLayers.length > 0, false);
      await sessions.final();
      return new BlockRunner(config, checkpoint, sessions, { layers, mlpLayers, streaming });
    } catch (e) {
      checkpoint.close();
      throw e;
    }
  }

  /** Checkpoint tensors the runner has not read (LM heads, buffers); complete after a first run. */
  get unusedTensors(): string[] {
    return this.checkpoint.unused();
  }

  /** One batch, all requested outputs (for tests and small uses; extraction uses runGroup). */
  async run(input: RunInput): Promise<RunOutput> {
    const hidden = new Map<number, Float32Array>();
    const intermediate = new Map<number, Float32Array>();
    await this.runGroup([input], (_b, site, layer, data) =>
      (site === "hidden" ? hidden : intermediate).set(layer, data),
    );
    return { hidden, intermediate };
  }

  /**
   * Runs `batches` through the model layer by layer and hands every requested output to `sink` as
   * soon as it exists (hidden 0 of every batch, then block 1's outputs of every batch, …). The last
   * hidden state is emitted after the final norm, as transformers returns it.
   */
  async runGroup(
    batches: readonly RunInput[],
    sink: OutputSink,
    edits: readonly UnitEdit[] = [],
    times?: ForwardTimes,
  ): Promise<void> {
    const clock = new Clock(times);
    const states = batches.map((input) => this.prepare(input));
    const wantHidden = new Set(this.layers);
    const wantMlp = new Set(this.mlpLayers);
    const H = this.config.hiddenSize;
    const hiddenEdit = new Map(edits.filter((e) => e.site === "hidden").map((e) => [e.layer, e]));
    const mlpEdit = new Map(edits.filter((e) => e.site === "mlp").map((e) => [e.layer, e]));
    for (const [b, s] of states.entries()) {
      s.x = this.embed(s);
      const edit = hiddenEdit.get(0);
      if (edit) s.x = applyEdit(edit, s.x);
      clock.lap("feeds");
      if (wantHidden.has(0)) sink(b, "hidden", 0, s.x);
      clock.skip();
    }
    for (let layer = 1; layer <= this.blocksNeeded; layer++) {
      const { feeds, done } = await this.weightsFor(layer - 1);
      clock.lap("weights");
      const window = this.arch.slidingWindows[layer - 1];
      const withMlp = wantMlp.has(layer);
      const mlp = mlpEdit.get(layer);
      const session = await this.sessions.block(withMlp, mlp !== undefined);
      const editFeeds: Record<string, ort.Tensor> = mlp
        ? {
            mlp_scale: new ort.Tensor("float32", mlp.scale, [mlp.scale.length]),
            mlp_value: new ort.Tensor("float32", mlp.value, [mlp.value.length]),
            mlp_replace: new ort.Tensor("bool", mlp.replace, [mlp.replace.length]),
          }
        : {};
      const edit = hiddenEdit.get(layer);
      for (const [b, s] of states.entries()) {
        const inputs: Record<string, ort.Tensor> = {
          ...feeds,
          ...editFeeds,
          x: new ort.Tensor("float32", s.x, [s.tokens, H]),
          mask: this.maskOf(s, window),
        };
        if (s.cos && s.sin) {
          inputs.cos = s.cos;
          inputs.sin = s.sin;
        }
        if (s.positionBias) inputs.position_bias = s.positionBias;
        clock.lap("feeds");
        const out = await session.run(inputs);
        clock.lap("run");
        s.x = out.out.data as Float32Array;
        const neurons = withMlp ? (out.mlp.data as Float32Array) : null;
        clock.lap("readback");
        if (neurons) sink(b, "mlp", layer, neurons);
        clock.skip();
        // The last layer's change is what the final norm and the prediction head receive, so its
        // output shows it; other layers are recorded as the block produced them and the next block
        // receives the change.
        const isLast = layer === this.config.numLayers;
        if (edit && isLast) s.x = applyEdit(edit, s.x);
        if (wantHidden.has(layer)) {
          const last = isLast ? await this.normalize(s) : s.x;
          clock.lap("run");
          sink(b, "hidden", layer, last);
          clock.skip();
        }
        if (edit && !isLast) s.x = applyEdit(edit, s.x);
      }
      done();
      clock.lap("feeds");
    }
  }

  async release(): Promise<void> {
    await this.prefetcher?.close();
    await this.sessions.release();
    this.checkpoint.close();
  }

  private prepare(input: RunInput): BatchState {
    const { batch, seq } = input;
    const cfg = this.config;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(seq) || seq < 1) {
      throw new UserError(`run: batch and seq must be positive integers (got ${batch} × ${seq})`);
    }
    if (seq > cfg.maxSequenceLength) {
      throw new UserError(
        `run: sequence of ${seq} tokens is longer than the model's ${cfg.maxSequenceLength} positions`,
      );
    }
    const n = batch * seq;
    if (input.inputIds.length !== n)
      throw new UserError(`run: inputIds has ${input.inputIds.length} values, expected ${n}`);
    const lengths: number[] = [];
    for (let b = 0; b < batch; b++) {
      let len = 0;
      for (let s = 0; s < seq; s++) {
        const m = input.attentionMask ? Number(input.attentionMask[b * seq + s]) : 1;
        if (m !== 0 && m !== 1)
          throw new UserError(`run: attention mask value ${m} at [${b}, ${s}] is outside {0, 1}`);
        if (m === 1) {
          if (len !== s)
            throw new UserError(`run: batch row ${b} is not right-padded (token after padding at ${s})`);
          len++;
        }
      }
      lengths.push(len);
    }
    for (let i = 0; i < n; i++) {
      const id = Number(input.inputIds[i]);
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
        throw new UserError(
          `run: token id ${id} at [${Math.floor(i / seq)}, ${i % seq}] is outside the vocabulary (0 … ${cfg.vocabSize - 1})`,
        );
      }
    }
    const rot = this.rotary?.fill(lengths, seq);
    const R = this.arch.rope?.rotaryDim ?? 0;
    const rel = this.arch.relative;
    return {
      input,
      lengths,
      tokens: n,
      x: new Float32Array(0),
      masks: new Map(),
      cos: rot ? new ort.Tensor("float32", rot.cos, [n, R]) : null,
      sin: rot ? new ort.Tensor("float32", rot.sin, [n, R]) : null,
      positionBias:
        rel && this.relativeTable
          ? new ort.Tensor("float32", relativePositionBias(this.relativeTable, cfg.numHeads, seq, rel), [
              1,
              cfg.numHeads,
              seq,
              seq,
            ])
          : null,
    };
  }

  private maskOf(s: BatchState, window: number | null): ort.Tensor {
    let m = s.masks.get(window);
    if (!m) {
      const { batch, seq } = s.input;
      m = new ort.Tensor("float32", attentionMask(s.lengths, seq, this.config.causal, window), [
        batch,
        1,
        seq,
        seq,
      ]);
      s.masks.set(window, m);
    }
    return m;
  }

  /** Token embeddings (× √H for Gemma, + learned positions for GPTBigCode), in float32 as transformers adds them. */
  private embed(s: BatchState): Float32Array {
    const H = this.config.hiddenSize;
    const { seq } = s.input;
    const ids = Array.from({ length: s.tokens }, (_, i) => Number(s.input.inputIds[i]));
    const x = new Float32Array(s.tokens * H);
    if (this.embeddingTable) {
      const t = this.embeddingTable;
      for (let i = 0; i < ids.length; i++) x.set(t.subarray(ids[i] * H, (ids[i] + 1) * H), i * H);
    } else {
      this.checkpoint.embeddingRows(ids, x);
    }
    const scale = this.arch.embeddingScale;
    if (scale !== null) for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] * scale);
    if (this.checkpoint.hasLearnedPositions()) {
      const positions = Array.from({ length: s.tokens }, (_, i) => i % seq);
      const p = new Float32Array(s.tokens * H);
      this.checkpoint.positionRows(positions, p);
      for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] + p[i]);
    }
    return x;
  }

  private async normalize(s: BatchState): Promise<Float32Array> {
    const inputs: Record<string, ort.Tensor> = {
      x: new ort.Tensor("float32", s.x, [s.tokens, this.config.hiddenSize]),
      norm: this.finalNorm.weight,
    };
    if (this.finalNorm.bias) inputs.norm_bias = this.finalNorm.bias;
    return (await (await this.sessions.final()).run(inputs)).out.data as Float32Array;
  }

  /** Block `i`'s weights as feeds: loaded once when resident, re-read into the same buffers when streaming. */
  /**
   * Block `i`'s weights as feeds, and what to call once every batch has run through it. Resident:
   * loaded once. Streaming: from the prefetcher (block i + 1 is read on another thread meanwhile), or,
   * for checkpoints another thread cannot read (pickled .bin), re-read here into one reused set.
   */
  private async weightsFor(i: number): Promise<{ feeds: Record<string, ort.Tensor>; done: () => void }> {
    if (!this.streaming) {
      while (this.weightSets.length <= i) {
        const weights = allocateBlockWeights(this.config);
        this.checkpoint.readBlock(this.weightSets.length, weights);
        this.weightSets.push({ weights, feeds: feedsOf(this.config, weights) });
      }
      return { feeds: this.weightSets[i].feeds, done: () => {} };
    }
    if (this.prefetcher === undefined) {
      const plan = this.checkpoint.readJobs(0) ? (b: number) => this.checkpoint.readJobs(b)! : null;
      this.prefetcher = plan
        ? new WeightPrefetcher([allocateBlockWeights(this.config), allocateBlockWeights(this.config)], plan)
        : null;
    }
    if (this.prefetcher) {
      const prefetcher = this.prefetcher;
      const weights = await prefetcher.take(i);
      // The next block of this group, or block 0 of the next group.
      const next = i + 1 < this.blocksNeeded ? i + 1 : 0;
      if (next !== i) prefetcher.prefetch(next);
      return { feeds: feedsOf(this.config, weights), done: () => prefetcher.recycle(weights) };
    }
    if (this.weightSets.length === 0) {
      const weights = allocateBlockWeights(this.config);
      this.weightSets.push({ weights, feeds: feedsOf(this.config, weights) });
    }
    const set = this.weightSets[0];
    if (this.loadedBlock !== i) {
      this.checkpoint.readBlock(i, set.weights);
      this.loadedBlock = i;
    }
    return { feeds: set.feeds, done: () => {} };
  }
}

/** The block graph's variants (MLP output or not, MLP edit inputs or not) and the final norm, built on first use. */
class BlockSessions {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(
    private readonly config: ModelConfig,
    private readonly options: ort.InferenceSession.SessionOptions,
  ) {}

  block(withMlp: boolean, mlpEdit: boolean): Promise<ort.InferenceSession> {
    return this.get(`block${withMlp ? "_mlp" : ""}${mlpEdit ? "_edit" : ""}`, (g) =>
      buildBlockGraph(g, this.config, withMlp, mlpEdit),
    );
  }

  final(): Promise<ort.InferenceSession> {
    return this.get("final_norm", (g) => buildFinalNormGraph(g, this.config));
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }

  private get(name: string, build: (g: GraphBuilder) => void): Promise<ort.InferenceSession> {
    let session = this.sessions.get(name);
    if (!session) {
      const g = new GraphBuilder(`codeneurons_${this.config.modelType}_${name}`);
      build(g);
      session = createSession(g.toModel({ opset: 17 }), this.options);
      this.sessions.set(name, session);
    }
    return session;
  }
}

/** Adds the time since the last mark to a part of `times` (nothing when there is none to fill). */
class Clock {
  private last = performance.now();

  constructor(private readonly times: ForwardTimes | undefined) {}

  lap(part: keyof ForwardTimes): void {
    const now = performance.now();
    if (this.times) this.times[part] += (now - this.last) / 1000;
    this.last = now;
  }

  /** Starts a new interval without counting the last one (the caller's sink). */
  skip(): void {
    this.last = performance.now();
  }
}

function feedsOf(cfg: ModelConfig, w: BlockWeights): Record<string, ort.Tensor> {
  const shapes = blockWeightShapes(cfg);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, data] of Object.entries(w)) {
    const shape = shapes[name as BlockWeightName];
    if (data && shape) feeds[name] = new ort.Tensor("float32", data, shape);
  }
  return feeds;
}

function checkLayers(layers: readonly number[], min: number, max: number, what: string): number[] {
  for (const l of layers) {
    if (!Number.isInteger(l) || l < min || l > max) {
      throw new UserError(`${what}: layer ${l} does not exist (this model has ${min} … ${max})`);
    }
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}
