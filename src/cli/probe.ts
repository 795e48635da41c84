import { join } from "node:path";
import type { Command } from "commander";
import { type ProbeStageOptions, type ProbeStageResult, runProbe } from "../probe/stage.js";
import { UserError } from "../util/errors.js";
import { action, printJson, siteOption } from "./common.js";
import { parseFloatOption, parseIntList, parseIntOption } from "./options.js";

export function register(program: Command): void {
  program
    .command("probe")
    .description(
      "Train a linear probe (elastic-net logistic regression, NeuroX's objective) on stored activations for a token-tagging task; tune λ1, λ2 on the dev split; write the probe, its train/valid/test metrics and neuron rankings (LCA, per-class top neurons, probeless, random) as JSON.",
    )
    .requiredOption("--store <dir>", "activation store, or a directory with train/, valid/, test/ stores")
    .requiredOption("--task <dir>", "task directory with {train,valid,test}.tsv (from `codeneurons task`)")
    .requiredOption("--out <dir>", "output directory (probe.json, metrics.json, rankings.json)")
    .addOption(siteOption())
    .option(
      "--layers <list>",
      "only these layers of the site, e.g. 0,3-5 (default: all stored layers; MLP layers start at 1)",
      parseIntList("layers"),
    )
    .option(
      "--neurons <file>",
      "only these neurons: JSON list (or {neurons: [...]}) or text of ids / L{layer}:{unit} names (L{layer}.mlp:{unit} with --site mlp)",
    )
    .option("--classes <list>", "only rows of these classes, e.g. IDENT,NUMBER (default: all)", (v: string) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .option("--control", "train on the control task (DIR/control/) instead")
    .option("--selectivity", "also train on the control task with the chosen λs and report selectivity")
    .option("--lambda1 <x>", "L1 weight (no grid search when λ1 or λ2 is given)", parseFloatOption("lambda1"))
    .option("--lambda2 <x>", "L2 (Frobenius) weight", parseFloatOption("lambda2"))
    .option("--grid", "tune λ1, λ2 over {0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1}² on the dev split (the default)")
    .option("--seed <n>", "seed of the random ordering baseline", parseIntOption("seed", 0), 1)
    .option(
      "--patience <n>",
      "early stopping: iterations without dev improvement (accuracy, then loss); 0 = off",
      parseIntOption("patience", 0),
      5,
    )
    .option("--max-iter <n>", "iterations per fit at most", parseIntOption("max-iter", 1), 500)
    .option("--stride <n>", "LCA ordering steps of weight mass", parseIntOption("stride", 1), 100)
    .option(
      "--percentage <p>",
      "weight mass for the per-class top neurons",
      parseFloatOption("percentage"),
      0.05,
    )
    .option(
      "--max-memory <GiB>",
      "memory the stage may use (default 85% of this machine's); a probe estimated above it is refused before it starts",
      parseFloatOption("max-memory"),
    )
    .option("--json", "print a summary as JSON on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(async (cli: ProbeStageOptions & { json?: boolean; maxMemory?: number }) => {
        const { maxMemory, ...opts } = cli;
        if (maxMemory !== undefined && !(maxMemory > 0))
          throw new UserError("--max-memory must be a positive number of GiB");
        const result = await runProbe({
          ...opts,
          ...(maxMemory !== undefined ? { maxMemoryBytes: maxMemory * 1024 ** 3 } : {}),
        });
        if (opts.json) printJson(result.summary);
        else printSummary(result);
      }),
    );
}

function printSummary({ summary: s, record }: ProbeStageResult): void {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const lines = [
    `probe${s.control ? " (control task)" : ""}: ${s.neurons} ${s.site === "hidden" ? "" : `${s.site} `}neurons, λ1=${s.lambda1} λ2=${s.lambda2}`,
    `  accuracy  train ${pct(s.accuracy.train)}  valid ${pct(s.accuracy.valid)}  test ${pct(s.accuracy.test)}`,
    `  intercept-only baseline  valid ${pct(s.interceptOnly.valid)}  test ${pct(s.interceptOnly.test)}`,
  ];
  if (s.selectivity && s.controlAccuracy)
    lines.push(
      `  control task  test ${pct(s.controlAccuracy.test)}  selectivity ${(100 * s.selectivity.test).toFixed(2)} points`,
    );
  lines.push(
    `  wrote ${join(s.out, "probe.json")}, metrics.json, rankings.json (${record.seconds.total.toFixed(1)} s)`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}
