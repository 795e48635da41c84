import { Command, Option } from "commander";
import { LABEL_LANGUAGES, type LabelBackend } from "../data/label.js";
import type { SentenceUnit } from "../data/labelled.js";
import { formatLabelSummary, runLabel } from "../data/stage.js";
import { action, printJson, type Register } from "./common.js";

interface LabelCliOptions {
  lang: string;
  input: string;
  out: string;
  pretokenized?: boolean;
  skipBadLines?: boolean;
  sentence: SentenceUnit;
  parser: LabelBackend;
  field?: string;
  charLiteralLabel?: string;
  json?: boolean;
}

/** `codeneurons label`: code → PREFIX.in + PREFIX.label (+ PREFIX.meta.json). */
export const register: Register = (program) => {
  program.addCommand(
    new Command("label")
      .description(
        "Tokenize code and label every token (the paper's scheme for Java, tokenize categories for Python, " +
          "coarse categories through tree-sitter for other languages); writes PREFIX.in and PREFIX.label.",
      )
      .addOption(
        new Option("--lang <lang>", "language of the input")
          .choices([...LABEL_LANGUAGES])
          .makeOptionMandatory(),
      )
      .requiredOption(
        "--input <file>",
        "source file, token-line file (--pretokenized), or .json/.jsonl records",
      )
      .requiredOption("--out <prefix>", "output prefix: writes PREFIX.in, PREFIX.label, PREFIX.meta.json")
      .option(
        "--pretokenized",
        "Java only: the input is token lines (tokens separated by spaces), one sentence each",
      )
      .option("--skip-bad-lines", "leave out (and record) lines that do not lex instead of failing")
      .addOption(
        new Option("--sentence <unit>", "one sentence per source line, or per file/record")
          .choices(["line", "file"])
          .default("line"),
      )
      .addOption(
        new Option("--parser <backend>", "Java/Python: native lexer (the paper's labels) or tree-sitter")
          .choices(["native", "tree-sitter"])
          .default("native"),
      )
      .option("--field <name>", "for .json/.jsonl inputs: the field holding the code", "code")
      .option(
        "--char-literal-label <label>",
        "Java: label of character literals (docs/DESIGN.md: UNKNOWN; javalang: STRING)",
      )
      .option("--json", "print the summary as JSON")
      .addHelpText(
        "after",
        "\nTokens that contain whitespace are written with ' ' as U+2581 and other blanks as ⟦hex⟧ " +
          "(see src/data/escape.ts); readers undo it.\n\nExample:\n  codeneurons label --lang java --pretokenized " +
          "--input shared/data/java-token-lines/train.in --out work/java/train",
      )
      .action(action(runLabelCommand)),
  );
};

async function runLabelCommand(o: LabelCliOptions): Promise<void> {
  const t0 = performance.now();
  const { meta } = await runLabel({
    lang: o.lang,
    input: o.input,
    out: o.out,
    pretokenized: o.pretokenized,
    skipBadLines: o.skipBadLines,
    sentence: o.sentence,
    backend: o.parser,
    field: o.field,
    charLiteralLabel: o.charLiteralLabel,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (o.json)
    printJson({ ...meta, seconds, tokensPerSecond: Math.round(meta.tokens / Math.max(seconds, 1e-9)) });
  else process.stdout.write(`${formatLabelSummary(meta, seconds)}\n`);
}
