import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../../util/atomic.js";
import { InputError, UserError } from "../../util/errors.js";
import { readJsonFile } from "../../util/json.js";
import { Rng } from "../../util/rng.js";
import { encodeToken } from "../escape.js";
import { decodeUtf8, type LabelledCorpus, labelCounts, labelledPaths, parseLabelled } from "../io.js";
import { defaultTaskClasses, isLabelLanguage, type LabelBackend, type TaskClasses } from "../label.js";
import { type PerSplit, SPLITS, type SplitName } from "../splits.js";
import { parseLabelsMeta } from "../stage.js";
import { type ControlMode, controlTask } from "./control.js";
import {
  TASK_SUMMARY_FORMAT,
  TASK_SUMMARY_VERSION,
  type TaskSummary,
  WORD_LISTS_FORMAT,
  WORD_LISTS_VERSION,
  type WordListsFile,
} from "./format.js";
import {
  type Candidate,
  type Removed,
  type Selection,
  type SelectionConfig,
  selectTask,
  takeRandom,
} from "./select.js";
import { writeTaskTsv } from "./tsv.js";

/** A labelled split read from PREFIX.in / PREFIX.label, with checksums for the task summary. */
export interface TaskSource {
  prefix: string;
  in: string;
  label: string;
  sha256: { in: string; label: string };
  corpus: LabelledCorpus;
  /** What labelled it, from PREFIX.meta.json (absent for files `codeneurons label` did not write). */
  labeler?: { lang: string; parser: LabelBackend };
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(e)})`);
  }
}

export async function readTaskSource(prefix: string): Promise<TaskSource> {
  const paths = labelledPaths(prefix);
  const [inBytes, labelBytes] = await Promise.all([readBytes(paths.in), readBytes(paths.label)]);
  const corpus = parseLabelled(decodeUtf8(inBytes, paths.in), decodeUtf8(labelBytes, paths.label), paths);
  const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
  const metaFile = `${prefix}.meta.json`;
  const meta = existsSync(metaFile) ? await readJsonFile(metaFile, parseLabelsMeta) : null;
  return {
    prefix,
    ...paths,
    sha256: { in: sha(inBytes), label: sha(labelBytes) },
    corpus,
    ...(meta ? { labeler: { lang: meta.lang, parser: meta.parser } } : {}),
  };
}

/**
 * The default classes of a token-tagging task on these splits: the language's (label.ts), as the
 * train split's PREFIX.meta.json names it; the paper's Java classes for splits labelled elsewhere.
 */
export function taskClassesOf(sources: PerSplit<TaskSource>): TaskClasses {
  const l = sources.train.labeler;
  return l && isLabelLanguage(l.lang) ? defaultTaskClasses(l.lang, l.parser) : defaultTaskClasses("java");
}

export async function readTaskSources(prefixes: PerSplit<string>): Promise<PerSplit<TaskSource>> {
  const [train, valid, test] = await Promise.all(SPLITS.map((s) => readTaskSource(prefixes[s])));
  return { train, valid, test };
}

/** Every token as a candidate, labelled by `classify` (undefined: not part of the task). */
export function candidatesOf(
  corpus: LabelledCorpus,
  classify: (token: string, label: string) => string | undefined,
): Candidate[] {
  const out: Candidate[] = [];
  for (let s = 0; s < corpus.sentences.length; s++) {
    const words = corpus.sentences[s];
    const labels = corpus.labels[s];
    for (let w = 0; w < words.length; w++) {
      const cls = classify(words[w], labels[w]);
      if (cls !== undefined) out.push({ sentence: s, word: w, token: words[w], label: cls });
    }
  }
  return out;
}

export interface TaskOptions {
  seed: number;
  caps: PerSplit<number>;
  control: ControlMode;
  unseenInTrain?: boolean;
}

export interface TokenTaggingOptions extends TaskOptions {
  classes?: readonly string[];
  closedClasses?: readonly string[];
  preferUnseen?: readonly string[];
}

/** Everything a task directory holds, in memory. */
export interface TaskBuild {
  kind: "token-tagging" | "binary";
  config: SelectionConfig;
  selection: Selection;
  control?: ReturnType<typeof controlTask>;
  sources: PerSplit<TaskSource>;
  /** Binary tasks: what the positive class is. */
  predicate?: string;
}

/**
 * The paper's filtered token tagging task (docs/DESIGN.md): by default the six Java classes, or the
 * classes of the language the splits were labelled in (taskClassesOf). A class that no train token
 * has, a split left empty, or fewer than two classes is an error naming the labels there are.
 */
export function buildTokenTagging(sources: PerSplit<TaskSource>, opts: TokenTaggingOptions): TaskBuild {
  const defaults = taskClassesOf(sources);
  const classes = opts.classes ?? defaults.classes;
  if (classes.length < 2)
    throw new UserError(
      `a token tagging task needs at least two classes, got ${classes.length === 0 ? "none" : classes.join(", ")}`,
    );
  const wanted = new Set(classes);
  const config: SelectionConfig = {
    classes,
    caps: opts.caps,
    closedClasses: (opts.closedClasses ?? defaults.closed).filter((c) => wanted.has(c)),
    preferUnseen: (opts.preferUnseen ?? defaults.preferUnseen).filter((c) => wanted.has(c)),
    unseenInTrain: opts.unseenInTrain ?? true,
    seed: opts.seed,
  };
  const candidates = perSplit((s) =>
    candidatesOf(sources[s].corpus, (_t, l) => (wanted.has(l) ? l : undefined)),
  );
  const selection = selectTask(candidates, config);
  checkUsable(selection, classes, sources);
  const control =
    opts.control === "none" ? undefined : controlTask(selection.rows, classes, opts.control, opts.seed);
  return { kind: "token-tagging", config, selection, control, sources };
}

/** A predicate on a token and its label, with a description for the summary. */
export interface BinaryPredicate {
  description: string;
  test: (token: string, label: string) => boolean;
}

/** `label == NAME` (one of several labels, comma-separated) or a regular expression on the token text. */
export function binaryPredicate(spec: { labels?: string[]; regex?: string }): BinaryPredicate {
  if ((spec.labels === undefined) === (spec.regex === undefined))
    throw new UserError("give exactly one of --label and --regex");
  if (spec.labels !== undefined) {
    const set = new Set(spec.labels);
    return { description: `label in {${spec.labels.join(", ")}}`, test: (_t, l) => set.has(l) };
  }
  let re: RegExp;
  try {
    re = new RegExp(spec.regex!, "u");
  } catch (e) {
    throw new UserError(`--regex: ${(e as Error).message}`);
  }
  return { description: `token matches /${spec.regex}/u`, test: (t) => re.test(t) };
}

export const POSITIVE = "positive";
export const NEGATIVE = "negative";

export interface BinaryOptions extends TaskOptions {
  /** Treat the positive class as a closed vocabulary (disjoint word lists across splits). */
  closed?: boolean;
}

/**
 * A binary concept task, as NeuroX's annotate builds one: tokens satisfying the predicate are
 * "positive", all other tokens "negative"; balanced by capping both classes at the split's cap, under
 * the same lexical controls as the token tagging task (valid/test tokens unseen among the selected
 * train tokens, unless disabled; positives rarest in valid/test taken first in train).
 */
export function buildBinary(
  sources: PerSplit<TaskSource>,
  predicate: BinaryPredicate,
  opts: BinaryOptions,
): TaskBuild {
  const classes = [POSITIVE, NEGATIVE];
  const config: SelectionConfig = {
    classes,
    caps: opts.caps,
    closedClasses: opts.closed ? [POSITIVE] : [],
    preferUnseen: [POSITIVE],
    unseenInTrain: opts.unseenInTrain ?? true,
    seed: opts.seed,
  };
  const candidates = perSplit((s) =>
    candidatesOf(sources[s].corpus, (t, l) => (predicate.test(t, l) ? POSITIVE : NEGATIVE)),
  );
  const selected = selectTask(candidates, config);
  // Before balancing, so that the error names the class that is missing (balancing empties both).
  checkUsable(selected, classes, sources, predicate.description);
  const selection = balance(selected, opts.caps, new Rng((opts.seed ^ BALANCE_STREAM) >>> 0));
  checkUsable(selection, classes, sources, predicate.description);
  const control =
    opts.control === "none" ? undefined : controlTask(selection.rows, classes, opts.control, opts.seed);
  return { kind: "binary", config, selection, control, sources, predicate: predicate.description };
}

const BALANCE_STREAM = 0x27d4eb2f;

/**
 * A task a probe can learn from: every split has rows, and every class has train rows (a probe
 * cannot learn a class it never sees, and one class is no classification). The error names the
 * labels the train split does have, so that the classes can be chosen among them.
 */
function checkUsable(
  sel: Selection,
  classes: readonly string[],
  sources: PerSplit<TaskSource>,
  predicate?: string,
): void {
  const counts = classCounts(sel.rows, classes);
  const labels = () => {
    const found = Object.entries(labelCounts(sources.train.corpus.labels));
    return found.length === 0
      ? "it has no tokens at all"
      : `its labels are ${found
          .slice(0, 25)
          .map(([l, n]) => `${l} (${n})`)
          .join(", ")}${found.length > 25 ? ", …" : ""}`;
  };
  const missing = classes.filter((c) => counts.train[c] === 0);
  if (missing.length > 0) {
    const what = predicate
      ? `no ${missing.join(" or ")} tokens (${predicate}) in the train split ${sources.train.prefix}`
      : `class${missing.length > 1 ? "es" : ""} ${missing.join(", ")} ha${missing.length > 1 ? "ve" : "s"} no tokens in the train split ${sources.train.prefix}`;
    throw new UserError(
      `the task would be empty or have one class: ${what}; ${labels()}${predicate ? "" : " (choose the classes among them: --classes / task.classes)"}`,
    );
  }
  for (const s of SPLITS)
    if (sel.rows[s].length === 0)
      throw new UserError(
        `the task's ${s} split is empty: none of its tokens of ${classes.join(", ")} is left after the lexical controls (${sources[s].prefix}; ${sources[s].corpus.sentences.length} sentences)`,
      );
}

