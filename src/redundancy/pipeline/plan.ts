import { totalmem } from "node:os";
import {
  defaultMemoryBound,
  designMemoryBytes,
  fmtGiB,
  gridMemoryBytes as gridBytes,
  probeMemoryBytes as probeBytes,
} from "../../probe/memory.js";
import { UserError } from "../../util/errors.js";
import { type ClusterScope, clusteringMemoryBytes, fitsOneTree, perLayerMemoryBytes } from "../cluster.js";
import { SUBSET_COPY_LIMIT_BYTES, subsetCopyBytes } from "./probes.js";
import type { PipelineSettings, StepName } from "./results.js";

/**
 * What a pipeline run needs before it starts (docs/cost-model.md): the peak memory of each step from
 * the shape of the problem (neurons, rows, classes, the λ grid), checked against a bound before any
 * activation is read, and the `--plan` estimate.
 *
 * The memory of each step, in bytes (n neurons, w per layer, r / rv / rt rows, k classes, B λ2 values
 * fitted together, m = 10 L-BFGS pairs):
 * - activations: 4·n·(r + rv + rt), z-scored in place, and the transposed training rows 4·n·r;
 * - one probe on d neurons: 8·(d·k)·(2m + 12) (weights, gradients, directions, curvature pairs) and
 *   12·d·k of packed float32 products; the grid B of them and the B warm starts it keeps (8·(d·k)·(2m + 2));
 * - a probe on a subset copies its columns up to SUBSET_COPY_LIMIT_BYTES (larger subsets are views);
 * - clustering: one tree, 8·n² + 4·n·r + 8·1024·n, and the raw columns read back for it (4·n·r), when
 *   within half the machine's memory (clusterNeurons' bound), else a pair of layers at a time
 *   (perLayerMemoryBytes);
 * - node and onnxruntime themselves, RUNTIME_BYTES;
 * - CKA: the centred minibatch of every layer, 4·256·n, and their Gram matrices.
 */

export interface ProblemShape {
  /** Neurons analysed (all layers, both sides for pairs). */
  neurons: number;
  /** Neurons per layer of the site (× sides for a layer's probe). */
  width: number;
  layers: number;
  sides: number;
  rows: { train: number; valid: number; test: number };
  classes: number;
  /** Classes of the control probe (the real classes and the control labels). */
  controlClasses: number;
}

/** The clustering scopes the pipeline uses (cluster.ts's, less the unlinked per-layer one). */
export type ClusterScopeOf = Exclude<ClusterScope, "per-layer">;

/** Default bound of the pipeline: 85% of the machine's memory. */
export const defaultPipelineMemoryBytes = defaultMemoryBound;
export { fmtGiB };

export interface StepMemory {
  step: StepName;
  bytes: number;
  /** What dominates it, for people. */
  what: string;
}

function copyBytes(d: number, s: ProblemShape): number {
  if (d >= s.neurons) return 0;
  const copy = subsetCopyBytes(d, s.rows);
  // A view instead: the weights scattered into the full width and a full-width gradient.
  return copy <= SUBSET_COPY_LIMIT_BYTES ? copy : 12 * s.neurons * s.classes;
}

/** The scope the pipeline's clustering of n neurons takes (cluster.ts's "auto" with linked layers). */
export function clusteringScopeOf(n: number, s: ProblemShape, settings: PipelineSettings): ClusterScopeOf {
  return fitsOneTree(n, s.rows.train, settings) ? "all" : "per-layer-linked";
}

/** Clustering's peak: one tree (and the raw columns read back for it), or a pair of layers at a time. */
function clusterBytes(n: number, s: ProblemShape, settings: PipelineSettings): number {
  return clusteringScopeOf(n, s, settings) === "all"
    ? clusteringMemoryBytes(n, s.rows.train, settings.representative) + 4 * n * s.rows.train
    : perLayerMemoryBytes(s.width, s.rows.train, true, settings.representative);
}

/** Node and onnxruntime themselves, before any data (measured: docs/cost-model.md). */
export const RUNTIME_BYTES = 256 * 1024 ** 2;

