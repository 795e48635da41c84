/**
 * `npx tsx bench/cost-model.ts`: fits the redundancy pipeline's cost model (src/redundancy/pipeline/
 * plan.ts, docs/cost-model.md) to the `pipeline-llm` runs in bench/results.json and prints, for each
 * run and step, the measured seconds, the model's seconds on the work the step did (what the run
 * recorded: run-record.json's details.work) and `--plan`'s estimate and range made from the shape
 * alone (its range: the least and most of the fitted runs' fractions); then the peak memory against
 * the memory plan. With --fit it prints the constants fitted to these
 * runs (copy them into plan.ts's COST_CONSTANTS and SEARCH_FRACTIONS).
 *
 * Usage: npx tsx bench/cost-model.ts [--fit] [--since 2026-11-27T23:40] [--hold-out 3x3072]
 *   --since: only runs recorded at or after this time (runs of one machine state: load changes the
 *   constants); each shape's newest run counts. --hold-out: a shape left out of the fit and shown as
 *   a prediction, to see how the model does on a size it was not fitted to.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_SETTINGS, STEP_ALIASES } from "../src/redundancy/pipeline/pipeline.js";
import {
  COST_CONSTANTS,
  memoryPlan,
  NO_WORK,
  type ProblemShape,
  plannedWork,
  SEARCH_FRACTIONS,
  type StepCost,
  type StepWork,
  secondsOf,
  timePlan,
  WORK_UNITS,
  type WorkFraction,
} from "../src/redundancy/pipeline/plan.js";
import type { StepName } from "../src/redundancy/pipeline/results.js";
import { median, RESULTS_FILE } from "./common.js";

interface Run {
  name: string;
  shape: ProblemShape;
  perStep: Partial<Record<StepName, number>>;
  work: Partial<Record<StepName, StepWork>>;
  peakMb: number;
  date?: string;
}

function runsOf(since: string | undefined): Run[] {
  const all = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as { name: string; [k: string]: unknown }[];
  const out = new Map<string, Run>();
  let old = 0;
  for (const r of all.filter((x) => x.name === "pipeline-llm" && (!since || String(x.date) >= since))) {
    const shape = r.shape as { layers: number; hidden: number; rows: ProblemShape["rows"]; classes: number };
    const work = (r.run as { details?: { work?: Run["work"] } } | undefined)?.details?.work;
    // Runs recorded before the pipeline counted its work cannot be compared on it.
    if (!work) {
      old++;
      continue;
    }
    out.set(`${shape.layers}x${shape.hidden}`, {
      name: `${shape.layers}x${shape.hidden}`,
      shape: {
        neurons: shape.layers * shape.hidden,
        width: shape.hidden,
        layers: shape.layers,
        sides: 1,
        rows: shape.rows,
        classes: shape.classes,
        controlClasses: shape.classes,
      },
      perStep: r.perStep as Run["perStep"],
      work,
      peakMb: Number(r.peakMb),
      date: r.date as string | undefined,
    });
  }
  if (old > 0) process.stderr.write(`cost-model: ${old} runs without details.work left out\n`);
  return [...out.values()].sort((a, b) => a.shape.neurons - b.shape.neurons);
}

/** Solves the small symmetric system a·x = b (Gaussian elimination with partial pivoting); null if singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-12) return null;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

/**
 * One step's constants: non-negative least squares on relative errors over the runs (each run's
 * seconds t and work x: minimise Σ ((c·x − t) / t)²), by trying every set of kinds of work the step
 * does and keeping the best non-negative solution. A run where the step did nothing (read from the
 * cache, or cc reusing ccfs) or took under a tenth of a second says nothing about its cost.
 */
function fitStep(points: { seconds: number; work: StepWork }[]): StepCost {
  const zero: StepCost = { ...NO_WORK };
  const used = WORK_UNITS.filter((u) => points.some((p) => p.work[u] > 0));
  let best: { cost: StepCost; residual: number } = {
    cost: zero,
    residual: points.length,
  };
  for (let mask = 1; mask < 1 << used.length; mask++) {
    const kinds = used.filter((_, i) => mask & (1 << i));
    // Rows scaled by 1/t: relative errors.
    const rows = points.map((p) => kinds.map((u) => p.work[u] / p.seconds));
    const ata = kinds.map((_, i) => kinds.map((_, j) => rows.reduce((s, r) => s + r[i] * r[j], 0)));
    const atb = kinds.map((_, i) => rows.reduce((s, r) => s + r[i], 0));
    const x = solve(ata, atb);
    if (!x || x.some((v) => !(v >= 0))) continue;
    const residual = rows.reduce((s, r) => s + (r.reduce((a, v, i) => a + v * x[i], 0) - 1) ** 2, 0);
    if (residual < best.residual) {
      const cost = { ...zero };
      kinds.forEach((u, i) => {
        cost[u] = x[i];
      });
      best = { cost, residual };
    }
  }
  return best.cost;
}

function fitConstants(runs: Run[]): Record<StepName, StepCost> {
  const out = {} as Record<StepName, StepCost>;
  for (const step of STEP_ALIASES.all) {
    const points = runs.flatMap((run) => {
      const seconds = run.perStep[step];
      const work = run.work[step];
      if (seconds === undefined || !work || seconds < 0.1) return [];
      if (WORK_UNITS.every((u) => work[u] === 0)) return [];
      return [{ seconds, work }];
    });
    out[step] = fitStep(points);
  }
  return out;
}

/**
 * Where between its least and most each data-dependent step's time was in the runs (its modelled
 * seconds on the work it did, as a fraction of the way, in [0, 1]): the least, the median and the most
 * over the runs, `--plan`'s range and estimate for that step.
 */
