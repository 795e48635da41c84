import { Command, Option } from "commander";
import { CLOSED_CLASSES, NUMBER, SIX_CLASSES } from "../data/labels.js";
import { SENTENCE_FORMATS, type SentenceFormat, writeSentenceTask } from "../data/sentence/index.js";
import { type PerSplit, SPLITS } from "../data/splits.js";
import {
  binaryPredicate,
  buildBinary,
  buildTokenTagging,
  readTaskSources,
  type TaskSummary,
  writeTask,
} from "../data/task/build.js";
import type { ControlMode } from "../data/task/control.js";
import { UserError } from "../util/errors.js";
import { action, parseIntOption, printJson, type Register } from "./common.js";

/** `codeneurons task …`: probing tasks from labelled splits or CodeXGLUE-format datasets. */
export const register: Register = (program) => {
  const task = new Command("task").description(
    "Build probing tasks: the paper's filtered token tagging task, binary concept tasks, sentence-level tasks.",
  );
  task.addCommand(tokenTaggingCommand());
  task.addCommand(binaryCommand());
  task.addCommand(sentenceCommand());
  program.addCommand(task);
};

interface SplitCliOptions {
  train: string;
  valid: string;
  test: string;
  out: string;
  seed: number;
  caps: PerSplit<number>;
  control: ControlMode;
  allowSeen?: boolean;
  json?: boolean;
}

function parseCaps(value: string): PerSplit<number> {
  const parts = value.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || nums.some((n) => !Number.isInteger(n) || n < 0))
    throw new UserError(`--caps: expected three non-negative integers train,valid,test, got '${value}'`);
  return { train: nums[0], valid: nums[1], test: nums[2] };
}

function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function withSplitOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      "--train <prefix>",
      "labelled train split (PREFIX.in + PREFIX.label, as written by `label`)",
    )
    .requiredOption("--valid <prefix>", "labelled valid split")
    .requiredOption("--test <prefix>", "labelled test split")
    .requiredOption("--out <dir>", "output directory")
    .option("--seed <n>", "random seed (same seed, same task)", parseIntOption("seed"), 1)
    .option(
      "--caps <train,valid,test>",
      "tokens per class in each split",
      parseCaps,
      parseCaps("2000,270,340"),
    )
    .addOption(
      new Option("--control <mode>", "control task (Hewitt & Liang): labels per word type")
        .choices(["distribution", "uniform", "none"])
        .default("distribution"),
    )
    .option("--allow-seen", "do not drop valid/test tokens whose text occurs among the selected train tokens")
    .option("--json", "print the summary as JSON");
}

function tokenTaggingCommand(): Command {
  return withSplitOptions(
    new Command("token-tagging").description(
      "The paper's filtered token tagging task: classes MODIFIER, IDENT, KEYWORD, TYPE, NUMBER, STRING; " +
        "valid/test tokens unseen among the selected train tokens; disjoint keyword/modifier/type word lists; " +
        "per-class caps. Writes DIR/{train,valid,test}.tsv, DIR/control/*.tsv, word lists and DIR/summary.json.",
    ),
  )
    .option("--classes <list>", "classes of the task", parseList, [...SIX_CLASSES])
    .option("--closed <list>", "closed-vocabulary classes (disjoint word lists)", parseList, [
      ...CLOSED_CLASSES,
    ])
    .option(
      "--prefer-unseen <list>",
      "classes whose train tokens rarest in valid/test are taken first",
      parseList,
      [NUMBER],
    )
    .action(
      action(
        async (opts: SplitCliOptions & { classes: string[]; closed: string[]; preferUnseen: string[] }) => {
          const sources = await readTaskSources({ train: opts.train, valid: opts.valid, test: opts.test });
          const build = buildTokenTagging(sources, {
            seed: opts.seed,
            caps: opts.caps,
            control: opts.control,
            unseenInTrain: !opts.allowSeen,
            classes: opts.classes,
            closedClasses: opts.closed,
            preferUnseen: opts.preferUnseen,
          });
          report(await writeTask(opts.out, build), opts);
        },
      ),
    );
}

