import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuOnly, createSession, ort } from "../linalg/runtime.js";
import { createWorkerSession, type SessionLike } from "../linalg/worker-session.js";
import { writeFileAtomic } from "../util/atomic.js";
import { UserError } from "../util/errors.js";
import {
  buildTransformerGraph,
  type GraphInputName,
  type GraphOptions,
  type TensorSource,
  type TransformerGraph,
} from "./arch/index.js";
import { editInputName } from "./arch/ops.js";
import type { GraphOutput } from "./arch/plan.js";
import type { ModelConfig } from "./config.js";
import type { UnitEdit } from "./intervention.js";
import type { TensorMap } from "./weights/tensor.js";

/**
 * Runs a transformer checkpoint on onnxruntime: one session per model, reused for every batch, on all
 * cores (CODENEURONS_THREADS) and the execution provider CODENEURONS_EP names (CPU by default).
 */
export interface RunnerOptions extends GraphOptions {
  /** Names the checkpoint in error messages; default "<model_type> checkpoint". */
  source?: string;
  /** onnxruntime threads; default CODENEURONS_THREADS or all cores. */
  threads?: number;
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /**
   * Where the graph's weights live while the session is created. "auto" (default): inside the model
   * bytes unless they exceed ~1.9 GB (protobuf's 2 GiB message limit), else in a temporary
   * `model.onnx` + `model.onnx.data` pair that is deleted on release(). "always" forces the files.
   */
  externalData?: "auto" | "always";
  /** Directory for those files; default the OS temp dir. */
  tempDir?: string;
  /** Further onnxruntime session options (profiling, spinning, …), applied last. */
  session?: ort.InferenceSession.SessionOptions;
  /**
   * Where onnxruntime runs: "main" (default), on the calling thread, which waits; "worker", on a worker
   * thread (linalg/worker-session.ts), so that the caller can work on one batch's outputs while the
   * next computes (extraction does).
   */
  thread?: "main" | "worker";
}

type IntArray = ArrayLike<number> | BigInt64Array;

export interface RunInput {
  batch: number;
  seq: number;
  /** Token ids, row-major [batch, seq]. */
  inputIds: IntArray;
  /** 1 for tokens, 0 for padding; default all ones. Padding goes on the right. */
  attentionMask?: IntArray;
  /** Segment ids for models with several token types; default zeros. */
  tokenTypeIds?: IntArray;
}

export interface RunOutput {
  /** Hidden states [batch, seq, hidden] by layer (0 = embeddings), for the layers the runner emits. */
  hidden: ReadonlyMap<number, Float32Array>;
  /** Feed-forward activations [batch, seq, intermediate] by block (1 … L), when asked for. */
  intermediate: ReadonlyMap<number, Float32Array>;
}

/**
 * Seconds a forward pass spent in each part, added to by forwardGroup when the caller passes it
 * (`extract --profile`). Time inside the caller's sink is the caller's and is not counted here.
 */
export interface ForwardTimes {
  /** Building the runtime's inputs: int64 ids, masks, positions (block models: embeddings, RoPE tables). */
  feeds: number;
  /** onnxruntime's run, as the caller waits for it (the runtime's copy of its outputs included). */
  run: number;
  /** Reading the outputs back from the runtime's result into the arrays handed to the sink. */
  readback: number;
  /** Waiting for a streamed block's weights (block models reading their weights block by block). */
  weights: number;
}

export function emptyForwardTimes(): ForwardTimes {
  return { feeds: 0, run: 0, readback: 0, weights: 0 };
}

/** Above this many initializer bytes the graph goes to disk with external data. */
const INLINE_LIMIT = 1.9e9;

export class TransformerRunner {
  private constructor(
    readonly config: ModelConfig,
    readonly outputs: readonly GraphOutput[],
    private readonly inputNames: readonly GraphInputName[],
    private readonly session: SessionLike,
    /** Checkpoint tensors the graph did not need (LM heads, poolers, buffers). */
    readonly unusedTensors: readonly string[],
    private readonly tempFiles: string | null,
    /** Intervention points of an editable graph (GraphOptions.editable); empty otherwise. */
    private readonly editPoints: TransformerGraph["editPoints"],
  ) {}