/** Peak memory of each step the run computes. */
export function memoryPlan(
  s: ProblemShape,
  settings: PipelineSettings,
  steps: readonly StepName[],
): StepMemory[] {
  const { neurons: n, classes: k } = s;
  const r = s.rows.train;
  // The raw splits as read (CKA), and once z-scored in place with the transposed training rows.
  const activations = RUNTIME_BYTES + 4 * n * (r + s.rows.valid + s.rows.test);
  const resident = RUNTIME_BYTES + designMemoryBytes(n, s.rows);
  const fixed = settings.lambda1 !== undefined || settings.lambda2 !== undefined;
  const follower = (d: number) =>
    settings.tune === "all" && !fixed ? gridBytes(d, k, r, settings.lambdaGrid.length) : probeBytes(d, k, r);
  const largest = follower(n) + Math.max(copyBytes(n - 1, s), 0);
  const out: StepMemory[] = [];
  for (const step of steps) {
    switch (step) {
      case "cka":
        out.push({ step, bytes: activations + 4 * 256 * n + 16 * s.layers * 256 * 256, what: "activations" });
        break;
      case "oracle":
        out.push({
          step,
          bytes: resident + (fixed ? probeBytes(n, k, r) : gridBytes(n, k, r, settings.lambdaGrid.length)),
          what: fixed
            ? "activations and one probe"
            : `activations and ${settings.lambdaGrid.length} probes fitted together`,
        });
        break;
      case "independent":
        out.push({
          step,
          bytes: resident + follower(s.width * s.sides) + copyBytes(s.width * s.sides, s),
          what: "activations and a layer's probe",
        });
        break;
      case "ls":
        out.push({ step, bytes: RUNTIME_BYTES, what: "no activations" });
        break;
      case "ccfs":
      case "cc":
        out.push({
          step,
          bytes: resident + Math.max(clusterBytes(n, s, settings), largest),
          what: "activations and the clustering or a probe on the representatives",
        });
        break;
      case "control":
        out.push({
          step,
          bytes: resident + probeBytes(n, s.controlClasses, r),
          what: "activations and one probe",
        });
        break;
      default:
        out.push({ step, bytes: resident + largest, what: "activations and a probe on a subset" });
    }
  }
  return out;
}

/** The shape with only the first `layers` layers (what `--layers` would keep). */
function withLayers(s: ProblemShape, layers: number): ProblemShape {
  return { ...s, layers, neurons: layers * s.width * s.sides };
}

/**
 * Refuses, before anything is read, a run whose peak memory exceeds `bound`: the message names the
 * step, the estimate, the bound and the machine's memory, and the flags that make it fit.
 */
export function checkMemory(
  s: ProblemShape,
  settings: PipelineSettings,
  steps: readonly StepName[],
  bound: number,
  layerNumbers: readonly number[],
): StepMemory[] {
  const plan = memoryPlan(s, settings, steps);
  const peak = plan.reduce((a, b) => (b.bytes > a.bytes ? b : a), plan[0]);
  if (!peak || peak.bytes <= bound) return plan;
  const peakOf = (layers: number) =>
    Math.max(...memoryPlan(withLayers(s, layers), settings, steps).map((p) => p.bytes));
  let fit = 0;
  for (let l = s.layers - 1; l >= 1; l--)
    if (peakOf(l) <= bound) {
      fit = l;
      break;
    }
  const layers =
    fit > 0
      ? ` select fewer layers (--layers ${layerNumbers[0]}-${layerNumbers[fit - 1]} keeps ${fit} of ${s.layers}, about ${fmtGiB(peakOf(fit))});`
      : "";
  throw new UserError(
    `the redundancy pipeline on ${s.neurons} neurons × ${s.rows.train}/${s.rows.valid}/${s.rows.test} rows needs about ${fmtGiB(peak.bytes)} at its peak (step ${peak.step}: ${peak.what}), over the memory bound of ${fmtGiB(bound)} (this machine has ${fmtGiB(totalmem())}):${layers} or raise the bound with --max-memory <GiB> on a machine with more memory`,
  );
}

/**
 * Time of each step = Σ over its kinds of work of (seconds per unit) × (units), the units being what
 * its products read (n neurons, w per layer, L layers, r / rv / rt rows, k classes):
 * - probes: each probe the step fits (a fixed cost: its subset, its session, its dev and test scores);
 * - products: Σ over those probes of d·r·k (d the probe's neurons: every pass over X reads it once per
 *   class; how many passes a probe takes is in the constant);
 * - correlations: the clustering's multiply-adds, c²·r/2 for one tree of c columns or 1.5·c·w·r per
 *   layer and pair of neighbouring layers (per-layer-linked);
 * - reads: the activations a step reads besides its probes: n·(r + rv + rt) for CKA, n·r for the
 *   probeless ranking.
 * A run records what each step fitted and clustered (run-record.json, details.work), so the constants are
 * fitted on the work the bench runs did (bench/cost-model.ts). Before a run, how much a step does is
 * known exactly for the oracle, the per-layer probes, the control task and CKA; for the others it
 * depends on the data (where a minimal-set search reaches its target, which layers LayerSelector keeps,
 * how many representatives each threshold keeps): plannedWork bounds them, from the least the step
 * can do to the most, and `--plan` places its estimate and range between those bounds where the bench
 * runs' steps were (SEARCH_FRACTIONS).
 */
export const WORK_UNITS = ["probes", "products", "correlations", "reads"] as const;
export type WorkUnit = (typeof WORK_UNITS)[number];

