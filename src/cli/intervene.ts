import { join } from "node:path";
import { type Command, Option } from "commander";
import { SPLITS } from "../data/splits.js";
import { EVALUATIONS, type InterventionResults } from "../intervene/format.js";
import { runInterventionStage } from "../intervene/stage.js";
import { percent } from "../util/format.js";
import type { Site } from "../util/neurons.js";
import { action, printJson, siteOption } from "./common.js";
import { parseIntList, parseIntOption } from "./options.js";

interface InterveneCli {
  results: string;
  model?: string;
  neurons?: string[];
  sweep?: string;
  ks?: number[];
  mode: string;
  site?: Site;
  controls: number;
  seed: number;
  split?: "train" | "valid" | "test";
  evaluation: (typeof EVALUATIONS)[number] | "auto";
  batchTokens: number;
  out: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("intervene")
    .description(
      "Change neurons inside the model's forward pass (zero, mean, scale, set) and measure the model's own predictions per class of the task — masked-LM or next-token accuracy and loss of each word's first subword, or, without a head, a last-layer probe — against random neuron sets of the same size and layers.",
    )
    .requiredOption(
      "--results <dir>",
      "results directory of `codeneurons run` (its task, stores, probe, concepts)",
    )
    .requiredOption("--out <dir>", "output directory (intervention.json, run-record.json)")
    .option("--model <dir-or-id>", "the model (default: the one the stores were extracted from)")
    .option(
      "--neurons <spec>",
      "neurons to change: top:CLASS:K (LCA top-K of a class), concept:NAME, a neuron list file, or names like L3:17,L4.mlp:2 (repeat for several experiments)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--sweep <class>", "also change the top-K neurons of CLASS for each K of --ks")
    .option(
      "--ks <list>",
      "sweep sizes (default 1,2,5,10,20,50,100 up to the class's ranking)",
      parseIntList("ks"),
    )
    .option("--mode <how>", "zero | mean (the neuron's train-split mean) | scale:K | set:V", "zero")
    .addOption(siteOption())
    .option("--controls <n>", "random neuron sets per experiment", parseIntOption("controls", 0), 10)
    .option("--seed <n>", "seed of the random controls", parseIntOption("seed", 0), 1)
    .addOption(
      new Option("--split <split>", "the split whose task rows are scored").choices(SPLITS).default("test"),
    )
    .addOption(
      new Option("--evaluation <how>", "how predictions are scored")
        .choices(["auto", ...EVALUATIONS])
        .default("auto"),
    )
    .option("--batch-tokens <n>", "padded tokens per forward batch", parseIntOption("batch-tokens", 1), 1024)
    .option("--json", "print intervention.json on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(async (o: InterveneCli) => {
        const results = await runInterventionStage({
          ...o,
          sweep: o.sweep ? { class: o.sweep, ks: o.ks } : undefined,
        });
        if (o.json) printJson(results);
        else process.stdout.write(`${formatSummary(results)}\n  wrote ${join(o.out, "intervention.json")}\n`);
      }),
    );
}

/** One line per experiment: the classes it hurts most, beside the random controls. */
export function formatSummary(r: InterventionResults): string {
  const lines = [
    `intervene (${r.evaluation}, ${r.mode}, ${r.controls.count} random controls): ${r.baseline.overall.rows} rows of ${r.split}${r.skippedRows ? ` (${r.skippedRows} skipped)` : ""}`,
  ];
  for (const e of r.experiments) {
    const worst = [...r.classes]
      .map((c) => ({ c, drop: r.baseline.perClass[c].accuracy - e.after.perClass[c].accuracy }))
      .sort((a, b) => b.drop - a.drop)[0];
    const c = worst.c;
    const ctrl = e.controls.perClass[c].accuracy;
    lines.push(
      `  ${e.label} (${e.ids.length} neurons): ${c} ${percent(r.baseline.perClass[c].accuracy)} → ${percent(e.after.perClass[c].accuracy)}` +
        ` (random: ${percent(ctrl.mean)} ± ${percent(ctrl.sd)}); all classes ${percent(r.baseline.overall.accuracy)} → ${percent(e.after.overall.accuracy)}`,
    );
  }
  return lines.join("\n");
}
