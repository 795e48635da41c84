import { existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { writeFileAtomic, writeJsonAtomic } from "../../util/atomic.js";
import { InputError, UserError } from "../../util/errors.js";
import { envelope } from "../../util/json.js";
import { formatSentences, parseSentences, readText, splitLines } from "../io.js";
import {
  type JsonRecord,
  readJsonRecords,
  requireField,
  requireIntField,
  requireStringField,
} from "../json.js";
import { type PerSplit, SPLITS } from "../splits.js";

/**
 * Sentence-level tasks in CodeXGLUE formats, turned into inputs for extraction and labels for probes:
 *
 * - devign (defect detection): JSONL (or a JSON array) of {func, target}; one sentence per function.
 * - bigclonebench (clone detection): a directory with data.jsonl ({idx, func}) and pair files
 *   train.txt / valid.txt / test.txt (`idx1<TAB>idx2<TAB>label`).
 * - cosqa (code search): a JSON array of {doc, code, code_tokens, label}; a pair (query, code).
 *
 * Code becomes whitespace-separated tokens as CodeXGLUE's own scripts make them
 * (`' '.join(code.split())`; CoSQA's code_tokens when present); the query is split on whitespace.
 * Files per split: `<split>.in` (one sentence per line) and `<split>.label` (one label per line).
 * Pairs are written as two parallel files `<split>.a.in` and `<split>.b.in`: each side is extracted on
 * its own and the pair's representation is the concatenation of the two sentence vectors [v(a); v(b)]
 * (the usual probing set-up for pair tasks; it keeps each side within the model's length and lets one
 * sentence representation serve every pair it occurs in).
 */
export const SENTENCE_FORMATS = ["devign", "bigclonebench", "cosqa"] as const;
export type SentenceFormat = (typeof SENTENCE_FORMATS)[number];

export interface SentenceSplit {
  name: string;
  /** Single sentences, or the first side of pairs. */
  a: string[][];
  /** The second side of pairs. */
  b?: string[][];
  labels: string[];
}

/** DIR/summary.json of a sentence-level task (`codeneurons task sentence`, `codeneurons run`). */
export const SENTENCE_TASK_FORMAT = "codeneurons-sentence-task";
export const SENTENCE_TASK_VERSION = 1;

const SPLIT_SUMMARY_SCHEMA = z.object({
  name: z.string(),
  /** Sentences (or pairs). */
  count: z.number().int().min(0),
  pair: z.boolean(),
  /** Rows of each label. */
  labels: z.record(z.string(), z.number().int().min(0)),
  /** Files written, relative to the task directory. */
  files: z.array(z.string()),
  /** The dataset file the split was read from. */
  source: z.string(),
});
export type SentenceSplitSummary = z.infer<typeof SPLIT_SUMMARY_SCHEMA>;

export const SENTENCE_TASK_SCHEMA = z
  .object({
    ...envelope(SENTENCE_TASK_FORMAT, SENTENCE_TASK_VERSION),
    dataset: z.enum(SENTENCE_FORMATS),
    /** What was read: a file or directory. */
    input: z.string(),
    /** How a pair is represented. */
    pairRepresentation: z.string().optional(),
    splits: z.array(SPLIT_SUMMARY_SCHEMA),
  })
  .describe("codeneurons task/summary.json of a sentence-level task: its splits, labels and files");
export type SentenceTaskSummary = z.infer<typeof SENTENCE_TASK_SCHEMA>;

/** CodeXGLUE's whitespace tokenization: `code.split()`. */
export function whitespaceTokens(text: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Python's str.split() also splits at U+001C-U+001F
  return text.split(/[\s\u001c-\u001f\u0085]+/u).filter((t) => t.length > 0);
}

function nonEmptyTokens(text: string, file: string, rec: JsonRecord, field: string): string[] {
  const tokens = whitespaceTokens(text);
  if (tokens.length === 0) throw new InputError(file, "empty (no tokens)", { line: rec.line, field });
  return tokens;
}

function splitNameOf(file: string): string {
  return basename(file).replace(/\.(jsonl|json|txt)$/i, "");
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** The files of a split-per-file dataset: the file itself, or the matching files of a directory. */
async function splitFiles(input: string, pattern: RegExp, what: string): Promise<string[]> {
  if (!existsSync(input)) throw new InputError(input, "no such file or directory");
  if (!isDirectory(input)) return [input];
  const files = (await readdir(input)).filter((f) => pattern.test(f)).sort();
  if (files.length === 0) throw new InputError(input, `no ${what} files in this directory`);
  return files.map((f) => join(input, f));
}

/** Devign: {func, target} per record. */
export async function loadDevign(file: string): Promise<SentenceSplit> {
  const records = await readJsonRecords(file);
  const split: SentenceSplit = { name: splitNameOf(file), a: [], labels: [] };
  for (const rec of records) {
    split.a.push(nonEmptyTokens(requireStringField(rec, "func", file), file, rec, "func"));
    split.labels.push(String(requireIntField(rec, "target", file)));
  }
  return split;
}

/** CoSQA: {doc, code_tokens | code, label} per record; a (query, code) pair. */
export async function loadCosqa(file: string): Promise<SentenceSplit> {
  const records = await readJsonRecords(file);
  const split: SentenceSplit = { name: splitNameOf(file), a: [], b: [], labels: [] };
  for (const rec of records) {
    split.a.push(nonEmptyTokens(requireStringField(rec, "doc", file), file, rec, "doc"));
    split.b!.push(cosqaCode(rec, file));
    split.labels.push(String(requireIntField(rec, "label", file)));
  }
  return split;
}

function cosqaCode(rec: JsonRecord, file: string): string[] {
  if (Object.hasOwn(rec.value, "code_tokens")) {
    const v = rec.value.code_tokens;
    if (typeof v === "string") return nonEmptyTokens(v, file, rec, "code_tokens");
    if (Array.isArray(v) && v.every((t) => typeof t === "string")) {
      const tokens = (v as string[]).flatMap(whitespaceTokens);
      if (tokens.length > 0) return tokens;
      throw new InputError(file, "empty (no tokens)", { line: rec.line, field: "code_tokens" });
    }
    throw new InputError(file, "expected a string or an array of strings", {
      line: rec.line,
      field: "code_tokens",
    });
  }
  return nonEmptyTokens(requireStringField(rec, "code", file), file, rec, "code");
}

/** BigCloneBench: functions by idx from data.jsonl, then each pair file present. */
export async function loadBigCloneBench(dir: string): Promise<SentenceSplit[]> {
  if (!isDirectory(dir))
    throw new InputError(dir, "expected a directory with data.jsonl and train/valid/test.txt");
  const functions = await readFunctions(join(dir, "data.jsonl"));
  const pairFiles = ["train.txt", "valid.txt", "test.txt"]
    .map((f) => join(dir, f))
    .filter((f) => existsSync(f));
  if (pairFiles.length === 0) throw new InputError(dir, "no pair files (train.txt, valid.txt, test.txt)");
  const out: SentenceSplit[] = [];
  for (const file of pairFiles) out.push(await loadPairs(file, functions));
  return out;
}

/** BigCloneBench's data.jsonl: each function's whitespace tokens by idx. */
async function readFunctions(dataFile: string): Promise<Map<string, string[]>> {
  if (!existsSync(dataFile)) throw new InputError(dataFile, "no such file");
  const functions = new Map<string, string[]>();
  for (const rec of await readJsonRecords(dataFile)) {
    const idx = requireField(rec, "idx", dataFile);
    if (typeof idx !== "string" && typeof idx !== "number")
      throw new InputError(dataFile, "expected a string or number", { line: rec.line, field: "idx" });
    functions.set(
      String(idx),
      nonEmptyTokens(requireStringField(rec, "func", dataFile), dataFile, rec, "func"),
    );
  }
  return functions;
}

async function loadPairs(file: string, functions: Map<string, string[]>): Promise<SentenceSplit> {
  const split: SentenceSplit = { name: splitNameOf(file), a: [], b: [], labels: [] };
  const lines = splitLines(await readText(file));
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim().length === 0) continue;
    const cols = lines[i].trim().split(/\s+/);
    if (cols.length !== 3)
      throw new InputError(file, `expected 'idx1<TAB>idx2<TAB>label', found ${cols.length} column(s)`, {
        line: i + 1,
      });
    const [a, b, label] = cols;
    const fa = functions.get(a);
    const fb = functions.get(b);
    if (fa === undefined)
      throw new InputError(file, `idx '${a}' is not in data.jsonl`, { line: i + 1, field: "idx1" });
    if (fb === undefined)
      throw new InputError(file, `idx '${b}' is not in data.jsonl`, { line: i + 1, field: "idx2" });
    if (!/^-?\d+$/.test(label))
      throw new InputError(file, `label '${label}' is not an integer`, { line: i + 1, field: "label" });
    split.a.push(fa);
    split.b!.push(fb);
    split.labels.push(String(Number(label)));
  }
  return split;
}

