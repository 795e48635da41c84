import { BlockRunner } from "../model/block-runner.js";
import type { ModelConfig } from "../model/config.js";
import { type LmHead, openLmHead } from "../model/heads.js";
import type { UnitEdit } from "../model/intervention.js";
import { createRunnerFromDir, loadModel } from "../model/load.js";
import type { RunInput, TransformerRunner } from "../model/runner.js";
import { encodeWords, type WordTokenizer } from "../model/tokenizer/index.js";
import { openCheckpoint } from "../model/weights/index.js";
import { UserError } from "../util/errors.js";
import { type Matrix, matrix } from "../util/matrix.js";
import type { Evaluation } from "./format.js";

/**
 * Scoring a model's own predictions with interventions inside its forward pass (model/intervention.ts):
 * the model runs with its last hidden state as output (transformers' output: the final norm included),
 * then either its prediction head scores the true subwords (masked / causal LM) or the caller's probe
 * reads the words' vectors. The same sequences and batches serve every experiment, so the baseline,
 * each experiment and each random control differ only by the edits.
 */
export interface EditableModel {
  readonly config: ModelConfig;
  readonly tokenizer: WordTokenizer;
  readonly head: LmHead | null;
  /** Longest sequence one forward pass takes. */
  readonly maxTokens: number;
  /** Runs `batches` with `edits`; `sink` receives each batch's last hidden state [batch × seq × hidden]. */
  lastHidden(
    batches: readonly RunInput[],
    edits: readonly UnitEdit[],
    sink: (batch: number, hidden: Float32Array) => void,
  ): Promise<void>;
  release(): Promise<void>;
}

export async function openEditableModel(source: string, threads?: number): Promise<EditableModel> {
  const loaded = await loadModel(source);
  const cfg = loaded.config;
  const L = cfg.numLayers;
  const reader = openCheckpoint(loaded.dir);
  let head: LmHead | null;
  try {
    head = await openLmHead(cfg, reader, threads);
  } finally {
    reader.close();
  }
  let block: BlockRunner | null = null;
  let whole: TransformerRunner | null = null;
  if (cfg.blocks) block = await BlockRunner.create(cfg, openCheckpoint(loaded.dir), { layers: [L], threads });
  else whole = await createRunnerFromDir(loaded.dir, cfg, { layers: [L], editable: true, threads });
  return {
    config: cfg,
    tokenizer: loaded.tokenizer,
    head,
    maxTokens: Math.min(cfg.maxSequenceLength, loaded.tokenizer.maxLength ?? Number.POSITIVE_INFINITY),
    async lastHidden(batches, edits, sink) {
      if (block) {
        await block.runGroup(
          batches,
          (b, site, layer, data) => {
            if (site === "hidden" && layer === L) sink(b, data);
          },
          edits,
        );
        return;
      }
      for (const [b, batch] of batches.entries()) {
        const out = await whole!.run(batch, edits);
        sink(b, out.hidden.get(L)!);
      }
    },
    async release() {
      await head?.release();
      await block?.release();
      await whole?.release();
    },
  };
}

/** One task row to score: its sentence and word, and its class. */
export interface TaskRowRef {
  sentence: readonly string[];
  /** Index of the sentence, for grouping the rows of one sentence into one sequence. */
  sentenceId: number;
  word: number;
  label: string;
}

/**
 * A sequence to run and what to read from it: for LMs, positions whose hidden state predicts a target
 * token; for the probe, subword spans whose average is a word's vector.
 */
interface Sequence {
  ids: number[];
  /** Task rows read from this sequence. */
  rows: number[];
  /** LM: the position whose hidden state predicts the row's target; probe: span begin. */
  at: number[];
  /** LM: the target token id; probe: span end. */
  to: number[];
}

/**
 * The sequences of an evaluation, batched once. `skipped`: rows that cannot be scored (longer than
 * the model's window; for a causal LM, the first subword of a sequence without BOS has no left context).
 */
