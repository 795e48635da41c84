import { loadModel } from "../model/load.js";
import type { TransformerRunner } from "../model/runner.js";
import type { ActivationModel, ForwardOutput, ForwardRequest, TokenBatch } from "./types.js";

export interface OpenModelOptions {
  /** Hidden-state layers the graph must emit (default all). */
  layers?: readonly number[];
  /** Also emit the feed-forward activations of those layers' blocks. */
  ffn?: boolean;
  threads?: number;
  revision?: string;
}

/**
 * Opens a Hugging Face model (directory or hub id) as an ActivationModel for extraction: the graph
 * emits only the layers asked for, so unused outputs cost nothing.
 */
export async function openActivationModel(
  source: string,
  opts: OpenModelOptions = {},
): Promise<ActivationModel & { release(): Promise<void> }> {
  const model = await loadModel(source, { revision: opts.revision });
  const cfg = model.config;
  const layers = opts.layers ?? Array.from({ length: cfg.numLayers + 1 }, (_, i) => i);
  const intermediates = opts.ffn ? layers.filter((l) => l >= 1) : [];
  const runner: TransformerRunner = await model.createRunner({
    layers,
    intermediates,
    threads: opts.threads,
  });
  const tok = model.tokenizer;
  return {
    source,
    modelType: cfg.modelType,
    numLayers: cfg.numLayers,
    hidden: cfg.hiddenSize,
    intermediate: cfg.intermediateSize,
    maxTokens: Math.min(cfg.maxSequenceLength, tok.maxLength ?? Number.POSITIVE_INFINITY),
    causal: cfg.causal,
    tokenizer: tok,
    async forward(batch: TokenBatch, want: ForwardRequest): Promise<ForwardOutput> {
      const out = await runner.run({
        batch: batch.batch,
        seq: batch.seq,
        inputIds: batch.ids,
        attentionMask: batch.mask,
      });
      for (const l of want.layers)
        if (!out.hidden.has(l)) throw new Error(`the model graph does not emit layer ${l}`);
      return { hidden: new Map(out.hidden), ffn: want.ffn ? new Map(out.intermediate) : undefined };
    },
    release: () => runner.release(),
  };
}