/** Loads every split of a dataset. */
export async function loadSentenceTask(format: SentenceFormat, input: string): Promise<SentenceSplit[]> {
  switch (format) {
    case "devign":
      return Promise.all((await splitFiles(input, /\.jsonl?$/i, ".jsonl")).map(loadDevign));
    case "cosqa":
      return Promise.all((await splitFiles(input, /\.json$/i, ".json")).map(loadCosqa));
    case "bigclonebench":
      return loadBigCloneBench(input);
    default:
      throw new UserError(`unknown sentence task format '${format as string}'`);
  }
}

function counts(labels: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of [...labels].sort()) out[l] = (out[l] ?? 0) + 1;
  return out;
}

/**
 * Writes DIR/<split>.in (or .a.in/.b.in) + DIR/<split>.label for each split of a dataset, then
 * DIR/summary.json. An empty split, or a first split (train when there is one) with fewer than two
 * labels, is an error: nothing to probe.
 */
export async function writeSentenceTask(
  dataset: SentenceFormat,
  input: string,
  outDir: string,
): Promise<SentenceTaskSummary> {
  const splits = await loadSentenceTask(dataset, input);
  return writeSplits(dataset, input, splits, outDir);
}

/**
 * The three splits of a dataset from one file each (`codeneurons run`): devign and cosqa files of
 * records, bigclonebench pair files with their functions file (`functions`, default data.jsonl beside
 * the train pairs). Written as writeSentenceTask writes them, with the names train, valid and test;
 * besides the checks there, valid and test may only hold labels train has.
 */
