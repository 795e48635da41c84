import { quoteTsvField } from "../data/task/tsv.js";
import { extractRows } from "../extract/extract.js";
import { formatResultsJson } from "../redundancy/pipeline/results.js";
import { readSentenceInput } from "../store/input.js";
import { writeFileAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import type { CompressedCard, Prediction, PredictionsFile } from "./format.js";
import { PREDICTIONS_FORMAT, PREDICTIONS_VERSION } from "./format.js";
import { type CompressedModel, openCompressedModel } from "./model.js";

/**
 * Labels from a compressed model (`codeneurons predict`): every word of every line for token tagging,
 * one label per line (or per pair of lines) for sentence-level tasks, with the class probabilities
 * (softmax of the logits). Words are read, tokenized, windowed, batched and averaged exactly as
 * extraction does (extract/extract.ts extractRows), so a word's logits are the probe's on the word's
 * vector as a store would hold it, up to the order of float32 sums.
 */
export interface SentenceScores {
  /** Rows scored: words (token tagging) or sentences (sentence-level). */
  rows: number;
  /** Line l's rows are [firstRow[l], firstRow[l + 1]) (sentence-level: 0 or 1 row). */
  firstRow: Int32Array;
  /** Softmax of each row's logits, [rows × classes]. */
  probabilities: Float64Array;
  /** The most probable class of each row (ties: the lower index, as the probe's predict). */
  labels: Int32Array;
}

export interface ScoreOptions {
  batchTokens?: number;
  quiet?: boolean;
  label?: string;
}

export function levelOf(card: CompressedCard): "word" | "sentence" {
  return card.input.kind === "token" ? "word" : "sentence";
}

/** Scores lines (words as written, escaped); pairs take the b side's lines in `b`. */
export async function scoreSentences(
  model: CompressedModel,
  a: readonly (readonly string[])[],
  b?: readonly (readonly string[])[],
  opts: ScoreOptions = {},
): Promise<SentenceScores> {
  const card = model.card;
  const C = card.probe.classes.length;
  const pair = card.input.kind === "pair";
  if (pair !== (b !== undefined))
    throw new UserError(
      pair
        ? "this model classifies pairs: give the b side's lines too (--input-b)"
        : "this model does not classify pairs: --input-b does not apply",
    );
  const settings = {
    level: levelOf(card),
    aggregation: card.input.aggregation,
    sentenceRepresentation: card.input.sentenceRepresentation,
    batchTokens: opts.batchTokens,
    quiet: opts.quiet,
    label: opts.label ?? "predict",
  };
  const sideA = await extractRows(model.activations, a, settings);
  const logitsA = sideA.blocks[0].data;
  const width = sideA.blocks[0].dim;
  let firstRow = sideA.firstRow;
  let rows = sideA.rows;
  let logits: Float64Array;
  if (b) {
    if (b.length !== a.length) throw new UserError(`pairs: ${a.length} a lines but ${b.length} b lines`);
    const sideB = await extractRows(model.activations, b, settings);
    const logitsB = sideB.blocks[0].data;
    // A pair is scored when both its lines are non-empty.
    firstRow = new Int32Array(a.length + 1);
    const pairs: [number, number][] = [];
    for (let l = 0; l < a.length; l++) {
      const has = sideA.firstRow[l + 1] > sideA.firstRow[l] && sideB.firstRow[l + 1] > sideB.firstRow[l];
      if (has) pairs.push([sideA.firstRow[l], sideB.firstRow[l]]);
      firstRow[l + 1] = pairs.length;
    }
    rows = pairs.length;
    logits = new Float64Array(rows * C);
    pairs.forEach(([ra, rb], r) => {
      for (let c = 0; c < C; c++) logits[r * C + c] = logitsA[ra * width + c] + logitsB[rb * width + C + c];
    });
  } else {
    logits = Float64Array.from(logitsA);
  }
  const probabilities = new Float64Array(rows * C);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[o + c] > logits[o + best]) best = c;
    labels[r] = best;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp(logits[o + c] - logits[o + best]);
      probabilities[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < C; c++) probabilities[o + c] /= sum;
  }
  return { rows, firstRow, probabilities, labels };
}

