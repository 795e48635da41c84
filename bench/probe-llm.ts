/**
 * `npm run bench:probe-llm`: one oracle fit at a 7B model's width (33 layers × 4,096 = 135,168
 * residual-stream neurons, 12,000 / 1,620 / 2,040 rows, 6 classes, float16 store; the data of
 * bench:pipeline-llm, bench/llm-store.ts), ours against the reference PyTorch trainer on the same store,
 * in the same run, one after the other (each alone in memory: 135,168 × 12,000 float32 is 6.5 GB).
 *
 * Ours: `codeneurons redundancy`'s oracle step with fixed λ1 = λ2 = 1e-5 (as bench:probe's probe-fit),
 * in a child process: reading the store, z-scoring, the fit, dev and test scores.
 * Baseline: bench/probe_llm_baseline.py, the trainer of bench:probe (NeuroX's loop, Adam lr 1e-3,
 * batches of 128, dev-loss patience 2, torch threads = ours): reading the same store, z-scoring,
 * training. It trains `--adam-epochs` epochs (default 20) with early stopping off and replays the
 * reference's early stopping on their dev losses, so one run gives
 *   baseline / ratio            the reference trainer as it is (it stops where its patience says), and
 *   adam_s_to_ours / ratio_same_accuracy
 *                               the time Adam needs to reach our dev accuracy (the first epoch at or
 *                               above it), or, when no epoch does, a lower bound: every epoch run
 *                               (ratio_same_accuracy_min, adam_reached_ours=false).
 * A ratio between two probes of different accuracy says little: both accuracies are printed.
 *
 * Usage: npm run bench:probe-llm [-- --layers 4 --hidden 4096] [-- --adam-epochs 30] [-- --skip-baseline]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { threadCount } from "../src/linalg/runtime.js";
import {
  appendResult,
  benchLine,
  gitCommit,
  machineInfo,
  median,
  pythonHas,
  runPythonBaseline,
} from "./common.js";
import {
  benchShape,
  checkAvailableMemory,
  prepare,
  runPipelineChild,
  shapeDir,
  specOf,
} from "./llm-store.js";

const LAMBDA = 1e-5;

const { values: args } = parseArgs({
  options: {
    layers: { type: "string" },
    hidden: { type: "string" },
    "adam-epochs": { type: "string" },
    "skip-baseline": { type: "boolean", default: false },
  },
});

/** What bench/probe_llm_baseline.py prints. */
interface AdamRun {
  setup_seconds: number;
  epoch_seconds: number[];
  dev_loss: number[];
  dev_acc: number[];
  test_acc: number[];
  reference: {
    patience: number;
    epochs: number;
    stopped_early: boolean;
    best_epoch: number;
    seconds: number;
    objective: number;
    dev_acc: number;
    test_acc: number;
  };
  neurons: number;
  peak_mb: number;
  threads: number;
}

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

/** Seconds until the end of the first epoch whose dev accuracy reaches `dev`, or null when none does. */
function secondsToAccuracy(run: AdamRun, dev: number): { seconds: number; epoch: number } | null {
  const e = run.dev_acc.findIndex((a) => a >= dev);
  if (e < 0) return null;
  return {
    seconds: run.setup_seconds + run.epoch_seconds.slice(0, e + 1).reduce((a, b) => a + b, 0),
    epoch: e + 1,
  };
}

async function main(): Promise<void> {
  const commit = gitCommit();
  const { layers, hidden, full } = benchShape(args);
  const adamEpochs = positiveInt("adam-epochs", args["adam-epochs"]) ?? 20;
  const { store, task } = await prepare(specOf(layers, hidden));
  checkAvailableMemory(full);
  const threads = threadCount();
  const before = machineInfo();
  process.stderr.write(
    `bench:probe-llm: ${layers} × ${hidden} neurons, ${threads} threads, load ${before.load1}\n`,
  );

  const dir = shapeDir(layers, hidden);
  const ours = await runPipelineChild(
    {
      store,
      task,
      out: join(dir, "probe-out"),
      steps: ["oracle"],
      settings: { lambda1: LAMBDA, lambda2: LAMBDA },
    },
    join(dir, "probe-child.json"),
  );
  const oracle = ours.results.steps.oracle;
  if (!oracle) throw new Error("the pipeline run has no oracle result");
  process.stderr.write(
    `ours: ${ours.seconds.toFixed(1)} s, peak ${Math.round(ours.peakMb)} MB, test ${oracle.probe.test.accuracy}\n`,
  );

  let adam: AdamRun | null = null;
  if (!args["skip-baseline"] && pythonHas(["torch", "numpy"]))
    adam = await runPythonBaseline<AdamRun>(
      join(import.meta.dirname, "probe_llm_baseline.py"),
      [
        "--store",
        store,
        "--task",
        task,
        "--threads",
        String(threads),
        "--l1",
        String(LAMBDA),
        "--l2",
        String(LAMBDA),
        "--epochs",
        String(adamEpochs),
      ],
      6 * 3600,
    );
  const ref = adam?.reference;
  const reach = adam ? secondsToAccuracy(adam, oracle.probe.dev.accuracy) : null;
  const trajectory = adam ? adam.setup_seconds + adam.epoch_seconds.reduce((a, b) => a + b, 0) : 0;
  const skipped = "skipped";
  const line = benchLine("probe-llm", ours.seconds, ref ? ref.seconds : null, {
    neurons: ours.results.totalNeurons,
    full_size: full,
    test_acc_ours: oracle.probe.test.accuracy,
    test_acc_adam: ref ? ref.test_acc : skipped,
    dev_acc_ours: oracle.probe.dev.accuracy,
    dev_acc_adam: ref ? ref.dev_acc : skipped,
    iterations: oracle.probe.iterations,
    adam_epochs: ref ? ref.epochs : skipped,
    adam_stopped_early: ref ? ref.stopped_early : skipped,
    adam_epochs_run: adam ? adam.epoch_seconds.length : skipped,
    adam_best_dev_acc: adam ? Math.max(...adam.dev_acc) : skipped,
    adam_reached_ours: adam ? reach !== null : skipped,
    ...(reach
      ? {
          adam_s_to_ours: reach.seconds,
          adam_epochs_to_ours: reach.epoch,
          ratio_same_accuracy: reach.seconds / ours.seconds,
        }
      : adam
        ? { ratio_same_accuracy_min: trajectory / ours.seconds }
        : {}),
    adam_epoch_s: adam ? median(adam.epoch_seconds) : skipped,
    adam_setup_s: adam ? adam.setup_seconds : skipped,
    load_s: ours.record.seconds.load ?? 0,
    peak_mb_ours: Math.round(ours.peakMb),
    peak_mb_adam: adam ? Math.round(adam.peak_mb) : skipped,
    lambda1: LAMBDA,
    lambda2: LAMBDA,
    threads,
  });
  await appendResult("probe-llm", {
    commit,
    lines: [line],
    ours: [ours.seconds],
    shape: { layers, hidden, neurons: ours.results.totalNeurons, rows: ours.results.input.rows },
    oracle,
    run: ours.record,
    baseline: adam,
    machineBefore: before,
  });
}

await main();