/**
 * Trims the larger class of each split to the size of the smaller one (a seeded random subset).
 * Trimming train only removes train texts, so the valid/test rule (texts unseen in train) still holds.
 */
function balance(sel: Selection, caps: PerSplit<number>, rng: Rng): Selection {
  const rows = {} as PerSplit<Candidate[]>;
  const removed = {} as PerSplit<Record<string, Removed>>;
  const shortfall: Selection["shortfall"] = [];
  for (const s of SPLITS) {
    const pos = sel.rows[s].filter((r) => r.label === POSITIVE);
    const neg = sel.rows[s].filter((r) => r.label === NEGATIVE);
    const n = Math.min(pos.length, neg.length);
    const kept = [...takeRandom(pos, n, rng), ...takeRandom(neg, n, rng)];
    rows[s] = kept.sort((a, b) => a.sentence - b.sentence || a.word - b.word);
    removed[s] = {};
    for (const [cls, list] of [
      [POSITIVE, pos],
      [NEGATIVE, neg],
    ] as const) {
      const r = sel.removed[s][cls];
      removed[s][cls] = { ...r, overCap: r.overCap + (list.length - n), selected: n };
    }
    for (const cls of [POSITIVE, NEGATIVE]) {
      if (n >= caps[s]) continue;
      const before = sel.shortfall.find((f) => f.split === s && f.label === cls);
      const reason = before?.reason ?? `balanced down to the other class's ${n}`;
      shortfall.push({ split: s, label: cls, cap: caps[s], selected: n, reason });
    }
  }
  return { rows, removed, shortfall, wordLists: sel.wordLists };
}

