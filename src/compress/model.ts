import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ActivationModel, ForwardSink, ForwardTimes, TokenBatch } from "../extract/types.js";
import { createSession, ort } from "../linalg/runtime.js";
import { transformerSessionOptions } from "../model/runner.js";
import { loadTokenizer } from "../model/tokenizer/index.js";
import { InputError } from "../util/errors.js";
import { readJsonFile } from "../util/json.js";
import { type CompressedCard, parseCompressedCard } from "./format.js";

/** The files of a compressed model directory. */
export const CARD_FILE = "card.json";
export const MODEL_FILE = "model.onnx";
export const MODEL_DATA_FILE = "model.onnx.data";

/**
 * A compressed model opened for prediction: its card, its tokenizer, and its graph as an
 * ActivationModel whose one output ("hidden" layer 0, width sides × classes) is the per-token logits
 * (or the kept units),
 * so that extraction's own tokenization, windowing, batching and subword → word averaging read it.
 */
export interface CompressedModel {
  readonly dir: string;
  readonly card: CompressedCard;
  readonly activations: ActivationModel;
  release(): Promise<void>;
}

/** The directory of a compressed model given as the directory, its card.json or its model.onnx. */
export function compressedDir(path: string): string {
  if (existsSync(path) && statSync(path).isFile()) {
    const name = basename(path);
    if (name === CARD_FILE || name === MODEL_FILE) return dirname(path);
  }
  return path;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export async function readCompressedCard(path: string): Promise<{ dir: string; card: CompressedCard }> {
  const dir = compressedDir(path);
  if (!existsSync(dir)) throw new InputError(path, "no such compressed model (file or directory)");
  const file = join(dir, CARD_FILE);
  const card = await readJsonFile(
    file,
    parseCompressedCard,
    `not found: ${path} is not a compressed model (\`codeneurons compress\` writes ${CARD_FILE} beside ${MODEL_FILE})`,
  );
  return { dir, card };
}

/**
 * Opens a compressed model; `card` (compress/stage.ts, measuring the model it is writing) stands in
 * for the directory's card.json. `output` "neurons" makes the ActivationModel emit the kept units
 * (the graph's `neurons` output, card.neurons.ids in order) instead of the logits, so that
 * extraction's word averaging reads them as it read the run's stored activations.
 */
export async function openCompressedModel(
  path: string,
  opts: { threads?: number; card?: CompressedCard; output?: "logits" | "neurons" } = {},
): Promise<CompressedModel> {
  const { dir, card } = opts.card ? { dir: path, card: opts.card } : await readCompressedCard(path);
  const modelFile = join(dir, card.files.model);
  if (!existsSync(modelFile))
    throw new InputError(join(dir, CARD_FILE), `names ${card.files.model}, which is missing`, {
      field: "files.model",
    });
  for (const f of [...card.files.tokenizer, ...(card.files.externalData ? [card.files.externalData] : [])])
    if (!existsSync(join(dir, f)))
      throw new InputError(
        join(dir, CARD_FILE),
        `names ${f === card.files.externalData ? "its weights file" : "tokenizer file"} ${f}, which is missing`,
        {
          field: "files.tokenizer",
        },
      );
  const digest = await sha256File(modelFile);
  if (digest !== card.files.sha256)
    throw new InputError(
      modelFile,
      `is not the model the card describes (sha256 ${digest.slice(0, 12)}…, the card says ${card.files.sha256.slice(0, 12)}…): damaged or replaced`,
    );
  const tokenizer = await loadTokenizer(dir);
  let session: ort.InferenceSession;
  try {
    session = await createSession(modelFile, transformerSessionOptions({ threads: opts.threads }));
  } catch (e) {
    throw new InputError(modelFile, `onnxruntime cannot load it (${(e as Error).message})`);
  }
  const output = opts.output ?? "logits";
  const width = output === "logits" ? card.set.sides * card.probe.classes.length : card.neurons.ids.length;
  const activations: ActivationModel = {
    source: dir,
    modelType: card.source.modelType,
    numLayers: 0,
    hidden: width,
    layers: [0],
    mlpLayers: [],
    streaming: false,
    maxTokens: Math.min(card.input.maxTokens, tokenizer.maxLength ?? Number.POSITIVE_INFINITY),
    causal: card.input.causal,
    tokenizer,
    async forwardGroup(batches: readonly TokenBatch[], sink: ForwardSink, times?: ForwardTimes) {
      for (const [b, batch] of batches.entries()) {
        const t0 = performance.now();
        const dims = [batch.batch, batch.seq];
        const feeds = {
          input_ids: new ort.Tensor(
            "int64",
            BigInt64Array.from(batch.ids, (v) => BigInt(v)),
            dims,
          ),
          attention_mask: new ort.Tensor(
            "int64",
            BigInt64Array.from(batch.mask, (v) => BigInt(v)),
            dims,
          ),
        };
        const t1 = performance.now();
        const out = await session.run(feeds, [output]);
        const t2 = performance.now();
        const logits = out[output];
        if (logits?.type !== "float32") throw new Error(`the compressed model returned no float32 ${output}`);
        if (times) {
          times.feeds += (t1 - t0) / 1000;
          times.run += (t2 - t1) / 1000;
        }
        sink(b, "hidden", 0, logits.data as Float32Array);
      }
    },
  };
  return { dir, card, activations, release: () => session.release() };
}