  static async create(
    config: ModelConfig,
    weights: TensorMap | TensorSource,
    opts: RunnerOptions = {},
  ): Promise<TransformerRunner> {
    const source = opts.source ?? `${config.modelType} checkpoint`;
    const graph = buildTransformerGraph(config, weights, source, opts);
    const sessionOpts = transformerSessionOptions(opts);
    const external = opts.externalData === "always" || graph.builder.initializerBytes() > INLINE_LIMIT;
    const open = opts.thread === "worker" ? createWorkerSession : createSession;
    let tempFiles: string | null = null;
    let session: SessionLike;
    if (external) {
      tempFiles = mkdtempSync(join(opts.tempDir ?? tmpdir(), "codeneurons-graph-"));
      try {
        const { model, data } = graph.builder.toModelWithExternalData("model.onnx.data", graph.opsets);
        await writeFileAtomic(join(tempFiles, "model.onnx.data"), data);
        await writeFileAtomic(join(tempFiles, "model.onnx"), model);
        session = await open(join(tempFiles, "model.onnx"), sessionOpts);
      } catch (e) {
        rmSync(tempFiles, { recursive: true, force: true });
        throw e;
      }
    } else {
      session = await open(graph.builder.toModel(graph.opsets), sessionOpts);
    }
    return new TransformerRunner(
      config,
      graph.outputs,
      graph.inputs,
      session,
      graph.unusedTensors,
      tempFiles,
      graph.editPoints,
    );
  }

  /** Layers whose hidden states `run` returns. */
  get layers(): number[] {
    return this.outputs.filter((o) => o.kind === "hidden").map((o) => o.layer);
  }

  get intermediateLayers(): number[] {
    return this.outputs.filter((o) => o.kind === "intermediate").map((o) => o.layer);
  }

  /**
   * Runs one batch; `edits` (an editable runner only) change units inside the forward pass, the other
   * intervention points are fed the identity.
   */
  async run(input: RunInput, edits: readonly UnitEdit[] = [], times?: ForwardTimes): Promise<RunOutput> {
    const t0 = performance.now();
    const feeds = { ...this.feeds(input), ...this.editFeeds(edits) };
    const t1 = performance.now();
    const results = await this.session.run(feeds);
    const t2 = performance.now();
    const hidden = new Map<number, Float32Array>();
    const intermediate = new Map<number, Float32Array>();
    for (const o of this.outputs) {
      const t = results[o.name];
      if (t?.type !== "float32") throw new Error(`onnxruntime returned no float32 '${o.name}'`);
      (o.kind === "hidden" ? hidden : intermediate).set(o.layer, t.data as Float32Array);
    }
    if (times) {
      times.feeds += (t1 - t0) / 1000;
      times.run += (t2 - t1) / 1000;
      times.readback += (performance.now() - t2) / 1000;
    }
    return { hidden, intermediate };
  }

  private editFeeds(edits: readonly UnitEdit[]): Record<string, ort.Tensor> {
    if (this.editPoints.length === 0) {
      if (edits.length > 0) throw new UserError("run: this runner was created without intervention points");
      return {};
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of this.editPoints) {
      const edit = edits.find((e) => e.site === p.site && e.layer === p.layer);
      const name = editInputName(p.site, p.layer);
      const w = p.width;
      feeds[`${name}_scale`] = new ort.Tensor("float32", edit?.scale ?? identityScale(w), [w]);
      feeds[`${name}_value`] = new ort.Tensor("float32", edit?.value ?? new Float32Array(w), [w]);
      feeds[`${name}_replace`] = new ort.Tensor("bool", edit?.replace ?? new Uint8Array(w), [w]);
    }
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.tempFiles) rmSync(this.tempFiles, { recursive: true, force: true });
  }

  private feeds(input: RunInput): Record<string, ort.Tensor> {
    const cfg = this.config;
    const { batch, seq } = input;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(seq) || seq < 1) {
      throw new UserError(`run: batch and seq must be positive integers (got ${batch} × ${seq})`);
    }
    if (seq > cfg.maxSequenceLength) {
      throw new UserError(
        `run: sequence of ${seq} tokens is longer than the model's ${cfg.maxSequenceLength} positions`,
      );
    }
    const n = batch * seq;
    const ids = toInt64(input.inputIds, n, "inputIds");
    checkRange(ids, 0, cfg.vocabSize, seq, "token id", "the vocabulary");
    const mask = input.attentionMask ? toInt64(input.attentionMask, n, "attentionMask") : ones(n);
    checkRange(mask, 0, 2, seq, "attention mask value", "{0, 1}");
    const dims = [batch, seq];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", ids, dims),
      attention_mask: new ort.Tensor("int64", mask, dims),
    };
    // A graph with derived inputs (GraphOptions.derivedInputs) computes positions itself.
    if (this.inputNames.includes("position_ids"))
      feeds.position_ids = new ort.Tensor("int64", positionIds(cfg, ids, batch, seq), dims);
    if (this.inputNames.includes("token_type_ids")) {
      const types = input.tokenTypeIds
        ? toInt64(input.tokenTypeIds, n, "tokenTypeIds")
        : new BigInt64Array(n);
      checkRange(types, 0, cfg.typeVocabSize, seq, "token type id", "the token types");
      feeds.token_type_ids = new ort.Tensor("int64", types, dims);
    }
    return feeds;
  }
}

