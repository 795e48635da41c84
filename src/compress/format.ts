import { z } from "zod";
import { checkJson, envelope, readVersioned } from "../util/json.js";
import { SITES } from "../util/neurons.js";

/**
 * The two files `codeneurons compress` writes beside model.onnx, and the one `codeneurons predict`
 * writes with --format json.
 *
 * card.json (codeneurons-compressed): what the ONNX graph is and where it came from. The graph takes
 * input_ids and attention_mask (int64 [batch, sequence], padding on the right, mask 1 for tokens) and
 * gives `logits` (float32 [batch, sequence, sides × classes]): the set's probe applied to every token's
 * selected neurons, standardisation folded into its weights. A word's scores are the mean of its
 * subwords' (the probe is linear, so this is the probe on the word's averaged neurons, as the store
 * held them); a sentence's are its representation token's (or the mean over its words). Pairs: the
 * first `classes` columns are the a side's scores with the bias, the next the b side's; a pair's
 * scores are the sum. `neurons` ([batch, sequence, neurons.ids.length]) are the selected units
 * themselves, in `neurons.ids` order. Timings of the compress run go to run-record.json, not here.
 */
export const COMPRESSED_FORMAT = "codeneurons-compressed";
export const COMPRESSED_VERSION = 1;

export const SET_NAMES = ["ls+cc+lca", "lca", "cc", "ls", "oracle"] as const;
export type SetName = (typeof SET_NAMES)[number];

const count = z.number().int().min(0);
const fraction = z.number().min(0).max(1);

export const COMPRESSED_CARD_SCHEMA = z
  .object({
    ...envelope(COMPRESSED_FORMAT, COMPRESSED_VERSION),
    files: z.object({
      /** The ONNX model, relative to the card. */
      model: z.string(),
      /** Its weights when they are stored outside it (models over ~1.9 GB), else null. */
      externalData: z.string().nullable(),
      sha256: z.string(),
      bytes: count,
      /** Tokenizer files copied from the source model (config.json included: the tokenizer reads it). */
      tokenizer: z.array(z.string()),
    }),
    graph: z.object({
      inputs: z.array(z.string()),
      outputs: z.array(z.string()),
      opset: count,
      /** Further operator sets: com.microsoft when the graph uses onnxruntime's fused operators. */
      extraOpsets: z.record(z.string(), count),
    }),
    source: z.object({
      /** The model the results were computed with (directory or hub id, as recorded). */
      model: z.string(),
      modelType: z.string(),
      /** Transformer blocks of the source model. */
      numLayers: count,
      hidden: count,
      /** The results directory and the redundancy summary row the set is. */
      results: z.string(),
    }),
    set: z.object({
      name: z.enum(SET_NAMES),
      /** The summary row's name and setting, e.g. "LS+CC+LCA", "δ=0.03, no clustering, layers 0-2". */
      row: z.string(),
      detail: z.string(),
      site: z.enum(SITES),
      /** 2 for pair tasks ([v(a); v(b)]). */
      sides: z.number().int().min(1).max(2),
      /** The probe's inputs: neuron ids of the site in the probe's order (pairs: b side offset by sideOffset). */
      ids: z.array(count),
      sideOffset: count,
    }),
    layers: z.object({
      /** Layers whose neurons the set uses (hidden: 0 = embeddings; mlp: blocks). */
      used: z.array(count),
      /** Blocks the graph computes: the network is cut after this block (0: embeddings only). */
      blocks: count,
      /** Blocks of the source model. */
      of: count,
    }),
    neurons: z.object({
      /** Units the graph gathers (the `neurons` output), ids of the site, ascending. */
      ids: z.array(count),
      names: z.array(z.string()),
      /** Neurons of the site in the source model's stored layers (the reduction's denominator). */
      of: count,
    }),
    probe: z.object({
      classes: z.array(z.string()),
      lambda1: z.number().min(0),
      lambda2: z.number().min(0),
    }),
    input: z.object({
      /** Rows the task labels: words (token tagging) or sentences (one sentence or a pair). */
      kind: z.enum(["token", "sentence", "pair"]),
      aggregation: z.enum(["first", "last", "average"]),
      sentenceRepresentation: z.enum(["first", "last", "mean"]),
      /** Longest window the graph is run on, special tokens included. */
      maxTokens: z.number().int().min(1),
      causal: z.boolean(),
    }),
    accuracy: z.object({
      /** What the redundancy run reported for the set (its probe on the stored activations). */
      run: z.object({ dev: fraction, test: fraction }),
      /** The compressed model itself on the run's test rows (tokenized and run from the words). */
      measured: z.object({
        split: z.literal("test"),
        rows: count,
        accuracy: fraction,
        /** Rows where it predicts what the run's probe predicts from the stored activations. */
        agreement: count,
      }),
    }),
    warnings: z.array(z.string()),
  })
  .describe("codeneurons compress card.json: a task model cut from a redundancy run, beside model.onnx");
export type CompressedCard = z.infer<typeof COMPRESSED_CARD_SCHEMA>;

export function parseCompressedCard(value: unknown, file: string): CompressedCard {
  return readVersioned(
    value,
    file,
    { format: COMPRESSED_FORMAT, version: COMPRESSED_VERSION },
    { 1: (v) => checkJson(COMPRESSED_CARD_SCHEMA, v, file) },
  );
}

/** predictions.json (`codeneurons predict --format json`). */
export const PREDICTIONS_FORMAT = "codeneurons-predictions";
export const PREDICTIONS_VERSION = 1;

export const PREDICTION_SCHEMA = z.object({
  /** 0-based line of the input (pairs: of both files). */
  sentence: count,
  /** Word-level models: 0-based word of the line, and the word as written. */
  word: count.optional(),
  token: z.string().optional(),
  label: z.string(),
  /** Probability of the label. */
  probability: fraction,
  /** Probability of every class, in `classes` order. */
  probabilities: z.array(fraction),
});
export type Prediction = z.infer<typeof PREDICTION_SCHEMA>;

export const PREDICTIONS_SCHEMA = z
  .object({
    ...envelope(PREDICTIONS_FORMAT, PREDICTIONS_VERSION),
    /** The compressed model's card. */
    model: z.string(),
    input: z.array(z.string()),
    level: z.enum(["word", "sentence"]),
    classes: z.array(z.string()),
    predictions: z.array(PREDICTION_SCHEMA),
  })
  .describe("codeneurons predict --format json: labels and probabilities of a compressed model");
export type PredictionsFile = z.infer<typeof PREDICTIONS_SCHEMA>;
