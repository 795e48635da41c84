import { cpuOnly } from "../linalg/runtime.js";
import { BlockRunner } from "../model/block-runner.js";
import { loadModel } from "../model/load.js";
import { openCheckpoint } from "../model/weights/index.js";
import type { Site } from "../store/format.js";
import type { ActivationModel, ForwardSink, ForwardTimes, TokenBatch } from "./types.js";

export interface OpenModelOptions {
  /** Hidden-state layers the graph must emit (default all). */
  layers?: readonly number[];
  /** Sites to emit: the residual stream ("hidden") and / or the MLP neurons of the same blocks ("mlp"). */
  sites?: readonly Site[];
  threads?: number;
  revision?: string;
  /**
   * Block-streamed families: keep every block's weights in memory ("resident") or read one block at a
   * time ("stream", for models larger than memory); "auto" (default) decides by size.
   */
  weights?: "auto" | "resident" | "stream";
  /**
   * BERT, RoBERTa, GPT-2: where onnxruntime runs (RunnerOptions.thread). "worker": on a worker thread,
   * one batch ahead, so that averaging a batch's subwords and checking and hashing shards overlap the
   * next batch's forward pass; "main": on the calling thread, one batch after the other. Default:
   * "worker" on the CPU; other execution providers (CODENEURONS_EP) stay on the calling thread, where
   * they have been tested.
   */
  thread?: "main" | "worker";
}

/**
 * Longest window the LLM families run: their graphs materialise the attention scores, heads × S² floats
 * per sequence (2 GiB for 32 heads at 4,096 tokens), so longer sentences are split into overlapping
 * windows as for any model (every word still gets one vector, with up to this much context).
 */
export const BLOCK_WINDOW_TOKENS = 2048;

/**
 * Opens a Hugging Face model (directory or hub id) as an ActivationModel for extraction: the graph
 * emits only the layers asked for, so unused outputs cost nothing. BERT, RoBERTa and GPT-2 run as one
 * graph per batch; the block-streamed families (Llama … T5) layer by layer over a group of batches.
 */
export async function openActivationModel(
  source: string,
  opts: OpenModelOptions = {},
): Promise<ActivationModel & { release(): Promise<void> }> {
  const model = await loadModel(source, { revision: opts.revision });
  const cfg = model.config;
  const layers = [...(opts.layers ?? Array.from({ length: cfg.numLayers + 1 }, (_, i) => i))];
  const mlpLayers = (opts.sites ?? ["hidden"]).includes("mlp") ? layers.filter((l) => l >= 1) : [];
  const tok = model.tokenizer;
  const common = {
    source,
    modelType: cfg.modelType,
    numLayers: cfg.numLayers,
    hidden: cfg.hiddenSize,
    intermediate: cfg.intermediateSize,
    maxTokens: Math.min(
      cfg.maxSequenceLength,
      tok.maxLength ?? Number.POSITIVE_INFINITY,
      cfg.blocks ? BLOCK_WINDOW_TOKENS : Number.POSITIVE_INFINITY,
    ),
    causal: cfg.causal,
    tokenizer: tok,
  };
  const toRunInput = (b: TokenBatch) => ({
    batch: b.batch,
    seq: b.seq,
    inputIds: b.ids,
    attentionMask: b.mask,
  });

  if (cfg.blocks) {
    const runner = await BlockRunner.create(cfg, openCheckpoint(model.dir), {
      layers,
      mlpLayers,
      threads: opts.threads,
      weights: opts.weights,
    });
    return {
      ...common,
      layers: runner.layers,
      mlpLayers: runner.mlpLayers,
      streaming: runner.streaming,
      forwardGroup: (batches: readonly TokenBatch[], sink: ForwardSink, times?: ForwardTimes) =>
        runner.runGroup(batches.map(toRunInput), sink, [], times),
      release: () => runner.release(),
    };
  }

  const runner = await model.createRunner({
    layers,
    intermediates: mlpLayers,
    threads: opts.threads,
    thread: opts.thread ?? (cpuOnly() ? "worker" : "main"),
  });
  return {
    ...common,
    layers: runner.layers,
    mlpLayers: runner.intermediateLayers,
    streaming: false,
    async forwardGroup(
      batches: readonly TokenBatch[],
      sink: ForwardSink,
      times?: ForwardTimes,
    ): Promise<void> {
      // Batch b + 1 is handed to onnxruntime before batch b's outputs go to the sink: on a worker
      // thread it computes meanwhile. `run` is the time spent waiting for it, `feeds` what handing it
      // over took (the runner's own split would count the sink's time as waiting).
      const start = (b: number) => {
        const t0 = performance.now();
        const out = runner.run(toRunInput(batches[b]));
        if (times) times.feeds += (performance.now() - t0) / 1000;
        return out;
      };
      let next = batches.length > 0 ? start(0) : null;
      try {
        for (let b = 0; b < batches.length; b++) {
          const t0 = performance.now();
          const out = await next!;
          if (times) times.run += (performance.now() - t0) / 1000;
          next = b + 1 < batches.length ? start(b + 1) : null;
          for (const [layer, data] of out.hidden) sink(b, "hidden", layer, data);
          for (const [layer, data] of out.intermediate) sink(b, "mlp", layer, data);
        }
      } catch (e) {
        // The error that stopped the group is the one to report; a run still going must not outlive it.
        await next?.catch(() => {});
        throw e;
      }
    },
    release: () => runner.release(),
  };
}
