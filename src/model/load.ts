import { type ModelConfig, readModelConfig } from "./config.js";
import { type ResolveModelOptions, resolveModelDir } from "./hub.js";
import { type RunnerOptions, TransformerRunner } from "./runner.js";
import { loadTokenizer, type WordTokenizer } from "./tokenizer/index.js";
import { openCheckpoint } from "./weights/index.js";

/**
 * A model ready to use: config, tokenizer, and a way to start its forward pass. Weights are read only
 * when a runner is created, one tensor at a time straight into the graph, so a model costs about one
 * copy of its weights in memory while the session is built, and none afterwards outside onnxruntime.
 */
export interface LoadedModel {
  /** The local model directory (a hub id resolves to its snapshot in the Hugging Face cache). */
  readonly dir: string;
  readonly config: ModelConfig;
  readonly tokenizer: WordTokenizer;
  /** Builds the ONNX graph from the checkpoint and opens an onnxruntime session on it. */
  createRunner(opts?: RunnerOptions): Promise<TransformerRunner>;
}

/** Loads a model from a local directory in Hugging Face layout or a hub id (`microsoft/codebert-base`). */
export async function loadModel(idOrDir: string, opts: ResolveModelOptions = {}): Promise<LoadedModel> {
  const dir = await resolveModelDir(idOrDir, opts);
  const config = readModelConfig(dir);
  const tokenizer = await loadTokenizer(dir);
  return {
    dir,
    config,
    tokenizer,
    createRunner: (runnerOpts: RunnerOptions = {}) => createRunnerFromDir(dir, config, runnerOpts),
  };
}

/** A runner for the checkpoint in `dir` (safetensors, sharded safetensors or pytorch_model.bin). */
export async function createRunnerFromDir(
  dir: string,
  config: ModelConfig,
  opts: RunnerOptions = {},
): Promise<TransformerRunner> {
  const checkpoint = openCheckpoint(dir);
  try {
    return await TransformerRunner.create(config, checkpoint, { source: checkpoint.path, ...opts });
  } finally {
    checkpoint.close();
  }
}
