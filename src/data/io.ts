import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import { decodeToken, encodeToken, hasBlank } from "./escape.js";

/**
 * The `.in` / `.label` pair of NeuroX and the paper: one sentence per line, tokens separated by
 * whitespace (our writer: single spaces), and a parallel file with one label per token. Tokens are
 * escaped on disk (see escape.ts); in memory they are the real token text. Lines may end in "\n" or
 * "\r\n"; a blank line is an empty sentence (kept, so that line numbers stay valid references).
 *
 * This is the one reader of sentence files: splitWordLines splits lines and words for every stage
 * (labels, tasks, extraction's input, the store's words.txt), and the stages differ only in how strictly
 * they decode the escapes (parseSentences: every token must be a canonical escape).
 */
export interface LabelledCorpus {
  sentences: string[][];
  labels: string[][];
}

export interface LabelledPaths {
  in: string;
  label: string;
}

export function labelledPaths(prefix: string): LabelledPaths {
  return { in: `${prefix}.in`, label: `${prefix}.label` };
}

/** Encodes sentences as `.in` text (escaped tokens, one line per sentence, final newline). */
export function formatSentences(sentences: readonly (readonly string[])[]): string {
  const lines = new Array<string>(sentences.length);
  for (let i = 0; i < sentences.length; i++) lines[i] = sentences[i].map(encodeToken).join(" ");
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** Label lines: labels are plain words (no escape), one line per sentence. */
export function formatLabels(labels: readonly (readonly string[])[]): string {
  return labels.length === 0 ? "" : `${labels.map((l) => l.join(" ")).join("\n")}\n`;
}

/** Writes PREFIX.in and PREFIX.label, each atomically; the corpus must be parallel. */
export async function writeLabelled(prefix: string, corpus: LabelledCorpus): Promise<LabelledPaths> {
  assertParallel(corpus);
  const paths = labelledPaths(prefix);
  await writeFileAtomic(paths.in, formatSentences(corpus.sentences));
  await writeFileAtomic(paths.label, formatLabels(corpus.labels));
  return paths;
}

function assertParallel(corpus: LabelledCorpus): void {
  if (corpus.sentences.length !== corpus.labels.length)
    throw new Error(`corpus: ${corpus.sentences.length} sentences but ${corpus.labels.length} label lines`);
  for (let i = 0; i < corpus.sentences.length; i++) {
    if (corpus.sentences[i].length !== corpus.labels[i].length)
      throw new Error(`corpus: sentence ${i} has ${corpus.sentences[i].length} tokens but labels differ`);
    for (const l of corpus.labels[i])
      if (!/^\S+$/u.test(l)) throw new Error(`corpus: sentence ${i} has an empty or blank label '${l}'`);
  }
}

/** Decodes UTF-8 strictly: a byte that is not UTF-8 is an input error, not a silent U+FFFD. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new InputError(file, "not valid UTF-8 text");
  }
}

export async function readText(file: string): Promise<string> {
  return (await readTextWithHash(file)).text;
}

/** The text of a file (strict UTF-8, a leading BOM dropped) and the SHA-256 of its bytes. */
export async function readTextWithHash(file: string): Promise<{ text: string; sha256: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(e)})`);
  }
  return { text: decodeUtf8(bytes, file), sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Splits text into lines ("\n" or "\r\n"); a final newline does not start another line. */
export function splitLines(text: string): string[] {
  if (text.length === 0) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  return lines;
}

/** The words of one line: runs of whitespace separate them; a blank line has none. */
export function splitWords(line: string): string[] {
  const t = line.trim();
  return t === "" ? [] : t.split(/\s+/u);
}

/** The words of every line of a sentence file, as written (escaped). */
export function splitWordLines(text: string): string[][] {
  return splitLines(text).map(splitWords);
}

/** Parses `.in` text into sentences of decoded tokens. */
export function parseSentences(text: string, file: string): string[][] {
  const lines = splitWordLines(text);
  const out = new Array<string[]>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const items = lines[i];
    for (let k = 0; k < items.length; k++) {
      const token = decodeToken(items[k]);
      if (token === undefined)
        throw new InputError(file, `token '${items[k]}' is not a valid escaped token`, {
          line: i + 1,
          field: `token ${k + 1}`,
        });
      items[k] = token;
    }
    out[i] = items;
  }
  return out;
}

/** Parses `.label` text: one label (no whitespace) per token. */
export function parseLabels(text: string, file: string): string[][] {
  const lines = splitWordLines(text);
  const out = new Array<string[]>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const items = lines[i];
    for (let k = 0; k < items.length; k++)
      if (hasBlank(items[k]))
        throw new InputError(file, `label '${items[k]}' contains whitespace`, {
          line: i + 1,
          field: `label ${k + 1}`,
        });
    out[i] = items;
  }
  return out;
}

export async function readSentences(file: string): Promise<string[][]> {
  return parseSentences(await readText(file), file);
}

/** Checks that labels parallel sentences; the error names the label file and the first bad line. */
export function checkParallel(sentences: string[][], labels: string[][], paths: LabelledPaths): void {
  const n = Math.min(sentences.length, labels.length);
  for (let i = 0; i < n; i++)
    if (sentences[i].length !== labels[i].length)
      throw new InputError(
        paths.label,
        `${labels[i].length} labels but ${paths.in} line ${i + 1} has ${sentences[i].length} tokens`,
        { line: i + 1 },
      );
  if (sentences.length !== labels.length)
    throw new InputError(
      paths.label,
      `${labels.length} lines but ${paths.in} has ${sentences.length} lines`,
      { line: n + 1 },
    );
}

/** Reads a labelled corpus from a prefix (PREFIX.in + PREFIX.label) or explicit paths. */
export async function readLabelled(prefixOrPaths: string | LabelledPaths): Promise<LabelledCorpus> {
  const paths = typeof prefixOrPaths === "string" ? labelledPaths(prefixOrPaths) : prefixOrPaths;
  // One after the other, so that the error a user sees first is always about the .in file.
  const inText = await readText(paths.in);
  const labelText = await readText(paths.label);
  return parseLabelled(inText, labelText, paths);
}

export function parseLabelled(inText: string, labelText: string, paths: LabelledPaths): LabelledCorpus {
  const sentences = parseSentences(inText, paths.in);
  const labels = parseLabels(labelText, paths.label);
  checkParallel(sentences, labels, paths);
  return { sentences, labels };
}

/** Counts of each label, most frequent first (ties by name). */
export function labelCounts(labels: readonly (readonly string[])[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const line of labels) for (const l of line) counts.set(l, (counts.get(l) ?? 0) + 1);
  const entries = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return Object.fromEntries(entries);
}