export async function writeSentenceSplits(
  dataset: SentenceFormat,
  files: PerSplit<string>,
  outDir: string,
  opts: { functions?: string } = {},
): Promise<SentenceTaskSummary> {
  let load: (file: string) => Promise<SentenceSplit>;
  if (dataset === "bigclonebench") {
    const functions = await readFunctions(opts.functions ?? join(dirname(files.train), "data.jsonl"));
    load = (file) => loadPairs(file, functions);
  } else load = dataset === "devign" ? loadDevign : loadCosqa;
  const splits: SentenceSplit[] = [];
  for (const s of SPLITS) splits.push({ ...(await load(files[s])), name: s });
  checkSplits(
    splits,
    SPLITS.map((s) => files[s]),
  );
  const known = new Set(splits[0].labels);
  for (const split of splits.slice(1)) {
    const i = split.labels.findIndex((l) => !known.has(l));
    if (i >= 0)
      throw new UserError(
        `${files[split.name as keyof PerSplit<string>]}: the ${split.name} split has label '${split.labels[i]}' (row ${i + 1}), which no train row has (train labels: ${[...known].sort().join(", ")})`,
      );
  }
  return writeSplits(
    dataset,
    SPLITS.map((s) => files[s]).join(", "),
    splits,
    outDir,
    SPLITS.map((s) => files[s]),
  );
}

