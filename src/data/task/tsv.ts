import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "../../util/atomic.js";
import { InputError } from "../../util/errors.js";
import { readJsonFile } from "../../util/json.js";
import { decodeToken, encodeToken, hasBlank } from "../escape.js";
import { readText, splitLines } from "../io.js";
import { isSplitName, SPLITS, type SplitName } from "../splits.js";
import { parseTaskSummary, TASK_SUMMARY_FORMAT, type TaskSummary } from "./format.js";

/**
 * Task split files: `DIR/{train,valid,test}.tsv`, a header `sentence\tword\ttoken\tlabel`, then one
 * selected token per row: its 0-based line in the split's `.in` file, its 0-based position in that
 * line, the token (escaped as in `.in` files, see escape.ts: no blank, tab or newline is left in it)
 * and its label. Readers return decoded tokens.
 *
 * Quoting: a token or label holding `"` is written as Python's csv module writes a field with
 * `delimiter="\t"` (QUOTE_MINIMAL): wrapped in `"` with every inner `"` doubled, so the Java string
 * literal `"a b"` is the field `"""a▁b"""`. The files then read back row for row with the defaults of
 * `csv.reader(f, delimiter="\t")` and `pandas.read_csv(f, sep="\t")` (raw quotes made both merge rows).
 * Task directories of summary version 1 hold raw quotes; readers take them as they were written.
 */
export const TSV_HEADER = "sentence\tword\ttoken\tlabel";

/** How a file spells fields that hold `"`: csv quoting (current), or raw (task summary version 1). */
export type TsvQuoting = "csv" | "raw";

/** One split of a task, column-wise. */
export interface TaskSplit {
  sentence: Int32Array;
  word: Int32Array;
  token: string[];
  label: string[];
}

export interface TaskRow {
  sentence: number;
  word: number;
  token: string;
  label: string;
}

