import { join } from "node:path";
import { LAMBDA_GRID } from "../../probe/grid.js";
import type { FittedProbe } from "../../probe/stage.js";
import { writeFileAtomic } from "../../util/atomic.js";
import { UserError } from "../../util/errors.js";
import { SITES, type Site, siteTitle } from "../../util/neurons.js";
import { definedOptions } from "../../util/options.js";
import { formatSeconds, log } from "../../util/progress.js";
import { secondsSince, writeRunRecord } from "../../util/run-record.js";
import { DEFAULT_THRESHOLDS } from "../cluster.js";
import { contentKey, PipelineCache } from "./cache.js";
import { StepContext } from "./context.js";
import { openPipelineSource, type PipelineInputOptions, type PipelineSource } from "./input/index.js";
import {
  addWork,
  type ClusterScopeOf,
  checkMemory,
  clusteringScopeOf,
  defaultPipelineMemoryBytes,
  memoryPlan,
  NO_WORK,
  type ProblemShape,
  readWork,
  type StepWork,
  timePlan,
} from "./plan.js";
import {
  CKA_FORMAT,
  CKA_VERSION,
  type CkaFile,
  formatResultsJson,
  type PipelineSettings,
  REDUNDANCY_FORMAT,
  REDUNDANCY_VERSION,
  type RedundancyInput,
  type RedundancyRecord,
  type RedundancyResults,
  type RedundancyRunDetails,
  STEP_NAMES,
  type StepName,
  type StepResults,
} from "./results.js";
import { ckaStep } from "./steps/cka.js";
import { ccfsStep, ccStep, lslcaStep } from "./steps/clusters.js";
import { controlStep } from "./steps/control.js";
import { incrementalStep, independentStep, layerSelectionStep, oracleStep } from "./steps/layers.js";
import { lcaStep, probelessStep, randomStep } from "./steps/orderings.js";
import type { StepDef } from "./steps/types.js";
import { summarize } from "./summary.js";

/**
 * The task-specific redundancy pipeline of Dalvi et al. 2020 as Sharma et al. 2023 ran it, as one
 * restartable computation (docs/DESIGN.md, "Redundancy"):
 *
 *   cka          layer × layer linear CKA (task-agnostic; OUT/cka.json)
 *   oracle       probe on all neurons, λ1, λ2 tuned on dev
 *   independent  a probe per layer;  incremental  a probe on layers 0..i
 *   ls           LayerSelector: per δ, the fewest layers whose dev accuracy > oracle dev × (1 − δ)
 *   ccfs         correlation clustering of the kept layers at each threshold, probe on representatives
 *   lslca        LS+CC+LCA: minimal sets (paper's percentages) on the kept layers and on each CCFS set
 *   cc           correlation clustering of all layers, probe on representatives
 *   lca, probeless, random   minimal sets over all layers (finer percentages) from three orderings
 *   control      control-task probe with the oracle's λs, selectivity
 *
 * The dev split decides everything (λs, layers, minimal sets, the best rows of the summary); test
 * accuracies are reported. Each finished step is cached under OUT/cache (see cache.ts).
 */

/** LS+CC+LCA percentages of all neurons (Dalvi et al. 2020's run_neuron_selection; Sharma et al.). */
export const PAPER_PERCENTAGES: readonly number[] = [
  0.001, 0.002, 0.003, 0.004, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.15, 0.2,
  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
];

/** The finer list of Sharma et al.'s LCA-over-all-layers and probeless runs: 0.1%, 0.3%, …, 9.9%, then 10% … 90%. */
export const FINE_PERCENTAGES: readonly number[] = [
  ...Array.from({ length: 50 }, (_, i) => (2 * i + 1) / 1000),
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
];

export const DEFAULT_SETTINGS: PipelineSettings = {
  seed: 1,
  deltas: [0.03, 0.02, 0.01],
  neuronDelta: 0.01,
  thresholds: [...DEFAULT_THRESHOLDS],
  percentages: [...PAPER_PERCENTAGES],
  finePercentages: [...FINE_PERCENTAGES],
  tune: "oracle",
  lambdaGrid: [...LAMBDA_GRID],
  patience: 5,
  maxIter: 500,
  stride: 1000,
  representative: "random",
  curves: "until-target",
  ckaBatchSize: 256,
};

