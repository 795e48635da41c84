/**
 * `npm run bench:probe-llm`: one oracle fit at a 7B model's width (33 layers × 4,096 = 135,168
 * residual-stream neurons, 12,000 / 1,620 / 2,040 rows, 6 classes, float16 store; the data of
 * bench:pipeline-llm, bench/llm-store.ts), ours against the reference PyTorch trainer on the same store,
 * in the same run, one after the other (each alone in memory: 135,168 × 12,000 float32 is 6.5 GB).
 *
 * Ours: `codeneurons redundancy`'s oracle step with fixed λ1 = λ2 = 1e-5 (as bench:probe's probe-fit),
 * in a child process: reading the store, z-scoring, the fit, dev and test scores.
 * Baseline: bench/probe_llm_baseline.py, the trainer of bench:probe (NeuroX's loop, Adam lr 1e-3,
 * batches of 128, ≤ 100 epochs, dev-loss patience 2, torch threads = ours): reading the same store,
 * z-scoring, training. By default it runs to its stopping point; `--adam-epochs 3 --assume-epochs E`
 * times 3 epochs and extrapolates to E (printed as adam_extrapolated=true, with E).
 *
 * Prints `BENCH probe-llm ours=<s> baseline=<s> ratio=<x> …`; target ratio ≥ 5.
 *
 * Usage: npm run bench:probe-llm [-- --layers 4 --hidden 4096] [-- --adam-epochs 3 --assume-epochs 40]
 *        [-- --skip-baseline]
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
  FULL,
  FULL_SIZE_AVAILABLE,
  GiB,
  memAvailable,
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
    "assume-epochs": { type: "string" },
    "skip-baseline": { type: "boolean", default: false },
  },
});

/** What bench/probe_llm_baseline.py prints. */
interface AdamRun {
  seconds: number;
  read_seconds: number;
  standardize_seconds: number;
  epoch_seconds: number[];
  epochs: number;
  max_epochs: number;
  stopped_early: boolean;
  best_epoch: number;
  objective: number;
  dev_acc: number;
  test_acc: number;
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

/** The baseline's seconds: measured to its stopping point, or its epochs' median extrapolated to `assume`. */
function baselineSeconds(
  run: AdamRun,
  assume: number | undefined,
): { seconds: number; extrapolated: boolean } {
  if (run.stopped_early || assume === undefined || assume <= run.epochs)
    return { seconds: run.seconds, extrapolated: false };
  const setup = run.read_seconds + run.standardize_seconds;
  return { seconds: setup + median(run.epoch_seconds) * assume, extrapolated: true };
}

async function main(): Promise<void> {
  const commit = gitCommit();
  const layers = positiveInt("layers", args.layers) ?? FULL.layers;
  const hidden = positiveInt("hidden", args.hidden) ?? FULL.hidden;
  const adamEpochs = positiveInt("adam-epochs", args["adam-epochs"]);
  const assume = positiveInt("assume-epochs", args["assume-epochs"]);
  if (adamEpochs !== undefined && assume === undefined)
    throw new Error("--adam-epochs N needs --assume-epochs E: the epochs its time is extrapolated to");
  const full = layers === FULL.layers && hidden === FULL.hidden;
  const { store, task } = await prepare(specOf(layers, hidden));
  const available = memAvailable();
  if (full && available < FULL_SIZE_AVAILABLE)
    throw new Error(
      `the full size needs ${FULL_SIZE_AVAILABLE / GiB} GiB of available memory, this machine has ${(available / GiB).toFixed(1)} GiB now`,
    );
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
        ...(adamEpochs ? ["--max-epochs", String(adamEpochs)] : []),
      ],
      6 * 3600,
    );
  const base = adam ? baselineSeconds(adam, assume) : null;
  const line = benchLine("probe-llm", ours.seconds, base ? base.seconds : null, {
    neurons: ours.results.totalNeurons,
    full_size: full,
    test_acc_ours: oracle.probe.test.accuracy,
    test_acc_adam: adam ? adam.test_acc : "skipped",
    dev_acc_ours: oracle.probe.dev.accuracy,
    dev_acc_adam: adam ? adam.dev_acc : "skipped",
    iterations: oracle.probe.iterations,
    adam_epochs_run: adam ? adam.epochs : "skipped",
    adam_stopped_early: adam ? adam.stopped_early : "skipped",
    adam_extrapolated: base ? base.extrapolated : "skipped",
    ...(base?.extrapolated ? { adam_epochs_assumed: assume ?? 0 } : {}),
    adam_epoch_s: adam ? median(adam.epoch_seconds) : "skipped",
    adam_setup_s: adam ? adam.read_seconds + adam.standardize_seconds : "skipped",
    load_s: ours.record.seconds.load ?? 0,
    peak_mb_ours: Math.round(ours.peakMb),
    peak_mb_adam: adam ? Math.round(adam.peak_mb) : "skipped",
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
