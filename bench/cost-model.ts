/**
 * `npx tsx bench/cost-model.ts`: fits the redundancy pipeline's cost model (src/redundancy/pipeline/
 * plan.ts, docs/cost-model.md) to the `pipeline-llm` runs in bench/results.json, and prints each run's
 * measured and predicted seconds per step and peak memory, with the model's constants (plan.ts's
 * COST_CONSTANTS) and, with --fit, the constants fitted to these runs.
 *
 * Usage: npx tsx bench/cost-model.ts [--fit] [--since 2026-11-27T17:00] [--hold-out 3x3072]
 *   --since: only runs recorded at or after this time (runs of one machine state: load changes the
 *   constants); each shape's newest run counts. --hold-out: a shape left out of the fit and shown as
 *   a prediction, to see how the model does on a size it was not fitted to.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_SETTINGS, STEP_ALIASES } from "../src/redundancy/pipeline/pipeline.js";
import {
  type ClusterScopeOf,
  COST_CONSTANTS,
  incrementalWork,
  memoryPlan,
  type ProblemShape,
  stepWork,
} from "../src/redundancy/pipeline/plan.js";
import type { StepName } from "../src/redundancy/pipeline/results.js";
import { RESULTS_FILE } from "./common.js";

interface Run {
  shape: ProblemShape;
  scope: ClusterScopeOf;
  perStep: Record<string, number>;
  peakMb: number;
  /** Incremental probes the run fitted (runs recorded before they could stop early fitted all). */
  incrementalPrefixes: number;
  commit?: string;
  date?: string;
}

/** A step's work in the run: the incremental probes it actually fitted, the shape's work otherwise. */
function workOf(run: Run, step: StepName): number {
  return step === "incremental"
    ? incrementalWork(run.shape, run.incrementalPrefixes)
    : stepWork(run.shape, step, run.scope);
}

function runsOf(since: string | undefined): Run[] {
  const all = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as { name: string; [k: string]: unknown }[];
  const out = new Map<string, Run>();
  for (const r of all.filter((x) => x.name === "pipeline-llm" && (!since || String(x.date) >= since))) {
    const line = (r.lines as string[])[0];
    const field = (k: string) => Number(new RegExp(` ${k}=(\\S+)`).exec(line)?.[1]);
    const layers = field("layers");
    const hidden = field("hidden");
    const shape = r.shape as
      | { rows: ProblemShape["rows"]; classes: number; scope?: ClusterScopeOf }
      | undefined;
    out.set(`${layers}x${hidden}`, {
      shape: {
        neurons: layers * hidden,
        width: hidden,
        layers,
        sides: 1,
        rows: shape?.rows ?? { train: 12000, valid: 1620, test: 2040 },
        classes: shape?.classes ?? 6,
        controlClasses: shape?.classes ?? 6,
      },
      scope: shape?.scope ?? "all",
      perStep: r.perStep as Record<string, number>,
      peakMb: Number(r.peakMb),
      incrementalPrefixes: typeof r.incrementalPrefixes === "number" ? r.incrementalPrefixes : layers,
      commit: r.commit as string | undefined,
      date: r.date as string | undefined,
    });
  }
  return [...out.values()].sort((a, b) => a.shape.neurons - b.shape.neurons);
}

/**
 * Each step's constant: the geometric mean over runs of measured seconds / work (relative errors
 * count alike at every size). A step read from the cache or taking under a tenth of a second (cc
 * reusing the clustering and probes of ccfs) says nothing about its cost and is left out.
 */
function fitConstants(runs: Run[]): Record<StepName, number> {
  const out = {} as Record<StepName, number>;
  for (const step of STEP_ALIASES.all) {
    const logs: number[] = [];
    for (const run of runs) {
      const seconds = run.perStep[step];
      const work = workOf(run, step);
      if (seconds !== undefined && seconds >= 0.1 && work > 0) logs.push(Math.log(seconds / work));
    }
    out[step] = logs.length === 0 ? 0 : Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length);
  }
  return out;
}

const { values } = parseArgs({
  options: {
    since: { type: "string" },
    "hold-out": { type: "string" },
    fit: { type: "boolean", default: false },
  },
});
const runs = runsOf(values.since);
if (runs.length === 0)
  throw new Error(`no pipeline-llm runs in ${RESULTS_FILE}: run npm run bench:pipeline-llm`);
const shapeName = (r: Run) => `${r.shape.layers}x${r.shape.width}`;
const fitted = runs.filter((r) => shapeName(r) !== values["hold-out"]);
const c = values.fit ? fitConstants(fitted) : COST_CONSTANTS;
process.stdout.write(`constants (s per unit of work): ${JSON.stringify(c)}\n`);
for (const run of runs) {
  const steps = Object.keys(run.perStep) as StepName[];
  const predicted = steps.map((step) => ({ step, seconds: c[step] * workOf(run, step) }));
  const memory = memoryPlan(run.shape, DEFAULT_SETTINGS, STEP_ALIASES.all);
  // MiB, as peakMb (VmHWM / 1024).
  const peak = Math.max(...memory.map((m) => m.bytes)) / 1024 ** 2;
  let measuredTotal = 0;
  let predictedTotal = 0;
  process.stdout.write(
    `\n${run.shape.layers} × ${run.shape.width} = ${run.shape.neurons} neurons (${run.scope})${values.fit && !fitted.includes(run) ? ", held out of the fit" : ""}${run.date ? `, run ${run.date}` : ""}:\n`,
  );
  predicted.forEach((p) => {
    const m = run.perStep[p.step];
    measuredTotal += m;
    predictedTotal += p.seconds;
    if (m < 1 && p.seconds < 1) return;
    process.stdout.write(
      `  ${p.step.padEnd(12)} measured ${m.toFixed(1).padStart(8)} s  predicted ${p.seconds.toFixed(1).padStart(8)} s  ${(100 * (p.seconds / m - 1)).toFixed(0).padStart(5)}%\n`,
    );
  });
  process.stdout.write(
    `  ${"total".padEnd(12)} measured ${measuredTotal.toFixed(1).padStart(8)} s  predicted ${predictedTotal.toFixed(1).padStart(8)} s  ${(100 * (predictedTotal / measuredTotal - 1)).toFixed(0).padStart(5)}%\n`,
  );
  process.stdout.write(
    `  peak memory measured ${run.peakMb.toFixed(0)} MB, predicted ${peak.toFixed(0)} MB (${(100 * (peak / run.peakMb - 1)).toFixed(0)}%)\n`,
  );
}