/** Units of each kind of work a step did or will do (see above). */
export type StepWork = Record<WorkUnit, number>;

/** Seconds per unit of each kind of work, under the same names. */
export type StepCost = Record<WorkUnit, number>;

/** The work whose every unit is `f(unit)`. */
function workOf(f: (unit: WorkUnit) => number): StepWork {
  return { probes: f("probes"), products: f("products"), correlations: f("correlations"), reads: f("reads") };
}

export const NO_WORK: StepWork = workOf(() => 0);

export function addWork(a: StepWork, b: Partial<StepWork>): StepWork {
  return workOf((u) => a[u] + (b[u] ?? 0));
}

export function secondsOf(cost: StepCost, w: StepWork): number {
  return WORK_UNITS.reduce((s, u) => s + cost[u] * w[u], 0);
}

/** The clustering of `columns` neurons (w per layer) over r rows: its correlations' multiply-adds. */
export function correlationWork(columns: number, width: number, rows: number, scope: ClusterScope): number {
  return scope === "all" ? (columns * columns * rows) / 2 : 1.5 * columns * width * rows;
}

/**
 * The activations a step reads besides its probes (not counted by a run: they follow from the shape):
 * CKA reads every split, the probeless ranking the training rows.
 */
export function readWork(s: ProblemShape, step: StepName): number {
  const n = s.neurons;
  if (step === "cka") return n * (s.rows.train + s.rows.valid + s.rows.test);
  if (step === "probeless") return n * s.rows.train;
  return 0;
}

/** A step's work before it runs: the least and the most it can do. */
export interface PlannedWork {
  least: StepWork;
  most: StepWork;
}

/** The work a fraction f of the way from the least to the most. */
export function workAt(w: PlannedWork, f: number): StepWork {
  return workOf((u) => w.least[u] + f * (w.most[u] - w.least[u]));
}

/** Probes at the sizes ⌊p·total⌋ (capped at `cap`, repeated sizes once) of a minimal-set search. */
function searchSizes(percentages: readonly number[], total: number, cap: number): number[] {
  const sizes: number[] = [];
  for (const p of percentages) {
    const d = Math.floor(p * total);
    if (d >= 1 && d <= cap && !sizes.includes(d)) sizes.push(d);
  }
  return sizes;
}

function probesWork(sizes: readonly number[], rk: number): StepWork {
  return { ...NO_WORK, probes: sizes.length, products: sizes.reduce((a, d) => a + d, 0) * rk };
}

function scaled(w: StepWork, times: number): StepWork {
  return workOf((u) => w[u] * times);
}

/**
 * The work of a step from the shape and settings alone. LayerSelector keeps from one layer to every
 * layer for each of its deltas (a prefix of layers each), which bounds what ccfs, cc and lslca cluster
 * and fit; a threshold keeps from one representative per cluster up to every neuron. A probe another
 * step fitted first is read from the work cache and costs nothing, so the least a data-dependent step
 * does is what it cannot share: the clustering of one layer for ccfs, the probeless ranking's read.
 */
export function plannedWork(
  s: ProblemShape,
  step: StepName,
  settings: PipelineSettings,
  steps: readonly StepName[],
): PlannedWork {
  const n = s.neurons;
  const r = s.rows.train;
  const rk = r * s.classes;
  const layer = s.width * s.sides;
  const reads = readWork(s, step);
  const T = settings.thresholds.length;
  const groups = Math.max(1, settings.deltas.length);
  const exact = (w: StepWork): PlannedWork => ({ least: w, most: w });
  const clustering = (c: number): StepWork => ({
    ...NO_WORK,
    correlations: correlationWork(c, s.width, r, clusteringScopeOf(c, s, settings)),
  });
  // A probe per threshold on c clustered neurons at most.
  const thresholdProbes = (c: number): StepWork => ({ ...NO_WORK, probes: T, products: T * c * rk });
  let range: PlannedWork;
  switch (step) {
    case "cka":
    case "ls":
      return exact({ ...NO_WORK, reads });
    case "oracle":
    case "independent":
      return exact({ ...NO_WORK, probes: step === "oracle" ? 1 : s.layers, products: n * rk });
    case "control":
      return exact({ ...NO_WORK, probes: 1, products: n * r * s.controlClasses });
    case "incremental": {
      // Prefixes of 1 … p layers (all layers is the oracle's probe, not refitted).
      const p = Math.max(0, s.layers - 1);
      const prefixes = { ...NO_WORK, probes: p, products: (layer * rk * p * (p + 1)) / 2 };
      if (settings.curves === "all") return exact(prefixes);
      range = { least: NO_WORK, most: prefixes };
      break;
    }
    case "ccfs":
      range = {
        least: clustering(layer),
        most: scaled(addWork(clustering(n), thresholdProbes(n)), groups),
      };
      break;
    case "cc":
      // With ccfs, cc reuses its clustering and probes when LayerSelector keeps every layer.
      range = {
        least: steps.includes("ccfs") ? NO_WORK : clustering(n),
        most: addWork(clustering(n), thresholdProbes(n)),
      };
      break;
    case "lslca": {
      // Per group: the probe on its layers and on each threshold's representatives, and a search
      // over the paper's percentages of all neurons from each of them.
      const search = probesWork(searchSizes(settings.percentages, n, n), rk);
      const bases = { ...NO_WORK, probes: T + 1, products: (T + 1) * n * rk };
      range = { least: NO_WORK, most: scaled(addWork(bases, scaled(search, T + 1)), groups) };
      break;
    }
    case "lca":
    case "probeless":
    case "random":
      range = {
        least: { ...NO_WORK, reads },
        most: { ...probesWork(searchSizes(settings.finePercentages, n, n), rk), reads },
      };
      break;
  }
  return range;
}