/**
 * The onnxruntime settings of a transformer graph's session (defaultExtra below, then the caller's):
 * a graph built elsewhere from the same builders (compress/) runs with these to compute what the
 * runner computes, bit for bit.
 */
export function transformerSessionOptions(
  opts: Pick<RunnerOptions, "graphOptimizationLevel" | "threads" | "session"> = {},
): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    ...opts.session,
    extra: mergeExtra(defaultExtra(), opts.session?.extra),
  };
}

/**
 * Session settings chosen on the BERT-base-sized benchmark (bench/forward.ts; figures in bench/RESULTS.md):
 * - no SkipLayerNormFusion on CPU: the fused node is slower there than Add + LayerNormalization
 *   (see arch/ops.ts). Other providers keep it.
 * - worker threads sleep instead of spinning between parallel sections: the same CPU time for the
 *   forward pass, and no cores burnt while the caller aggregates between batches or while other
 *   processes share the machine.
 */
function defaultExtra(): Record<string, unknown> {
  return {
    session: { intra_op: { allow_spinning: "0" } },
    ...(cpuOnly() ? { optimization: { disable_specified_optimizers: "SkipLayerNormFusion" } } : {}),
  };
}

/** Two levels of onnxruntime's nested config keys (`session.intra_op.allow_spinning` …), `b` winning. */
function mergeExtra(
  a: Record<string, unknown>,
  b: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) {
    const prev = out[k];
    const bothObjects = typeof v === "object" && v !== null && typeof prev === "object" && prev !== null;
    out[k] = bothObjects ? { ...(prev as Record<string, unknown>), ...(v as Record<string, unknown>) } : v;
  }
  return out;
}

/**
 * Position ids as transformers computes them when none are given: RoBERTa numbers non-padding tokens
 * from padding_idx + 1 and gives padding tokens padding_idx (create_position_ids_from_input_ids);
 * BERT and GPT-2 use 0 … seq − 1.
 */
export function positionIds(cfg: ModelConfig, ids: BigInt64Array, batch: number, seq: number): BigInt64Array {
  const out = new BigInt64Array(batch * seq);
  if (cfg.modelType === "roberta") {
    const pad = BigInt(cfg.padTokenId ?? 1);
    for (let b = 0; b < batch; b++) {
      let count = 0n;
      for (let s = 0; s < seq; s++) {
        const i = b * seq + s;
        if (ids[i] === pad) out[i] = pad;
        else out[i] = pad + ++count;
      }
    }
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = BigInt(i % seq);
  return out;
}

function identityScale(width: number): Float32Array {
  return new Float32Array(width).fill(1);
}

function toInt64(values: IntArray, n: number, what: string): BigInt64Array {
  if (values.length !== n) throw new UserError(`run: ${what} has ${values.length} values, expected ${n}`);
  if (values instanceof BigInt64Array) return values;
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) throw new UserError(`run: ${what}[${i}] = ${v} is not an integer`);
    out[i] = BigInt(v);
  }
  return out;
}

function checkRange(values: BigInt64Array, lo: number, hi: number, seq: number, what: string, range: string) {
  const l = BigInt(lo);
  const h = BigInt(hi);
  for (let i = 0; i < values.length; i++) {
    if (values[i] < l || values[i] >= h) {
      const where = `[${Math.floor(i / seq)}, ${i % seq}]`;
      throw new UserError(`run: ${what} ${values[i]} at ${where} is outside ${range} (${lo} … ${hi - 1})`);
    }
  }
}

function ones(n: number): BigInt64Array {
  return new BigInt64Array(n).fill(1n);
}