function perSplit<T>(f: (s: SplitName) => T): PerSplit<T> {
  return { train: f("train"), valid: f("valid"), test: f("test") };
}

/** Class counts of the selected rows, per split. */
export function classCounts(
  rows: PerSplit<Candidate[]>,
  classes: readonly string[],
): PerSplit<Record<string, number>> {
  return perSplit((s) => {
    const counts: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
    for (const r of rows[s]) counts[r.label] = (counts[r.label] ?? 0) + 1;
    return counts;
  });
}

export type { TaskSummary };

export function summarize(build: TaskBuild, files: string[]): TaskSummary {
  const { selection, config } = build;
  const counts = classCounts(selection.rows, config.classes);
  const validTypes = new Set(selection.rows.valid.map((r) => r.token));
  const shared = new Set(selection.rows.test.filter((r) => validTypes.has(r.token)).map((r) => r.token));
  return {
    format: TASK_SUMMARY_FORMAT,
    version: TASK_SUMMARY_VERSION,
    kind: build.kind,
    ...(build.predicate !== undefined ? { predicate: build.predicate } : {}),
    seed: config.seed,
    caps: config.caps,
    classes: [...config.classes],
    closedClasses: [...config.closedClasses],
    preferUnseen: [...config.preferUnseen],
    unseenInTrain: config.unseenInTrain,
    sources: perSplit((s) => {
      const src = build.sources[s];
      return {
        prefix: src.prefix,
        in: src.in,
        label: src.label,
        sha256: src.sha256,
        sentences: src.corpus.sentences.length,
      };
    }),
    counts,
    totals: perSplit((s) => selection.rows[s].length),
    removed: selection.removed,
    shortfall: selection.shortfall,
    wordLists: selection.wordLists,
    validTestSharedTypes: shared.size,
    ...(build.control !== undefined
      ? {
          control: {
            mode: build.control.mode,
            distribution: build.control.distribution,
            types: build.control.types,
            counts: classCounts(build.control.rows, config.classes),
          },
        }
      : {}),
    files,
    tsvQuoting: "csv",
  };
}