export interface PredictOptions {
  /** The compressed model: its directory, card.json or model.onnx. */
  model: string;
  input: string;
  /** Pair models: the b side's lines, parallel to `input`. */
  inputB?: string;
  /** Write here (atomically); default: return the text only. */
  out?: string;
  format?: "tsv" | "json";
  batchTokens?: number;
  threads?: number;
  quiet?: boolean;
}

export interface PredictResult {
  text: string;
  level: "word" | "sentence";
  predictions: number;
  /** Lines that got no prediction (empty lines; pairs with an empty side). */
  unlabelledLines: number;
}

const round = (p: number) => Number(p.toPrecision(6));

export async function runPredict(opts: PredictOptions): Promise<PredictResult> {
  const model = await openCompressedModel(opts.model, { threads: opts.threads });
  try {
    const card = model.card;
    const level = levelOf(card);
    const a = await readSentenceInput(opts.input);
    const b = opts.inputB ? await readSentenceInput(opts.inputB) : undefined;
    if (b && b.lines.length !== a.lines.length)
      throw new InputError(
        b.file,
        `has ${b.lines.length} lines but ${a.file} has ${a.lines.length}: the two sides of pairs must be parallel`,
      );
    const scores = await scoreSentences(model, a.lines, b?.lines, {
      batchTokens: opts.batchTokens,
      quiet: opts.quiet,
    });
    const classes = card.probe.classes;
    const C = classes.length;
    const predictions: Prediction[] = [];
    let unlabelledLines = 0;
    a.lines.forEach((words, line) => {
      const first = scores.firstRow[line];
      const end = scores.firstRow[line + 1];
      if (end === first) unlabelledLines++;
      for (let r = first; r < end; r++) {
        const probs = Array.from(scores.probabilities.subarray(r * C, (r + 1) * C), round);
        predictions.push({
          sentence: line,
          ...(level === "word" ? { word: r - first, token: words[r - first] } : {}),
          label: classes[scores.labels[r]],
          probability: probs[scores.labels[r]],
          probabilities: probs,
        });
      }
    });
    const text =
      (opts.format ?? "tsv") === "json"
        ? formatResultsJson(predictionsFile(opts, card, level, predictions))
        : predictionsTsv(level, classes, predictions);
    if (opts.out) await writeFileAtomic(opts.out, text);
    return { text, level, predictions: predictions.length, unlabelledLines };
  } finally {
    await model.release();
  }
}

function predictionsFile(
  opts: PredictOptions,
  card: CompressedCard,
  level: "word" | "sentence",
  predictions: Prediction[],
): PredictionsFile {
  return {
    format: PREDICTIONS_FORMAT,
    version: PREDICTIONS_VERSION,
    model: opts.model,
    input: [opts.input, ...(opts.inputB ? [opts.inputB] : [])],
    level,
    classes: [...card.probe.classes],
    predictions,
  };
}

/** One row per prediction: where, the label, its probability, then every class's (header `p:CLASS`). */
export function predictionsTsv(
  level: "word" | "sentence",
  classes: readonly string[],
  predictions: readonly Prediction[],
): string {
  const head = [
    "sentence",
    ...(level === "word" ? ["word", "token"] : []),
    "label",
    "probability",
    ...classes.map((c) => `p:${c}`),
  ];
  const lines = [head.map(quoteTsvField).join("\t")];
  for (const p of predictions) {
    const where =
      level === "word"
        ? [String(p.sentence), String(p.word), quoteTsvField(p.token ?? "")]
        : [String(p.sentence)];
    lines.push(
      [...where, quoteTsvField(p.label), String(p.probability), ...p.probabilities.map(String)].join("\t"),
    );
  }
  return `${lines.join("\n")}\n`;
}
