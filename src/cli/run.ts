import { type Command, Option } from "commander";
import { DEMO_CONFIG, readRunConfig } from "../run/config.js";
import { runAnalysis } from "../run/run.js";
import { SITES, type Site } from "../store/format.js";
import { formatSeconds } from "../util/progress.js";
import { action, printJson } from "./common.js";

interface RunCli {
  model?: string;
  data?: string;
  site?: Site;
  config?: string;
  out?: string;
  demo?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description(
      "The paper's whole analysis for one model and code corpus: label → task → extract → probe → redundancy → concepts → report",
    )
    .option("--model <dir-or-id>", "Hugging Face model directory or hub id (overrides the config)")
    .option("--data <dir>", "directory with train.in, valid.in, test.in (overrides the config)")
    .option("--config <file>", "JSON settings (see config/paper.json; defaults are the paper's)")
    .addOption(
      new Option(
        "--site <site>",
        "neurons to analyse: hidden (residual stream, L12:17) or mlp (each block's MLP neurons, L12.mlp:3071); overrides the config's site (default hidden)",
      ).choices([...SITES]),
    )
    .option("--out <dir>", "results directory", "results")
    .option("--demo", "the bundled model on the bundled Java slice (demo/config.json → demo-results/)")
    .option("--json", "print the run summary as JSON")
    .option("--quiet", "no progress bars")
    .addHelpText(
      "after",
      "\nExamples:\n  codeneurons run --demo\n  codeneurons run --model microsoft/codebert-base --config config/paper.json --out results/codebert",
    )
    .action(
      action(async (o: RunCli) => {
        const config = o.config ?? (o.demo ? DEMO_CONFIG : undefined);
        const out = o.demo && o.out === "results" ? "demo-results" : (o.out ?? "results");
        const cfg = readRunConfig(config, { model: o.model, data: o.data, site: o.site });
        const t0 = performance.now();
        const result = await runAnalysis(cfg, out, { quiet: o.quiet });
        if (o.json) return printJson(result);
        process.stdout.write(
          [
            "",
            `codeneurons: ${cfg.model} on ${cfg.data.train} (and valid/test) in ${formatSeconds((performance.now() - t0) / 1000)}`,
            result.headline.text,
            `Report: ${result.report}`,
            `Explore: codeneurons serve ${out}`,
            "",
          ].join("\n"),
        );
      }),
    );
}
