import { type Command, Option } from "commander";
import { LABEL_LANGUAGES } from "../data/label.js";
import { speedLine } from "../run/compressed.js";
import {
  DEMO_NAMES,
  demoConfig,
  demoResultsDir,
  isDemoName,
  isSentenceKind,
  readRunConfig,
  TASK_KINDS,
  type TaskKind,
} from "../run/config.js";
import { runAnalysis } from "../run/run.js";
import { SITES, type Site } from "../store/format.js";
import { UserError } from "../util/errors.js";
import { formatSeconds } from "../util/progress.js";
import { action, printJson } from "./common.js";
import { parseList } from "./options.js";

interface RunCli {
  model?: string;
  data?: string;
  site?: Site;
  config?: string;
  out?: string;
  demo?: boolean | string;
  lang?: string;
  kind?: TaskKind;
  classes?: string[];
  label?: string[];
  regex?: string;
  caps?: [number, number, number];
  skipBadLines?: boolean;
  json?: boolean;
  quiet?: boolean;
}

function parseCaps(value: string): [number, number, number] {
  const parts = value.split(",").map((p) => p.trim());
  const n = parts.map(Number);
  if (parts.length !== 3 || n.some((x, i) => parts[i] === "" || !Number.isInteger(x) || x < 1))
    throw new UserError(`--caps: expected three positive integers train,valid,test, got '${value}'`);
  return [n[0], n[1], n[2]];
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description(
      "The paper's whole analysis for one model and code corpus: label → task → extract → probe → redundancy → concepts → report. " +
        "Token tagging in any language `label` knows, binary concept tasks, and the sentence-level tasks devign, bigclonebench and cosqa (pairs).",
    )
    .option("--model <dir-or-id>", "Hugging Face model directory or hub id (overrides the config)")
    .option(
      "--data <dir>",
      "directory with the three splits, named by split (overrides the config): token kinds train.in (token lines " +
        "for Java, source lines else), train.jsonl / train.json (records with a code field) or train.py (the " +
        "language's extension); devign train.jsonl; cosqa train.json; bigclonebench train.txt with data.jsonl",
    )
    .option(
      "--config <file>",
      "JSON settings, paths relative to the file (see config/paper.json; defaults are the paper's)",
    )
    .addOption(
      new Option(
        "--site <site>",
        "neurons to analyse: hidden (residual stream, L12:17) or mlp (each block's MLP neurons, L12.mlp:3071); overrides the config's site (default hidden)",
      ).choices([...SITES]),
    )
    .addOption(
      new Option(
        "--kind <kind>",
        "the task (overrides the config's task.kind; default token-tagging)",
      ).choices([...TASK_KINDS]),
    )
    .addOption(
      new Option("--lang <language>", "language of the code (overrides data.language; default java)").choices(
        [...LABEL_LANGUAGES],
      ),
    )
    .option(
      "--classes <list>",
      "token tagging: the classes (default the language's: Java MODIFIER,IDENT,KEYWORD,TYPE,NUMBER,STRING; Python NAME,KEYWORD,NUMBER,STRING; …)",
      parseList,
    )
    .option("--label <list>", "binary: tokens of these labels are the positive class", parseList)
    .option("--regex <pattern>", "binary: tokens whose text matches are the positive class")
    .option("--caps <train,valid,test>", "token kinds: tokens per class in each split", parseCaps)
    .option(
      "--skip-bad-lines",
      "token kinds: leave out (and record) lines that do not lex instead of failing",
    )
    .option("--out <dir>", "results directory", "results")
    .option(
      "--demo [name]",
      `the bundled model on a bundled sample: ${DEMO_NAMES.join(", ")} (default java, the paper's task; devign and bigclonebench are synthetic samples in their datasets' formats; → demo-results/ or demo-results-NAME/)`,
    )
    .option("--json", "print the run summary as JSON")
    .option("--quiet", "no progress bars")
    .addHelpText(
      "after",
      "\nExamples:\n  codeneurons run --demo\n  codeneurons run --demo cosqa\n  codeneurons run --demo bigclonebench\n" +
        "  codeneurons run --model microsoft/codebert-base --config config/paper.json --out results/codebert\n" +
        "  codeneurons run --model microsoft/codebert-base --data my-python --lang python --out results/py",
    )
    .action(
      action(async (o: RunCli) => {
        const demo = typeof o.demo === "string" ? o.demo : o.demo ? "java" : undefined;
        if (demo !== undefined && !isDemoName(demo))
          throw new UserError(`--demo: unknown demo '${demo}' (one of ${DEMO_NAMES.join(", ")})`);
        const config = o.config ?? (demo ? demoConfig(demo) : undefined);
        const out = demo && o.out === "results" ? demoResultsDir(demo) : (o.out ?? "results");
        const cfg = readRunConfig(config, {
          model: o.model,
          data: o.data,
          site: o.site,
          lang: o.lang,
          kind: o.kind,
          classes: o.classes,
          labels: o.label,
          regex: o.regex,
          caps: o.caps,
          skipBadLines: o.skipBadLines,
        });
        const t0 = performance.now();
        const result = await runAnalysis(cfg, out, { quiet: o.quiet });
        if (o.json) return printJson(result);
        process.stdout.write(
          [
            "",
            `codeneurons: ${cfg.model} on ${cfg.data.train} (and valid/test) in ${formatSeconds((performance.now() - t0) / 1000)}`,
            result.headline.text,
            ...(result.compress?.speed ? [speedLine(result.compress.speed)] : []),
            `Report: ${result.report}`,
            // The explorer shows word-level activations; a sentence-level task has none.
            ...(isSentenceKind(cfg.task.kind) ? [] : [`Explore: codeneurons serve ${out}`]),
            "",
          ].join("\n"),
        );
      }),
    );
}