const STEPS: { [K in StepName]: StepDef<K> } = {
  cka: ckaStep,
  oracle: oracleStep,
  independent: independentStep,
  incremental: incrementalStep,
  ls: layerSelectionStep,
  ccfs: ccfsStep,
  lslca: lslcaStep,
  cc: ccStep,
  lca: lcaStep,
  probeless: probelessStep,
  random: randomStep,
  control: controlStep,
};

/** Step names and the group names the CLI accepts. */
export const STEP_ALIASES: Record<string, StepName[]> = {
  all: [...STEP_NAMES],
  layerwise: ["independent", "incremental"],
  "ls+cc+lca": ["lslca"],
};

export function parseSteps(list: readonly string[]): StepName[] {
  const out = new Set<StepName>();
  for (const raw of list) {
    const name = raw.trim().toLowerCase();
    if (name === "") continue;
    const alias = STEP_ALIASES[name];
    if (alias) for (const s of alias) out.add(s);
    else if ((STEP_NAMES as readonly string[]).includes(name)) out.add(name as StepName);
    else
      throw new UserError(
        `unknown step '${raw}' (steps: ${STEP_NAMES.join(", ")}; groups: ${Object.keys(STEP_ALIASES).join(", ")})`,
      );
  }
  return STEP_NAMES.filter((s) => out.has(s));
}

/** The requested steps and everything they depend on, in run order. */
export function withDependencies(steps: readonly StepName[]): StepName[] {
  const need = new Set<StepName>();
  const visit = (s: StepName) => {
    if (need.has(s)) return;
    need.add(s);
    for (const d of STEPS[s].deps) visit(d);
  };
  for (const s of steps) visit(s);
  return STEP_NAMES.filter((s) => need.has(s));
}

export function checkSettings(s: PipelineSettings): void {
  const fraction = (name: string, v: number, open = false) => {
    if (!(Number.isFinite(v) && v >= 0 && (open ? v < 1 : v <= 1)))
      throw new UserError(`${name}: ${v} is not in [0, 1${open ? ")" : "]"}`);
  };
  for (const d of s.deltas) fraction("deltas", d, true);
  fraction("neuron delta", s.neuronDelta, true);
  for (const p of [...s.percentages, ...s.finePercentages]) fraction("percentages", p);
  for (const t of s.thresholds)
    if (!(Number.isFinite(t) && t >= 0 && t <= 2)) throw new UserError(`thresholds: ${t} is not in [0, 2]`);
  for (const l of [...s.lambdaGrid, s.lambda1 ?? 0, s.lambda2 ?? 0])
    if (!(Number.isFinite(l) && l >= 0)) throw new UserError(`λ ${l} must be a number >= 0`);
  if (s.deltas.length === 0) throw new UserError("deltas: give at least one");
  if (s.ckaBatchSize < 4) throw new UserError("CKA batch size must be at least 4");
}

export interface RedundancyRun {
  /** What redundancy.json holds. */
  results: RedundancyResults;
  record: RedundancyRecord;
}

export interface PipelineOptions {
  /** Output directory: redundancy.json, cka.json, run-record.json, cache/. */
  out: string;
  /** Steps to produce (their dependencies run too); default all. */
  steps?: readonly StepName[];
  settings?: Partial<PipelineSettings>;
  quiet?: boolean;
  /**
   * A probe already fitted on all neurons of this task with λs tuned on the pipeline's grid (the probe
   * stage's, as `codeneurons run` passes it): the oracle step takes it instead of tuning the grid again.
   * Its results are the same; a probe that does not fit the pipeline (other neurons, classes, grid or
   * solver settings) is not taken.
   */
  oracle?: FittedProbe;
  /**
   * Memory the run may use, in bytes (default 85% of the machine's): a run whose estimated peak
   * (plan.ts) is above it is refused before anything is read, naming the flags that make it fit.
   */
  maxMemoryBytes?: number;
}

/**
 * Runs (or reads from the cache) the chosen steps; writes OUT/redundancy.json, OUT/cka.json and
 * OUT/run-record.json (timings, cache use).
 */
