import type { LabelledCorpus } from "./io.js";

/** A line of the input that was left out (with --skip-bad-lines), and why. */
export interface SkippedLine {
  /** 1-based line in the input (for JSON inputs: the record's line, or the line inside its code). */
  line: number;
  reason: string;
  /** For JSON / JSONL inputs: the record index (0-based). */
  record?: number;
}

/** A piece of a pre-tokenized line that is not exactly one token: kept whole, labelled UNKNOWN. */
export interface Anomaly {
  line: number;
  token: string;
  reason: string;
}

/** What a labeler returns: the parallel corpus plus where each sentence came from and what was left out. */
export interface LabelResult extends LabelledCorpus {
  /** 1-based input line where each sentence starts. */
  sourceLines: number[];
  skipped: SkippedLine[];
  anomalies: Anomaly[];
  /** For JSON / JSONL inputs: the record (0-based) each sentence came from. */
  records?: number[];
}

/** How source files are cut into sentences: one per source line with tokens (default), or one per file. */
export type SentenceUnit = "line" | "file";

export interface SourceLabelOptions {
  /** Named in errors. */
  file?: string;
  skipBadLines?: boolean;
  sentence?: SentenceUnit;
}

export function emptyResult(): LabelResult {
  return { sentences: [], labels: [], sourceLines: [], skipped: [], anomalies: [] };
}

/**
 * Groups tokens (in order) into sentences: one per start line, or a single sentence for the input.
 * Lines without tokens give no sentence.
 */
export function groupByLine<T extends { line: number }>(
  tokens: readonly T[],
  unit: SentenceUnit,
  text: (t: T) => string,
  label: (t: T) => string,
  into: LabelResult,
): void {
  let current = -1;
  for (const t of tokens) {
    if (unit === "line" ? t.line !== current : current < 0) {
      current = t.line;
      into.sentences.push([]);
      into.labels.push([]);
      into.sourceLines.push(t.line);
    }
    into.sentences[into.sentences.length - 1].push(text(t));
    into.labels[into.labels.length - 1].push(label(t));
  }
}

/** Appends `part` to `into`, shifting its line numbers by `lineOffset`. */
export function appendResult(into: LabelResult, part: LabelResult, lineOffset = 0, record?: number): void {
  for (let i = 0; i < part.sentences.length; i++) {
    into.sentences.push(part.sentences[i]);
    into.labels.push(part.labels[i]);
    into.sourceLines.push(part.sourceLines[i] + lineOffset);
  }
  for (const s of part.skipped)
    into.skipped.push({ ...s, line: s.line + lineOffset, ...(record !== undefined ? { record } : {}) });
  for (const a of part.anomalies) into.anomalies.push({ ...a, line: a.line + lineOffset });
}

export function tokenCount(corpus: LabelledCorpus): number {
  let n = 0;
  for (const s of corpus.sentences) n += s.length;
  return n;
}