/** A field as csv.writer(delimiter="\t") writes it: quoted (inner quotes doubled) when it holds `"`. */
export function quoteTsvField(text: string): string {
  return text.includes('"') ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The text of a field written by quoteTsvField; undefined when it is not in that (canonical) form. */
export function unquoteTsvField(field: string): string | undefined {
  if (!field.startsWith('"')) return field.includes('"') ? undefined : field;
  if (field.length < 2 || !field.endsWith('"')) return undefined;
  const text = field.slice(1, -1).replaceAll('""', '"');
  return quoteTsvField(text) === field ? text : undefined;
}

export function formatTaskTsv(rows: readonly TaskRow[]): string {
  const lines = [TSV_HEADER];
  for (const r of rows) {
    if (r.label.length === 0 || hasBlank(r.label)) throw new Error(`task row: bad label '${r.label}'`);
    lines.push(`${r.sentence}\t${r.word}\t${quoteTsvField(encodeToken(r.token))}\t${quoteTsvField(r.label)}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function writeTaskTsv(path: string, rows: readonly TaskRow[]): Promise<void> {
  await writeFileAtomic(path, formatTaskTsv(rows));
}

const INT = /^(0|[1-9][0-9]{0,9})$/;

function parseIndex(text: string, file: string, line: number, field: string): number {
  const n = INT.test(text) ? Number(text) : Number.NaN;
  if (!(n <= 0x7fffffff))
    throw new InputError(file, `'${text}' is not a non-negative integer`, { line, field });
  return n;
}

/**
 * Parses task TSV text; every malformed row is an InputError naming the line and column. `quoting`
 * says how the file spells fields with `"` (default: as this version writes them).
 */
export function parseTaskTsv(text: string, file: string, quoting: TsvQuoting = "csv"): TaskSplit {
  const field = quoting === "csv" ? unquoteTsvField : (f: string) => f;
  const lines = splitLines(text);
  if (lines.length === 0 || lines[0] !== TSV_HEADER)
    throw new InputError(file, `expected the header '${TSV_HEADER.replaceAll("\t", "\\t")}'`, { line: 1 });
  const n = lines.length - 1;
  const out: TaskSplit = {
    sentence: new Int32Array(n),
    word: new Int32Array(n),
    token: new Array(n),
    label: new Array(n),
  };
  for (let i = 0; i < n; i++) {
    const lineNo = i + 2;
    const cols = lines[i + 1].split("\t");
    if (cols.length !== 4)
      throw new InputError(file, `expected 4 tab-separated columns, found ${cols.length}`, { line: lineNo });
    out.sentence[i] = parseIndex(cols[0], file, lineNo, "sentence");
    out.word[i] = parseIndex(cols[1], file, lineNo, "word");
    const raw = field(cols[2]);
    const token = raw === undefined ? undefined : decodeToken(raw);
    if (token === undefined)
      throw new InputError(file, `'${cols[2]}' is not a valid escaped token`, {
        line: lineNo,
        field: "token",
      });
    out.token[i] = token;
    const label = field(cols[3]);
    if (label === undefined || label.length === 0 || hasBlank(label))
      throw new InputError(file, `bad label '${cols[3]}'`, { line: lineNo, field: "label" });
    out.label[i] = label;
  }
  return out;
}

/**
 * Reads one split file. Without `quoting`, the task directory's summary.json says (DIR/summary.json,
 * or the one above DIR/control/): version 1 wrote raw quotes; no summary means a file written by
 * writeTaskTsv, which quotes. A split file beside its summary (train.tsv, valid.tsv, test.tsv) must
 * hold the rows per label the summary says were selected (checkCounts).
 */
export async function readTaskSplit(path: string, quoting?: TsvQuoting): Promise<TaskSplit> {
  if (quoting) return parseTaskTsv(await readText(path), path, quoting);
  const near = await summaryNear(path);
  const split = parseTaskTsv(await readText(path), path, near ? quotingOf(near.summary) : "csv");
  const name = basename(path, ".tsv");
  if (near && isSplitName(name)) {
    const counts = near.control ? near.summary.control?.counts : near.summary.counts;
    if (counts) checkCounts(split, counts[name], path, near.path);
  }
  return split;
}

/**
 * The task summary of a split file: DIR/summary.json, or for DIR/control/ the one above. A JSON file of
 * that name that is not a task summary (of any version) is someone else's and is passed over; one that
 * names the task summary's format, or is not JSON at all, must be a valid summary: a damaged summary
 * is an error, not a missing one.
 */
async function summaryNear(
  path: string,
): Promise<{ summary: TaskSummary; path: string; control: boolean } | null> {
  const dir = dirname(path);
  const candidates = [
    { path: join(dir, "summary.json"), control: false },
    ...(basename(dir) === "control" ? [{ path: join(dir, "..", "summary.json"), control: true }] : []),
  ];
  for (const c of candidates) {
    if (!existsSync(c.path)) continue;
    try {
      return { summary: await readJsonFile(c.path, parseTaskSummary), ...c };
    } catch (e) {
      const json = await readJsonFile(c.path, (v: unknown) => v).catch(() => undefined);
      const foreign =
        typeof json === "object" &&
        json !== null &&
        (json as { format?: unknown }).format !== TASK_SUMMARY_FORMAT;
      if (!foreign) throw e;
    }
  }
  return null;
}

/** The quoting of a task directory's TSV files, as its summary says. */
export function quotingOf(summary: TaskSummary): TsvQuoting {
  return summary.tsvQuoting;
}

export interface Task {
  dir: string;
  train: TaskSplit;
  valid: TaskSplit;
  test: TaskSplit;
  /** The task's summary.json, when present. */
  summary?: TaskSummary;
}

/**
 * Reads a task directory (as written by `codeneurons task …`): the three splits, or with
 * `control: true` the control task's splits from DIR/control.
 */
export async function readTask(dir: string, opts: { control?: boolean } = {}): Promise<Task> {
  const base = opts.control ? join(dir, "control") : dir;
  const summaryPath = join(dir, "summary.json");
  const summary = existsSync(summaryPath) ? await readJsonFile(summaryPath, parseTaskSummary) : undefined;
  const quoting = summary ? quotingOf(summary) : "csv";
  const [train, valid, test] = await Promise.all(
    SPLITS.map((s) => readTaskSplit(join(base, `${s}.tsv`), quoting)),
  );
  if (summary) {
    const counts = opts.control ? summary.control?.counts : summary.counts;
    if (counts) {
      const splits = { train, valid, test };
      for (const s of SPLITS) checkCounts(splits[s], counts[s], join(base, `${s}.tsv`), summaryPath);
    }
  }
  return { dir, train, valid, test, summary };
}

/**
 * A split's rows per label must be what summary.json says was selected: a truncated, swapped or
 * damaged TSV is an error instead of a smaller or other task. Names the first label that differs.
 */
function checkCounts(
  split: TaskSplit,
  expected: Record<string, number>,
  file: string,
  summaryPath: string,
): void {
  const got = new Map<string, number>();
  for (const l of split.label) got.set(l, (got.get(l) ?? 0) + 1);
  const labels = new Set([...got.keys(), ...Object.keys(expected)]);
  for (const label of [...labels].sort()) {
    const want = Object.hasOwn(expected, label) ? expected[label] : 0;
    const have = got.get(label) ?? 0;
    if (have !== want)
      throw new InputError(
        file,
        `holds ${have} rows labelled '${label}', but ${summaryPath} says ${want} were selected (${split.label.length} rows in all): the file was truncated, replaced or edited. Rebuild the task with 'codeneurons task', or if the edit is meant, delete summary.json`,
      );
  }
}

/** Rows of a split as objects. */
export function taskRows(split: TaskSplit): TaskRow[] {
  return split.token.map((token, i) => ({
    sentence: split.sentence[i],
    word: split.word[i],
    token,
    label: split.label[i],
  }));
}

/**
 * Checks that every row points at its token in the split's sentences (the `.in` file it was built
 * from); throws an InputError naming the TSV line of the first mismatch.
 */
export function checkTaskAgainstSentences(
  split: TaskSplit,
  sentences: readonly (readonly string[])[],
  file: string,
): void {
  for (let i = 0; i < split.token.length; i++) {
    const s = sentences[split.sentence[i]];
    const w = s?.[split.word[i]];
    if (w !== split.token[i])
      throw new InputError(
        file,
        w === undefined
          ? `sentence ${split.sentence[i]} word ${split.word[i]} does not exist`
          : `token '${split.token[i]}' but the sentence has '${w}' there`,
        { line: i + 2 },
      );
  }
}

export type { SplitName };

/**
 * The valid and test rows of a task must be of classes the train split has: a probe cannot predict a
 * class it never saw. `file` is the split's file (rows from line `firstLine`).
 */
export function checkClassesKnown(
  labels: readonly string[],
  classes: readonly string[],
  file: string,
  firstLine = 2,
): void {
  const known = new Set(classes);
  const i = labels.findIndex((l) => !known.has(l));
  if (i >= 0)
    throw new InputError(file, `class '${labels[i]}' does not occur in train`, { line: i + firstLine });
}
