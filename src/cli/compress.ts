import { type Command, Option } from "commander";
import type { CompressedCard } from "../compress/format.js";
import { SET_NAMES, type SetName } from "../compress/format.js";
import { compressWithSpeed, type SpeedComparison } from "../compress/speed.js";
import { percent } from "../util/format.js";
import { action, printJson } from "./common.js";
import { parseIntOption } from "./options.js";

interface CompressCli {
  results: string;
  set: SetName;
  out?: string;
  model?: string;
  batchTokens: number;
  speed?: number | true;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("compress")
    .description(
      "A standalone task model from a finished run: the network cut after the highest layer a selected neuron set uses, computing only those neurons, followed by the set's probe — one ONNX file (runs on plain onnxruntime) plus card.json and the tokenizer",
    )
    .requiredOption(
      "--results <dir>",
      "results directory of `codeneurons run` (or an output directory of `codeneurons redundancy`)",
    )
    .addOption(
      new Option("--set <set>", "which set of the redundancy summary")
        .choices([...SET_NAMES])
        .default("ls+cc+lca"),
    )
    .option("--out <dir>", "output directory (default RESULTS/compressed/SET)")
    .option("--model <dir-or-id>", "the source model (default: the one the activations were extracted from)")
    .option("--batch-tokens <n>", "padded tokens per forward batch", parseIntOption("batch-tokens", 1), 1024)
    .option(
      "--speed [runs]",
      "also time it against the full model + oracle probe on the run's test sentences (alternating runs, medians; default 3 runs)",
      parseIntOption("speed", 1),
    )
    .option("--json", "print card.json on stdout")
    .option("--quiet", "no progress output")
    .addHelpText(
      "after",
      "\nExamples:\n  codeneurons compress --results demo-results --set ls+cc+lca\n  codeneurons predict --model demo-results/compressed/ls-cc-lca --input lines.in",
    )
    .action(
      action(async (o: CompressCli) => {
        const speedRuns = o.speed === undefined ? 0 : o.speed === true ? 3 : o.speed;
        const r = await compressWithSpeed({ ...o, speedRuns });
        if (o.json) printJson(r.card);
        else
          process.stdout.write(
            `${formatCard(r.card)}${r.speed ? `\n${formatSpeed(r.speed)}` : ""}\n  wrote ${r.out}\n`,
          );
      }),
    );
}

/** What a compressed model kept and how it scores. */
export function formatCard(c: CompressedCard): string {
  const m = c.accuracy.measured;
  return [
    `compress: ${c.set.row} (${c.set.detail}) of ${c.source.model}`,
    `  layers: cut after block ${c.layers.blocks} of ${c.layers.of} (neurons from ${c.set.site} layers ${c.layers.used.join(",")})`,
    `  neurons: ${c.neurons.ids.length} of ${c.neurons.of} computed for the probe (${c.set.ids.length} probe inputs), ${c.probe.classes.length} classes`,
    `  test accuracy: ${percent(m.accuracy, 2)} on ${m.rows} rows (the run: ${percent(c.accuracy.run.test, 2)}); agrees with the run's probe on ${m.agreement} of ${m.rows}`,
    ...c.warnings.map((w) => `  warning: ${w}`),
  ].join("\n");
}

/** The speed-up line: medians of both, the blocks each computes. */
export function formatSpeed(s: SpeedComparison): string {
  return `  speed: ${s.speedup.toFixed(2)}× the full model + oracle probe (${s.median.compressed.toFixed(3)} s vs ${s.median.full.toFixed(3)} s for ${s.sentences} test sentences, ${s.words} words; medians of ${s.runs} alternating runs; ${s.blocks.compressed} vs ${s.blocks.full} blocks)`;
}
