import { Command, Option } from "commander";
import { SENTENCE_FORMATS, type SentenceFormat, writeSentenceTask } from "../data/sentence/index.js";
import { action, printJson } from "./common.js";

/** `codeneurons task sentence`: sentence-level tasks from CodeXGLUE-format datasets. */
export function sentenceTaskCommand(): Command {
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
