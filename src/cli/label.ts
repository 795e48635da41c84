import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { labelCounts, writeLabelled } from "../data/io.js";
import { isLabelLanguage, LABEL_LANGUAGES, type LabelBackend, labelFile } from "../data/label.js";
import { type LabelResult, type SentenceUnit, tokenCount } from "../data/labelled.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { UserError } from "../util/errors.js";
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
      .action(action(runLabel)),
  );
};

async function runLabel(opts: LabelCliOptions): Promise<void> {
  if (!isLabelLanguage(opts.lang)) throw new UserError(`--lang: unknown language '${opts.lang}'`);
  const t0 = performance.now();
  const result = await labelFile(opts.input, {
    lang: opts.lang,
    pretokenized: opts.pretokenized,
    skipBadLines: opts.skipBadLines,
    sentence: opts.sentence,
    backend: opts.parser,
    field: opts.field,
    charLiteralLabel: opts.charLiteralLabel,
  });
  const seconds = (performance.now() - t0) / 1000;
  const paths = await writeLabelled(opts.out, result);
  const summary = await summarize(opts, result, seconds, paths.in, paths.label);
  await writeJsonAtomic(`${opts.out}.meta.json`, {
    ...summary,
    sourceLines: result.sourceLines,
    records: result.records,
  });
  if (opts.json) printJson(summary);
  else printSummary(summary);
}

interface LabelSummary {
  input: string;
  inputSha256: string;
  lang: string;
  pretokenized: boolean;
  out: { in: string; label: string; meta: string };
  sentences: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  counts: Record<string, number>;
  skipped: LabelResult["skipped"];
  anomalies: LabelResult["anomalies"];
}

async function summarize(
  opts: LabelCliOptions,
  result: LabelResult,
  seconds: number,
  inPath: string,
  labelPath: string,
): Promise<LabelSummary> {
  const tokens = tokenCount(result);
  return {
    input: opts.input,
    inputSha256: createHash("sha256")
      .update(await readFile(opts.input))
      .digest("hex"),
    lang: opts.lang,
    pretokenized: Boolean(opts.pretokenized),
    out: { in: inPath, label: labelPath, meta: `${opts.out}.meta.json` },
    sentences: result.sentences.length,
    tokens,
    seconds: Number(seconds.toFixed(4)),
    tokensPerSecond: Math.round(tokens / Math.max(seconds, 1e-9)),
    counts: labelCounts(result.labels),
    skipped: result.skipped,
    anomalies: result.anomalies,
  };
}

function printSummary(s: LabelSummary): void {
  const lines = [
    `${s.input}: ${s.sentences} sentences, ${s.tokens} tokens in ${s.seconds.toFixed(2)} s (${s.tokensPerSecond} tokens/s)`,
    `wrote ${s.out.in}, ${s.out.label}, ${s.out.meta}`,
  ];
  const width = Math.max(...Object.keys(s.counts).map((k) => k.length), 5);
  for (const [label, n] of Object.entries(s.counts))
    lines.push(
      `  ${label.padEnd(width)} ${String(n).padStart(8)} ${((100 * n) / Math.max(s.tokens, 1)).toFixed(2).padStart(6)}%`,
    );
  if (s.skipped.length > 0) {
    lines.push(`skipped ${s.skipped.length} line(s):`);
    for (const k of s.skipped.slice(0, 10))
      lines.push(`  line ${k.line}${k.record !== undefined ? ` (record ${k.record})` : ""}: ${k.reason}`);
    if (s.skipped.length > 10) lines.push(`  … (all in ${s.out.meta})`);
  }
  if (s.anomalies.length > 0)
    lines.push(`${s.anomalies.length} piece(s) kept whole as UNKNOWN (see ${s.out.meta})`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
