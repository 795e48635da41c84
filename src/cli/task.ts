import { Command } from "commander";
import type { TaskSummary } from "../data/task/build.js";
import { runBinaryTask, runTokenTaggingTask } from "../data/task/stage.js";
import { formatTaskSummary } from "../data/task/summary.js";
import { action, printJson, type Register } from "./common.js";
import { parseList } from "./options.js";
import { sentenceTaskCommand } from "./task-sentence.js";
import { type SplitCliOptions, stageInput, taskOptions, withSplitOptions } from "./task-splits.js";

/** `codeneurons task …`: probing tasks from labelled splits or CodeXGLUE-format datasets. */
export const register: Register = (program) => {
  const task = new Command("task").description(
    "Build probing tasks: the paper's filtered token tagging task, binary concept tasks, sentence-level tasks.",
  );
  task.addCommand(tokenTaggingCommand());
  task.addCommand(binaryCommand());
  task.addCommand(sentenceTaskCommand());
  program.addCommand(task);
};

function tokenTaggingCommand(): Command {
  return withSplitOptions(
    new Command("token-tagging").description(
      "The paper's filtered token tagging task: by default the classes of the splits' language (Java: MODIFIER, " +
        "IDENT, KEYWORD, TYPE, NUMBER, STRING; Python: NAME, KEYWORD, NUMBER, STRING; tree-sitter languages: IDENT, " +
        "KEYWORD, [TYPE,] NUMBER, STRING; the language is read from PREFIX.meta.json); valid/test tokens unseen among " +
        "the selected train tokens; disjoint word lists for closed classes; per-class caps. A class without train " +
        "tokens or an empty split is an error. Writes DIR/{train,valid,test}.tsv, DIR/control/*.tsv, word lists and " +
        "DIR/summary.json.",
    ),
  )
    .option("--classes <list>", "classes of the task (default: the language's)", parseList)
    .option(
      "--closed <list>",
      "closed-vocabulary classes, disjoint word lists (default: the language's, e.g. KEYWORD,MODIFIER,TYPE)",
      parseList,
    )
    .option(
      "--prefer-unseen <list>",
      "classes whose train tokens rarest in valid/test are taken first (default NUMBER)",
      parseList,
    )
    .action(
      action(
        async (
          opts: SplitCliOptions & { classes?: string[]; closed?: string[]; preferUnseen?: string[] },
        ) => {
          const summary = await runTokenTaggingTask(stageInput(opts), {
            ...taskOptions(opts),
            classes: opts.classes,
            closedClasses: opts.closed,
            preferUnseen: opts.preferUnseen,
          });
          report(summary, opts);
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
        const summary = await runBinaryTask(stageInput(opts), {
          ...taskOptions(opts),
          labels: opts.label,
          regex: opts.regex,
          closed: opts.closed,
        });
        report(summary, opts);
      }),
    );
}

function report(summary: TaskSummary, opts: { out: string; json?: boolean }): void {
  if (opts.json) printJson(summary);
  else process.stdout.write(`${formatTaskSummary(summary, opts.out)}\n`);
}