/**
 * Writes DIR/{train,valid,test}.tsv, DIR/wordlists.json, DIR/control/{train,valid,test}.tsv (when
 * there is a control task) and, last, DIR/summary.json; each file atomically.
 */
export async function writeTask(dir: string, build: TaskBuild): Promise<TaskSummary> {
  const files: string[] = [];
  for (const s of SPLITS) {
    await writeTaskTsv(join(dir, `${s}.tsv`), build.selection.rows[s]);
    files.push(`${s}.tsv`);
  }
  const wordLists: WordListsFile = {
    format: WORD_LISTS_FORMAT,
    version: WORD_LISTS_VERSION,
    lists: build.selection.wordLists,
  };
  await writeJsonAtomic(join(dir, "wordlists.json"), wordLists);
  files.push("wordlists.json");
  for (const [cls, lists] of Object.entries(build.selection.wordLists))
    for (const s of SPLITS) {
      await writeFileAtomic(
        join(dir, "wordlists", `${cls}.${s}.txt`),
        lists[s].map((w) => `${encodeToken(w)}\n`).join(""),
      );
      files.push(`wordlists/${cls}.${s}.txt`);
    }
  if (build.control !== undefined)
    for (const s of SPLITS) {
      await writeTaskTsv(join(dir, "control", `${s}.tsv`), build.control.rows[s]);
      files.push(`control/${s}.tsv`);
    }
  const summary = summarize(build, files);
  await writeJsonAtomic(join(dir, "summary.json"), summary);
  return summary;
}