function fitFractions(
  runs: Run[],
  cost: Record<StepName, StepCost>,
): Partial<Record<StepName, WorkFraction>> {
  const out: Partial<Record<StepName, WorkFraction>> = {};
  for (const step of STEP_ALIASES.all) {
    const fractions = runs.flatMap((run) => {
      const planned = plannedWork(run.shape, step, DEFAULT_SETTINGS, STEP_ALIASES.all);
      const [least, most] = [secondsOf(cost[step], planned.least), secondsOf(cost[step], planned.most)];
      const did = run.work[step];
      if (!did || most - least <= 0) return [];
      return [Math.min(1, Math.max(0, (secondsOf(cost[step], did) - least) / (most - least)))];
    });
    if (fractions.length === 0) continue;
    out[step] = { low: Math.min(...fractions), typical: median(fractions), high: Math.max(...fractions) };
  }
  return out;
}

const pct = (predicted: number, measured: number) =>
  `${(100 * (predicted / measured - 1)).toFixed(0).padStart(5)}%`;
const sec = (s: number) => s.toFixed(1).padStart(8);

const { values } = parseArgs({
  options: {
    since: { type: "string" },
    "hold-out": { type: "string" },
    fit: { type: "boolean", default: false },
  },
});
const runs = runsOf(values.since);
if (runs.length === 0)
  throw new Error(
    `no pipeline-llm runs with recorded work in ${RESULTS_FILE}: run npm run bench:pipeline-llm`,
  );
const fitted = runs.filter((r) => r.name !== values["hold-out"]);
const cost = values.fit ? fitConstants(fitted) : COST_CONSTANTS;
const fractions = values.fit ? fitFractions(fitted, cost) : SEARCH_FRACTIONS;
if (values.fit) {
  const round = (x: number) => Number(x.toPrecision(3));
  const round4 = (x: number) => Number(x.toPrecision(4));
  process.stdout.write("COST_CONSTANTS:\n");
  for (const [step, c] of Object.entries(cost))
    process.stdout.write(`  ${step}: { ${WORK_UNITS.map((u) => `${u}: ${round(c[u])}`).join(", ")} },\n`);
  process.stdout.write("SEARCH_FRACTIONS:\n");
  for (const [step, f] of Object.entries(fractions))
    process.stdout.write(
      `  ${step}: { low: ${round4(f.low)}, typical: ${round4(f.typical)}, high: ${round4(f.high)} },\n`,
    );
}
const worst = { work: 0, plan: 0, memory: 0 };
for (const run of runs) {
  const steps = Object.keys(run.perStep) as StepName[];
  const plan = timePlan(run.shape, STEP_ALIASES.all, DEFAULT_SETTINGS, cost, fractions);
  const memory = memoryPlan(run.shape, DEFAULT_SETTINGS, STEP_ALIASES.all);
  // MiB, as peakMb (VmHWM / 1024).
  const peak = Math.max(...memory.map((m) => m.bytes)) / 1024 ** 2;
  const held = values.fit && !fitted.includes(run) ? ", held out of the fit" : "";
  process.stdout.write(
    `\n${run.shape.layers} × ${run.shape.width} = ${run.shape.neurons} neurons${held}${run.date ? `, run ${run.date}` : ""}:\n`,
  );
  process.stdout.write(
    `  ${"step".padEnd(12)} ${"measured".padStart(8)}  ${"on its work".padStart(11)}        --plan: estimate (range)\n`,
  );
  const total = { measured: 0, work: 0, plan: 0, least: 0, most: 0 };
  for (const step of steps) {
    const measured = run.perStep[step] ?? 0;
    const onWork = secondsOf(cost[step], run.work[step] ?? NO_WORK);
    const p = plan.find((x) => x.step === step);
    if (!p) continue;
    const least = p.fromSeconds ?? p.seconds;
    const most = p.toSeconds ?? p.seconds;
    total.measured += measured;
    total.work += onWork;
    total.plan += p.seconds;
    total.least += least;
    total.most += most;
    if (measured < 1 && onWork < 1 && most < 1) continue;
    const range = p.fromSeconds !== undefined ? ` (${least.toFixed(1)} – ${most.toFixed(1)})` : "";
    process.stdout.write(
      `  ${step.padEnd(12)} ${sec(measured)}  ${sec(onWork)} ${pct(onWork, measured)}  ${sec(p.seconds)} ${pct(p.seconds, measured)}${range}\n`,
    );
  }
  const inside = total.measured >= total.least && total.measured <= total.most;
  process.stdout.write(
    `  ${"total".padEnd(12)} ${sec(total.measured)}  ${sec(total.work)} ${pct(total.work, total.measured)}  ${sec(total.plan)} ${pct(total.plan, total.measured)} (${total.least.toFixed(1)} – ${total.most.toFixed(1)}${inside ? ", measured inside" : ", MEASURED OUTSIDE"})\n`,
  );
  process.stdout.write(
    `  peak memory measured ${run.peakMb.toFixed(0)} MiB, planned ${peak.toFixed(0)} MiB ${pct(peak, run.peakMb)}\n`,
  );
  worst.work = Math.max(worst.work, Math.abs(total.work / total.measured - 1));
  worst.plan = Math.max(worst.plan, Math.abs(total.plan / total.measured - 1));
  if (run.shape.neurons >= 8192) worst.memory = Math.max(worst.memory, Math.abs(peak / run.peakMb - 1));
}
process.stdout.write(
  `\nlargest total error: on the work each run did ${(100 * worst.work).toFixed(0)}%, --plan's estimate ${(100 * worst.plan).toFixed(0)}%; memory from 8,192 neurons up ${(100 * worst.memory).toFixed(1)}%\n`,
);