function binaryCommand(): Command {
  return withSplitOptions(
    new Command("binary").description(
      "A binary concept task (as NeuroX's annotate): tokens whose label is in --label, or whose text matches " +
        "--regex, are 'positive', all others 'negative'; balanced and seeded, same lexical controls.",
    ),
  )
    .option("--label <list>", "positive labels, e.g. NUMBER or STRING,NUMBER", parseList)
    .option(
      "--regex <re>",
      "positive when the token text matches this regular expression (JavaScript, u flag)",
    )
    .option("--closed", "treat the positive class as a closed vocabulary (disjoint word lists)")
    .action(
      action(async (opts: SplitCliOptions & { label?: string[]; regex?: string; closed?: boolean }) => {
        const predicate = binaryPredicate({ labels: opts.label, regex: opts.regex });
        const sources = await readTaskSources({ train: opts.train, valid: opts.valid, test: opts.test });
        const build = buildBinary(sources, predicate, {
          seed: opts.seed,
          caps: opts.caps,
          control: opts.control,
          unseenInTrain: !opts.allowSeen,
          closed: opts.closed,
        });
        report(await writeTask(opts.out, build), opts);
      }),
    );
}

function sentenceCommand(): Command {
  return new Command("sentence")
    .description(
      "Sentence-level tasks from CodeXGLUE formats: devign (jsonl: func, target), bigclonebench (data.jsonl + " +
        "train/valid/test.txt pairs), cosqa (json: doc, code/code_tokens, label). Writes DIR/<split>.in (or " +
        ".a.in/.b.in for pairs) and DIR/<split>.label, one sentence per line.",
    )
    .addOption(
      new Option("--format <format>", "dataset format").choices([...SENTENCE_FORMATS]).makeOptionMandatory(),
    )
    .requiredOption(
      "--input <path>",
      "devign: a .jsonl file or a directory of train/valid/test.jsonl; bigclonebench: the directory with " +
        "data.jsonl and the pair files; cosqa: a .json file (or a directory of them)",
    )
    .requiredOption("--out <dir>", "output directory")
    .option("--json", "print the summary as JSON")
    .action(
      action(async (opts: { format: SentenceFormat; input: string; out: string; json?: boolean }) => {
        const summary = await writeSentenceTask(opts.format, opts.input, opts.out);
        if (opts.json) printJson(summary);
        else {
          const lines = [`${opts.format} → ${opts.out}`];
          for (const s of summary.splits)
            lines.push(
              `  ${s.name.padEnd(6)} ${String(s.count).padStart(7)} ${s.pair ? "pairs" : "sentences"}  labels ${JSON.stringify(s.labels)}  files ${s.files.join(", ")}`,
            );
          process.stdout.write(`${lines.join("\n")}\n`);
        }
      }),
    );
}

function report(summary: TaskSummary, opts: { out: string; json?: boolean }): void {
  if (opts.json) {
    printJson(summary);
    return;
  }
  const classes = summary.classes;
  const width = Math.max(8, ...classes.map((c) => c.length));
  const lines = [`${summary.kind} task (seed ${summary.seed}) → ${opts.out}`, "", "class distribution:"];
  lines.push(`  ${"".padEnd(width)} ${SPLITS.map((s) => s.padStart(7)).join(" ")}`);
  for (const c of classes)
    lines.push(
      `  ${c.padEnd(width)} ${SPLITS.map((s) => String(summary.counts[s][c] ?? 0).padStart(7)).join(" ")}`,
    );
  lines.push(
    `  ${"total".padEnd(width)} ${SPLITS.map((s) => String(summary.totals[s]).padStart(7)).join(" ")}`,
  );
  lines.push(
    "",
    "removed by each rule (candidates → other split's word list / seen in train / over cap → kept):",
  );
  for (const s of SPLITS)
    for (const c of classes) {
      const r = summary.removed[s][c];
      lines.push(
        `  ${s.padEnd(5)} ${c.padEnd(width)} ${String(r.candidates).padStart(7)} → ${String(r.otherSplitWordList).padStart(6)} / ${String(r.seenInTrain).padStart(6)} / ${String(r.overCap).padStart(7)} → ${r.selected}`,
      );
    }
  if (summary.shortfall.length > 0) {
    lines.push("", "short of the cap:");
    for (const f of summary.shortfall)
      lines.push(`  ${f.split} ${f.label}: ${f.selected}/${f.cap} (${f.reason})`);
  }
  for (const [cls, lists] of Object.entries(summary.wordLists))
    lines.push(`word list ${cls}: ${SPLITS.map((s) => `${s} ${lists[s].length}`).join(", ")}`);
  if (summary.control)
    lines.push(`control task: ${summary.control.mode}, ${summary.control.types} word types`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
