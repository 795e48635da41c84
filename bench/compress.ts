/**
 * `npm run bench:compress`: what `codeneurons compress` buys in speed on a BERT-base-sized model. The
 * random BERT-base of bench:extract and the bench task of bench:pipeline (bench/pipeline-data.ts: the
 * paper authors' Java lines, 12,000 / 1,620 / 2,040 tokens, float16 stores), a redundancy run of the
 * steps LS+CC+LCA needs (oracle, incremental, ls, ccfs, lslca; λ1 = λ2 = 1e-4 given rather than tuned,
 * so that the full model's oracle compresses with one fit; cached in bench/work/compress/redundancy by
 * the pipeline's own cache), then the compressed LS+CC+LCA model against the full model + oracle probe
 * (the oracle set compressed the same way: every block, every neuron, outputs only the logits) labelling
 * the task's test sentences: tokenization, windows, batches, forward passes and word averaging, the
 * same inputs for both, one warm-up each, then alternating timed runs; medians (compress/speed.ts).
 *
 * When LayerSelector keeps every layer there is no cut to measure: the issue asks for the set cut at
 * the median layer then; this script says so and stops (it did not happen on this model).
 *
 * Prints `BENCH compress ours=<s> baseline=<s> ratio=<x> layers_kept=<n> neurons_kept=<n> …`, the
 * target being ratio ≥ 0.8 × (blocks of the model / blocks kept), and appends to bench/results.json.
 * Usage: npm run bench:compress [-- --runs 5]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compareWithFullModel } from "../src/compress/speed.js";
import { runCompress } from "../src/compress/stage.js";
import { threadCount } from "../src/linalg/runtime.js";
import { runRedundancyPipeline } from "../src/redundancy/pipeline/pipeline.js";
import { formatSummary } from "../src/redundancy/pipeline/summary.js";
import { appendResult, benchLine, machineInfo, WORK_DIR } from "./common.js";
import { MODEL, prepare } from "./pipeline-data.js";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const DIR = join(WORK_DIR, "compress");

async function main(): Promise<void> {
  const runs = Number(args.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs: a positive integer");
  const { store, task } = await prepare();
  const results = join(DIR, "redundancy");
  const { results: r, record } = await runRedundancyPipeline(
    { store, task },
    {
      out: results,
      steps: ["oracle", "incremental", "ls", "ccfs", "lslca"],
      settings: { lambda1: 1e-4, lambda2: 1e-4, curves: "until-target" },
    },
  );
  process.stdout.write(`${formatSummary(r, record)}\n`);
  const compressed = join(DIR, "ls-cc-lca");
  const { card, seconds } = await runCompress({ results, set: "ls+cc+lca", out: compressed, model: MODEL });
  const L = card.layers.of;
  const kept = card.layers.blocks;
  if (kept === L) {
    process.stdout.write(
      `bench:compress: LS+CC+LCA uses layer ${L}, every block: nothing is cut. The set cut at the median layer is not implemented; no BENCH line.\n`,
    );
    return;
  }
  const speed = await compareWithFullModel(results, compressed, { runs, model: MODEL });
  const target = 0.8 * (L / Math.max(kept, 1));
  const line = benchLine("compress", speed.median.compressed, speed.median.full, {
    layers_kept: kept,
    neurons_kept: card.neurons.ids.length,
    model_layers: L,
    target,
    met: speed.speedup >= target,
    accuracy: card.accuracy.measured.accuracy,
    run_accuracy: card.accuracy.run.test,
    oracle_accuracy: r.steps.oracle?.probe.test.accuracy ?? "none",
    sentences: speed.sentences,
    words: speed.words,
    runs,
    threads: threadCount(),
  });
  await appendResult("compress", {
    lines: [line],
    ours: speed.compressed,
    baseline: speed.full,
    speed,
    card: {
      layers: card.layers,
      neurons: card.neurons.ids.length,
      accuracy: card.accuracy,
      set: card.set.detail,
    },
    compressSeconds: seconds,
    machineBefore: machineInfo(),
  });
}

await main();