export interface EvaluationPlan {
  readonly evaluation: Evaluation;
  readonly batches: readonly RunInput[];
  /** Per batch: its sequences (in batch order). */
  readonly sequences: readonly (readonly Sequence[])[];
  readonly rows: number;
  readonly skipped: number;
}

export function chooseEvaluation(model: EditableModel, wanted: Evaluation | "auto"): Evaluation {
  const has = model.head?.kind ?? null;
  if (wanted === "auto") return has === "masked" ? "masked-lm" : has === "causal" ? "causal-lm" : "probe";
  if (wanted === "masked-lm" && has !== "masked") {
    throw new UserError(
      `--evaluation masked-lm: ${model.config.modelType} ${has === "causal" ? "is a causal LM" : "has no masked-LM head in its checkpoint"}; use --evaluation ${has === "causal" ? "causal-lm" : "probe"}`,
    );
  }
  if (wanted === "causal-lm" && has !== "causal") {
    throw new UserError(
      `--evaluation causal-lm: ${model.config.modelType} ${has === "masked" ? "is a masked LM" : "has no LM head in its checkpoint"}; use --evaluation ${has === "masked" ? "masked-lm" : "probe"}`,
    );
  }
  return wanted;
}

export function planEvaluation(
  model: EditableModel,
  evaluation: Evaluation,
  rows: readonly TaskRowRef[],
  batchTokens: number,
): EvaluationPlan {
  const tok = model.tokenizer;
  const prefix = tok.prefixIds.length;
  const sequences: Sequence[] = [];
  let skipped = 0;
  const fits = (n: number) => n <= model.maxTokens;
  const encodedCache = new Map<number, ReturnType<typeof encodeWords>>();
  const encode = (r: TaskRowRef) => {
    let e = encodedCache.get(r.sentenceId);
    if (!e) {
      e = encodeWords(tok, r.sentence);
      encodedCache.set(r.sentenceId, e);
    }
    return e;
  };
  if (evaluation === "masked-lm") {
    const mask = tok.specialTokens.mask;
    if (mask === undefined)
      throw new UserError("the tokenizer has no mask token: masked-LM evaluation needs one");
    rows.forEach((r, i) => {
      const e = encode(r);
      const ids = [...tok.prefixIds, ...e.ids, ...tok.suffixIds];
      if (!fits(ids.length)) {
        skipped++;
        return;
      }
      // The word's first subword is masked and predicted.
      const at = prefix + e.wordStarts[r.word];
      const target = ids[at];
      ids[at] = mask;
      sequences.push({ ids, rows: [i], at: [at], to: [target] });
    });
  } else {
    // One sequence per sentence, every row of the sentence read from it.
    const bySentence = new Map<number, number[]>();
    rows.forEach((r, i) => {
      const list = bySentence.get(r.sentenceId) ?? [];
      list.push(i);
      bySentence.set(r.sentenceId, list);
    });
    for (const list of bySentence.values()) {
      const e = encode(rows[list[0]]);
      const ids = [...tok.prefixIds, ...e.ids, ...tok.suffixIds];
      if (!fits(ids.length)) {
        skipped += list.length;
        continue;
      }
      const seq: Sequence = { ids, rows: [], at: [], to: [] };
      for (const i of list) {
        const begin = prefix + e.wordStarts[rows[i].word];
        if (evaluation === "causal-lm") {
          // The hidden state before the word's first subword predicts it.
          if (begin === 0) {
            skipped++;
            continue;
          }
          seq.rows.push(i);
          seq.at.push(begin - 1);
          seq.to.push(ids[begin]);
        } else {
          seq.rows.push(i);
          seq.at.push(begin);
          seq.to.push(prefix + e.wordStarts[rows[i].word + 1]);
        }
      }
      if (seq.rows.length > 0) sequences.push(seq);
    }
  }
  // Batches of similar lengths up to `batchTokens` padded tokens, in a fixed order (sorted by length,
  // then by first row) so that every experiment runs the same batches.
  sequences.sort((a, b) => a.ids.length - b.ids.length || a.rows[0] - b.rows[0]);
  const batches: RunInput[] = [];
  const grouped: Sequence[][] = [];
  let current: Sequence[] = [];
  const flush = () => {
    if (current.length === 0) return;
    const seq = Math.max(...current.map((s) => s.ids.length));
    const ids = new Int32Array(current.length * seq).fill(tok.padId);
    const mask = new Int32Array(current.length * seq);
    current.forEach((s, b) => {
      ids.set(s.ids, b * seq);
      mask.fill(1, b * seq, b * seq + s.ids.length);
    });
    batches.push({ batch: current.length, seq, inputIds: ids, attentionMask: mask });
    grouped.push(current);
    current = [];
  };
  for (const s of sequences) {
    const longest = Math.max(s.ids.length, ...current.map((c) => c.ids.length));
    if (current.length > 0 && longest * (current.length + 1) > batchTokens) flush();
    current.push(s);
  }
  flush();
  return {
    evaluation,
    batches,
    sequences: grouped,
    rows: sequences.reduce((n, s) => n + s.rows.length, 0),
    skipped,
  };
}