/**
 * Seconds per unit of work of each step, fitted by bench/cost-model.ts (`--fit --since
 * 2026-11-27T23:42`) to the five bench:pipeline-llm runs listed in docs/cost-model.md, from 2 × 2,048
 * to 33 × 4,096 neurons (2 cores, quiet machine). ls reads no activations: its time is not modelled.
 */
export const COST_CONSTANTS: Record<StepName, StepCost> = {
  cka: { probes: 0, products: 0, correlations: 0, reads: 1.91e-8 },
  oracle: { probes: 5.98, products: 2.56e-8, correlations: 0, reads: 0 },
  independent: { probes: 0, products: 3.12e-9, correlations: 0, reads: 0 },
  incremental: { probes: 0, products: 3.92e-9, correlations: 0, reads: 0 },
  ls: { probes: 0, products: 0, correlations: 0, reads: 0 },
  ccfs: { probes: 0.77, products: 0, correlations: 3.9e-11, reads: 0 },
  lslca: { probes: 0.0681, products: 6e-9, correlations: 0, reads: 0 },
  cc: { probes: 0, products: 5.1e-9, correlations: 2.76e-11, reads: 0 },
  lca: { probes: 0.0994, products: 4e-9, correlations: 0, reads: 0 },
  probeless: { probes: 0.0951, products: 4.57e-9, correlations: 0, reads: 2.97e-9 },
  random: { probes: 0.0163, products: 7.48e-9, correlations: 0, reads: 0 },
  control: { probes: 0, products: 9.47e-10, correlations: 0, reads: 0 },
};

/** Where between the least and the most a data-dependent step's work was in the bench runs. */
export interface WorkFraction {
  /** The least, the median and the most over the runs: `--plan`'s range and estimate. */
  low: number;
  typical: number;
  high: number;
}

/**
 * Fitted with COST_CONSTANTS (bench/cost-model.ts --fit): for each data-dependent step, where its
 * modelled seconds on the work it did fell between those of its least and most work. A step without
 * an entry is placed at its most.
 */
export const SEARCH_FRACTIONS: Partial<Record<StepName, WorkFraction>> = {
  incremental: { low: 0.4375, typical: 1, high: 1 },
  ccfs: { low: 0.1792, typical: 0.3126, high: 0.4767 },
  lslca: { low: 0.0001951, typical: 0.00297, high: 0.01044 },
  cc: { low: 0, typical: 0.587, high: 0.7073 },
  lca: { low: 0.001089, typical: 0.008598, high: 0.03524 },
  probeless: { low: 0.0009928, typical: 0.03319, high: 0.8267 },
  random: { low: 0.793, typical: 1, high: 1 },
};

export interface StepTime {
  step: StepName;
  /** The estimate: for a step whose work depends on the data, at the bench runs' median fraction. */
  seconds: number;
  /** For such a step, the least and the most seconds among the bench runs' fractions. */
  fromSeconds?: number;
  toSeconds?: number;
}

/** Each step's estimated seconds, with its range where its work depends on the data. */
export function timePlan(
  s: ProblemShape,
  steps: readonly StepName[],
  settings: PipelineSettings,
  cost: Record<StepName, StepCost> = COST_CONSTANTS,
  fractions: Partial<Record<StepName, WorkFraction>> = SEARCH_FRACTIONS,
): StepTime[] {
  return steps.map((step) => {
    const w = plannedWork(s, step, settings, steps);
    const at = (f: number) => secondsOf(cost[step], workAt(w, f));
    const f = fractions[step] ?? { low: 1, typical: 1, high: 1 };
    if (at(0) === at(1)) return { step, seconds: at(1) };
    return { step, seconds: at(f.typical), fromSeconds: at(f.low), toSeconds: at(f.high) };
  });
}
