/**
 * `npm run bench:pipeline-llm`: the whole token-tagging redundancy pipeline (every step of `codeneurons
 * redundancy`) at a 7B model's width: 33 layers × 4,096 residual-stream neurons = 135,168 neurons, on
 * 12,000 / 1,620 / 2,040 rows (6 classes), read from a float16 activation store on disk.
 *
 * Data: synthetic with planted structure, written once per shape (bench/llm-store.ts).
 *
 * The pipeline runs in a child process, so that its peak memory (VmHWM: resident set, onnxruntime's
 * buffers included) is the pipeline's alone; the output directory is fresh (no cache hits). Prints
 * the time per step and `BENCH pipeline-llm ours=<s> peak_mb=<n> neurons=<n> …`; targets: ours ≤ 3,600 s,
 * peak_mb ≤ 20,000 at the full size. There is no baseline to run (NeuroX's pipeline at this width does
 * not fit in memory).
 *
 * The full size needs about 21 GiB of available memory: the bench checks MemAvailable and refuses to
 * start the full size below it. `--layers N` runs the same width on fewer layers (reported as
 * `full_size=false`, never as the full-size figure).
 *
 * Usage: npm run bench:pipeline-llm [-- --layers 8] [-- --hidden 4096] [-- --steps oracle,cc] [-- --prepare-only]
 *        [-- --lambda 1e-5]  (λ1 = λ2 fixed: the oracle is one fit, not the 36-point grid; printed as lambda=)
 *        npm run bench:pipeline-llm -- --record-from bench/work/pipeline-llm/4x4096/child.json --layers 4 --hidden 4096
 *          (prints and records a finished run again from its child's result file)
 */
import { readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { threadCount } from "../src/linalg/runtime.js";
import { runRedundancyPipeline, STEP_ALIASES } from "../src/redundancy/pipeline/pipeline.js";
import type { StepName } from "../src/redundancy/pipeline/results.js";
import { formatSummary } from "../src/redundancy/pipeline/summary.js";
import { appendResult, fmt, machineInfo } from "./common.js";
import {
  benchShape,
  type ChildResult,
  checkAvailableMemory,
  FULL,
  GiB,
  PER_CLASS,
  type PipelineJob,
  peakMb,
  prepare,
  runPipelineChild,
  shapeDir,
  specOf,
} from "./llm-store.js";

const { values: args } = parseArgs({
  options: {
    layers: { type: "string" },
    hidden: { type: "string" },
    steps: { type: "string" },
    lambda: { type: "string" },
    "prepare-only": { type: "boolean", default: false },
    child: { type: "string" },
    "record-from": { type: "string" },
  },
});

/** The child: one pipeline run, its time and peak memory written to `file`. */
async function child(file: string): Promise<void> {
  const { store, task, out, steps, settings } = JSON.parse(readFileSync(file, "utf8")) as PipelineJob;
  const t0 = performance.now();
  const { results, record } = await runRedundancyPipeline({ store, task }, { out, steps, settings });
  const seconds = (performance.now() - t0) / 1000;
  const result: ChildResult = { seconds, peakMb: peakMb(), results, record };
  await writeFile(file, JSON.stringify(result));
}

async function main(): Promise<void> {
  if (args.child) return child(args.child);
  if (args["record-from"]) {
    if (!args.layers || !args.hidden) throw new Error("--record-from needs the run's --layers and --hidden");
    return report(args["record-from"], Number(args.layers), Number(args.hidden), {}, true);
  }
  const { layers, hidden, full } = benchShape(args);
  const spec = specOf(layers, hidden);
  const { store, task } = await prepare(spec);
  if (args["prepare-only"]) return;
  const available = checkAvailableMemory(full);
  const jobFile = join(shapeDir(layers, hidden), "child.json");
  const steps = args.steps ? (args.steps.split(",") as StepName[]) : undefined;
  const before = machineInfo();
  process.stderr.write(
    `bench:pipeline-llm: ${layers} × ${hidden} neurons, ${threadCount()} threads, ${(available / GiB).toFixed(1)} GiB available, load ${loadavg()[0].toFixed(2)}\n`,
  );
  const lambda = args.lambda === undefined ? undefined : Number(args.lambda);
  if (lambda !== undefined && !(lambda >= 0))
    throw new Error(`--lambda must be a number >= 0, got '${args.lambda}'`);
  const settings = lambda === undefined ? undefined : { lambda1: lambda, lambda2: lambda };
  await runPipelineChild(
    { store, task, out: join(shapeDir(layers, hidden), "out"), steps, settings },
    jobFile,
  );
  await report(jobFile, layers, hidden, before);
}

/**
 * Prints and records a finished run from its child's result file. `--record-from FILE` re-records one
 * (the record then names the file and when the run finished).
 */
async function report(
  jobFile: string,
  layers: number,
  hidden: number,
  before: Record<string, unknown>,
  recovered = false,
): Promise<void> {
  const full = layers === FULL.layers && hidden === FULL.hidden;
  const result = JSON.parse(readFileSync(jobFile, "utf8")) as ChildResult;
  process.stdout.write(`${formatSummary(result.results, result.record)}\n`);
  const { total: _t, load, ...perStep } = result.record.seconds;
  process.stdout.write(`time per step (s; reading the activations: ${fmt(load ?? 0)} s):\n`);
  for (const [name, s] of Object.entries(perStep))
    process.stdout.write(`  ${name.padEnd(12)} ${s.toFixed(1)}\n`);
  // Some steps, or the oracle at a fixed λ instead of its grid, is not the whole pipeline: recorded
  // under its own name (the cost model's fit reads whole runs only).
  const fixedLambda = result.results.settings.lambda1;
  const partial = Object.keys(perStep).length < STEP_ALIASES.all.length || fixedLambda !== undefined;
  const name = partial ? "pipeline-llm-partial" : "pipeline-llm";
  const extra = {
    peak_mb: Math.round(result.peakMb),
    neurons: result.results.totalNeurons,
    full_size: full,
    layers,
    hidden,
    tokens: `${PER_CLASS.train * 6}/${PER_CLASS.valid * 6}/${PER_CLASS.test * 6}`,
    steps: Object.keys(perStep).length,
    probes: result.record.details.probesFitted,
    clusterings: result.record.details.clusterings,
    incremental_prefixes: result.results.steps.incremental?.layers.length ?? 0,
    ...(fixedLambda !== undefined ? { lambda: fixedLambda } : {}),
    threads: threadCount(),
    ...(recovered ? { recorded_from: "child.json" } : { load1: loadavg()[0] }),
  };
  const line = [
    `BENCH ${name}`,
    `ours=${fmt(result.seconds)}`,
    ...Object.entries(extra).map(([k, v]) => `${k}=${fmt(v)}`),
  ].join(" ");
  process.stdout.write(`${line}\n`);
  await appendResult(name, {
    lines: [line],
    ours: [result.seconds],
    peakMb: result.peakMb,
    shape: {
      layers,
      hidden,
      neurons: result.results.totalNeurons,
      rows: result.results.input.rows,
      classes: result.results.input.classes.length,
      scope:
        result.results.steps.cc?.clustering.scope ?? result.results.steps.ccfs?.groups[0]?.clustering.scope,
    },
    perStep,
    incrementalPrefixes: result.results.steps.incremental?.layers.length ?? 0,
    summary: result.results.summary,
    run: result.record,
    machineBefore: before,
    ...(recovered ? { recordedFrom: jobFile, finishedAt: statSync(jobFile).mtime.toISOString() } : {}),
  });
}

await main();