export async function runRedundancyPipeline(
  input: PipelineInputOptions,
  opts: PipelineOptions,
): Promise<RedundancyRun> {
  const t0 = performance.now();
  const { settings, source, order, skipped } = await openRun(input, opts);
  if (skipped.length > 0) log(`redundancy: skipping the control step: ${skipped[0].reason}`);
  const shape = shapeOf(source);
  try {
    checkMemory(
      shape,
      settings,
      order,
      opts.maxMemoryBytes ?? defaultPipelineMemoryBytes(),
      source.input.layers,
    );
  } catch (e) {
    source.close();
    throw e;
  }
  const cache = new PipelineCache(join(opts.out, "cache"));
  const quiet = opts.quiet ?? process.env.CODENEURONS_QUIET === "1";
  const ctx = new StepContext(source, settings, cache, quiet, opts.oracle);
  const done: StepResults = {};
  const computed: StepName[] = [];
  const cached: StepName[] = [];
  const stepSeconds: Record<string, number> = {};
  const work: Partial<Record<StepName, StepWork>> = {};
  try {
    for (const name of order) {
      ctx.work = NO_WORK;
      const seconds = await runStep(ctx, cache, STEPS[name], done);
      if (seconds === null) cached.push(name);
      else {
        computed.push(name);
        stepSeconds[name] = seconds;
        work[name] = addWork(ctx.work, { reads: readWork(shape, name) });
      }
    }
  } finally {
    ctx.release();
    source.close();
  }
  const results: RedundancyResults = {
    format: REDUNDANCY_FORMAT,
    version: REDUNDANCY_VERSION,
    input: source.input,
    settings,
    totalNeurons: source.space.total,
    steps: done,
    summary: summarize(done, source.space.total, source.input.site),
    skipped,
  };
  if (done.cka) {
    const cka: CkaFile = { format: CKA_FORMAT, version: CKA_VERSION, ...done.cka.similarity };
    await writeFileAtomic(join(opts.out, done.cka.file), formatResultsJson(cka));
  }
  await writeFileAtomic(join(opts.out, "redundancy.json"), formatResultsJson(results));
  const details: RedundancyRunDetails = {
    computed,
    cached,
    probesFitted: cache.misses("probe") + ctx.uncachedFits,
    clusterings: cache.misses("cluster"),
    work,
  };
  const record = await writeRunRecord(
    opts.out,
    "redundancy",
    { total: secondsSince(t0), load: ctx.loadSeconds, ...stepSeconds },
    details,
  );
  return { results, record: { ...record, details } };
}

/**
 * What a run and its plan start from: the settings (defaults filled in, checked), the opened input, and
 * the steps in order with their dependencies, less the control step when the task has no control
 * labels (the other steps stay useful: it is skipped with a note instead of failing).
 */
async function openRun(
  input: PipelineInputOptions,
  opts: Pick<PipelineOptions, "steps" | "settings">,
): Promise<{
  settings: PipelineSettings;
  source: PipelineSource;
  order: StepName[];
  skipped: { step: StepName; reason: string }[];
}> {
  const settings: PipelineSettings = { ...DEFAULT_SETTINGS, ...definedOptions(opts.settings ?? {}) };
  checkSettings(settings);
  const source = await openPipelineSource({ ...input, seed: settings.seed });
  const order = withDependencies(opts.steps ?? STEP_NAMES);
  if (source.input.control !== null || !order.includes("control"))
    return { settings, source, order, skipped: [] };
  return {
    settings,
    source,
    order: order.filter((s) => s !== "control"),
    skipped: [{ step: "control", reason: `${input.task} has no control task (control/ files)` }],
  };
}

/** The shape of a source's problem, for the memory plan. */
export function shapeOf(source: PipelineSource): ProblemShape {
  const { input, space } = source;
  return {
    neurons: space.total,
    width: space.width,
    layers: space.layers.length,
    sides: space.sides,
    rows: input.rows,
    classes: input.classes.length,
    // Control labels are drawn from the real classes (token tasks) or are their own few labels.
    controlClasses: input.classes.length,
  };
}

/** What `codeneurons redundancy --plan` prints: the estimate of a run, made without running it. */
export interface PipelinePlan {
  input: RedundancyInput;
  shape: ProblemShape;
  /**
   * Each step's memory and time: seconds is the estimate; fromSeconds – toSeconds the range of a step
   * whose work depends on the data.
   */
  steps: {
    step: StepName;
    bytes: number;
    seconds: number;
    fromSeconds?: number;
    toSeconds?: number;
    what: string;
  }[];
  /** The largest step's memory and the bound it is checked against. */
  peakBytes: number;
  boundBytes: number;
  /** The total time: the estimate, and at least `fromSeconds`, at most `toSeconds`. */
  seconds: number;
  fromSeconds: number;
  toSeconds: number;
  clustering: ClusterScopeOf;
}