/** Per task row: scored (1) or not, right or wrong, and the true token's log-probability (LMs). */
export interface RowScores {
  scored: Uint8Array;
  correct: Uint8Array;
  logProb: Float32Array;
}

/**
 * Runs the plan with `edits`. LMs: the head scores each row's target. Probe: `words` receives the
 * rows' word vectors (average of their subwords' last hidden states) and returns the predicted right
 * or wrong per row.
 */
export async function scoreRows(
  model: EditableModel,
  plan: EvaluationPlan,
  totalRows: number,
  edits: readonly UnitEdit[],
  words?: (vectors: Matrix, rows: readonly number[]) => Promise<Uint8Array>,
): Promise<RowScores> {
  const H = model.config.hiddenSize;
  const out: RowScores = {
    scored: new Uint8Array(totalRows),
    correct: new Uint8Array(totalRows),
    logProb: new Float32Array(totalRows),
  };
  const gathered: { rows: number[]; vectors: Float32Array; targets: Int32Array }[] = [];
  await model.lastHidden(plan.batches, edits, (b, hidden) => {
    const seqs = plan.sequences[b];
    const seqLen = plan.batches[b].seq;
    const n = seqs.reduce((k, s) => k + s.rows.length, 0);
    const vectors = new Float32Array(n * H);
    const targets = new Int32Array(n);
    const rows: number[] = [];
    let k = 0;
    seqs.forEach((s, j) => {
      s.rows.forEach((row, r) => {
        const base = j * seqLen;
        if (plan.evaluation === "probe") {
          // Average in float64, as extraction stores word vectors.
          const begin = s.at[r];
          const end = s.to[r];
          for (let u = 0; u < H; u++) {
            let sum = 0;
            for (let p = begin; p < end; p++) sum += hidden[(base + p) * H + u];
            vectors[k * H + u] = sum / (end - begin);
          }
        } else {
          vectors.set(hidden.subarray((base + s.at[r]) * H, (base + s.at[r] + 1) * H), k * H);
          targets[k] = s.to[r];
        }
        rows.push(row);
        k++;
      });
    });
    gathered.push({ rows, vectors, targets });
  });
  for (const g of gathered) {
    if (plan.evaluation === "probe") {
      if (!words) throw new Error("scoreRows: probe evaluation needs a word scorer");
      const correct = await words(matrix(g.rows.length, H, g.vectors), g.rows);
      g.rows.forEach((row, i) => {
        out.scored[row] = 1;
        out.correct[row] = correct[i];
      });
      continue;
    }
    const s = await model.head!.score(g.vectors, g.rows.length, g.targets);
    g.rows.forEach((row, i) => {
      out.scored[row] = 1;
      out.correct[row] = s.correct[i];
      out.logProb[row] = s.logProb[i];
    });
  }
  return out;
}