async function writeSplits(
  dataset: SentenceFormat,
  input: string,
  splits: SentenceSplit[],
  outDir: string,
  sources: string[] = splits.map(() => input),
): Promise<SentenceTaskSummary> {
  checkSplits(splits, sources);
  const summary: SentenceTaskSummary = {
    format: SENTENCE_TASK_FORMAT,
    version: SENTENCE_TASK_VERSION,
    dataset,
    input,
    splits: [],
  };
  for (const [i, split] of splits.entries()) {
    const files: string[] = [];
    if (split.b === undefined) {
      await writeFileAtomic(join(outDir, `${split.name}.in`), formatSentences(split.a));
      files.push(`${split.name}.in`);
    } else {
      await writeFileAtomic(join(outDir, `${split.name}.a.in`), formatSentences(split.a));
      await writeFileAtomic(join(outDir, `${split.name}.b.in`), formatSentences(split.b));
      files.push(`${split.name}.a.in`, `${split.name}.b.in`);
    }
    await writeFileAtomic(join(outDir, `${split.name}.label`), split.labels.map((l) => `${l}\n`).join(""));
    files.push(`${split.name}.label`);
    summary.splits.push({
      name: split.name,
      count: split.labels.length,
      pair: split.b !== undefined,
      labels: counts(split.labels),
      files,
      source: sources[i],
    });
  }
  if (summary.splits.some((s) => s.pair))
    summary.pairRepresentation = "concatenation [v(a); v(b)] of the two sentence vectors";
  await writeJsonAtomic(join(outDir, "summary.json"), summary);
  return summary;
}

/** Every split has rows, and the first (train, when named so) at least two labels. */
function checkSplits(splits: SentenceSplit[], sources: string[]): void {
  if (splits.length === 0) throw new UserError("the dataset has no splits");
  for (const [i, split] of splits.entries())
    if (split.labels.length === 0)
      throw new InputError(sources[i], `the ${split.name} split is empty: a task needs rows in every split`);
  const t = Math.max(
    0,
    splits.findIndex((s) => s.name === "train"),
  );
  const labels = counts(splits[t].labels);
  if (Object.keys(labels).length < 2)
    throw new InputError(
      sources[t],
      `the ${splits[t].name} split has one label only (${Object.entries(labels)
        .map(([l, n]) => `${l}: ${n}`)
        .join(", ")}): a probe needs at least two classes`,
    );
}

/**
 * Reads one split written by writeSentenceTask: `<split>.in` or `<split>.a.in` + `<split>.b.in`,
 * and `<split>.label` (one label per line); line counts must agree.
 */
export async function readSentenceSplit(dir: string, name: string): Promise<SentenceSplit> {
  const labelFile = join(dir, `${name}.label`);
  const labels = splitLines(await readText(labelFile));
  labels.forEach((l, i) => {
    if (!/^\S+$/u.test(l)) throw new InputError(labelFile, `bad label '${l}'`, { line: i + 1 });
  });
  const single = join(dir, `${name}.in`);
  const pair = existsSync(join(dir, `${name}.a.in`));
  const read = async (f: string): Promise<string[][]> => {
    const s = parseSentences(await readText(f), f);
    if (s.length !== labels.length)
      throw new InputError(labelFile, `${labels.length} labels but ${f} has ${s.length} lines`, {
        line: Math.min(s.length, labels.length) + 1,
      });
    return s;
  };
  if (!pair) return { name, a: await read(single), labels };
  return { name, a: await read(join(dir, `${name}.a.in`)), b: await read(join(dir, `${name}.b.in`)), labels };
}