/**
 * The estimate of a run on this input (plan.ts): memory and time of each step, from the store
 * indexes and task files only (no activation is read, nothing is written).
 */
export async function planRedundancyPipeline(
  input: PipelineInputOptions,
  opts: Pick<PipelineOptions, "steps" | "settings" | "maxMemoryBytes"> = {},
): Promise<PipelinePlan> {
  const { settings, source, order } = await openRun(input, opts);
  try {
    const shape = shapeOf(source);
    const clustering = clusteringScopeOf(shape.neurons, shape, settings);
    const memory = memoryPlan(shape, settings, order);
    const time = timePlan(shape, order, settings);
    const steps = time.map((t, i) => ({
      ...t,
      bytes: memory[i].bytes,
      what: memory[i].what,
    }));
    return {
      input: source.input,
      shape,
      steps,
      peakBytes: Math.max(0, ...steps.map((s) => s.bytes)),
      boundBytes: opts.maxMemoryBytes ?? defaultPipelineMemoryBytes(),
      seconds: steps.reduce((a, s) => a + s.seconds, 0),
      fromSeconds: steps.reduce((a, s) => a + (s.fromSeconds ?? s.seconds), 0),
      toSeconds: steps.reduce((a, s) => a + (s.toSeconds ?? s.seconds), 0),
      clustering,
    };
  } finally {
    source.close();
  }
}

/** `--sites`: one site, or both, hidden first. */
export type SiteChoice = Site | "both";

export function sitesOf(choice: SiteChoice): Site[] {
  return choice === "both" ? [...SITES] : [choice];
}

/** Where a site's results go when the pipeline runs for several sites: OUT/<site>/. */
export function siteOutput(out: string, site: Site, sites: readonly Site[]): string {
  return sites.length > 1 ? join(out, site) : out;
}

/**
 * The pipeline for each of the given sites in turn (each its own activations, cache and results:
 * OUT/<site>/redundancy.json when there are several, OUT/redundancy.json for one), so that residual
 * stream and MLP neurons are reported side by side. An offered oracle goes to the site it was fitted on.
 */
export async function runRedundancyForSites(
  input: Omit<PipelineInputOptions, "site">,
  sites: readonly Site[],
  opts: PipelineOptions,
): Promise<{ site: Site; out: string; run: RedundancyRun }[]> {
  const runs: { site: Site; out: string; run: RedundancyRun }[] = [];
  for (const site of sites) {
    const out = siteOutput(opts.out, site, sites);
    if (sites.length > 1) log(`redundancy: ${siteTitle(site)} (site ${site}) → ${out}`);
    const oracle = opts.oracle?.site === site ? opts.oracle : undefined;
    runs.push({ site, out, run: await runRedundancyPipeline({ ...input, site }, { ...opts, out, oracle }) });
  }
  return runs;
}

/** Reads the step from the cache or computes it; returns the seconds it took, or null when cached. */
async function runStep<K extends StepName>(
  ctx: StepContext,
  cache: PipelineCache,
  def: StepDef<K>,
  done: StepResults,
): Promise<number | null> {
  const deps = Object.fromEntries(def.deps.map((d) => [d, done[d]]));
  const key = contentKey(def.name, ctx.input.fingerprint, def.settings(ctx.settings, ctx.input), deps);
  const hit = await cache.readStep<NonNullable<StepResults[K]>>(def.name, key);
  if (hit) {
    done[def.name] = hit;
    log(`redundancy: ${def.name}: cached`);
    return null;
  }
  log(`redundancy: ${def.name}: computing`);
  const t0 = performance.now();
  const output = await def.run(ctx, done);
  const seconds = (performance.now() - t0) / 1000;
  const result = { ...output, key } as NonNullable<StepResults[K]>;
  await cache.writeStep(def.name, key, result);
  done[def.name] = result;
  log(`redundancy: ${def.name}: done in ${formatSeconds(seconds)}`);
  return seconds;
}
