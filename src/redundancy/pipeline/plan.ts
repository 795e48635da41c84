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
 * Time of each step = (its seconds per unit of work) × (its work), the work being what its products
 * read (n neurons, w per layer, L layers, r / rv / rt rows, k classes):
 * - cka: n·(r + rv + rt) (it reads the activations) — the CKA minibatches read n·r once more;
 * - oracle, independent, control, and each search (lslca, lca, probeless, random): n·r·k (every pass
 *   over X reads it once per class; a step's number of passes is in its constant);
 * - incremental: n·r·k·(L − 1)/2 (prefix probes of 1 … L − 1 layers);
 * - ccfs, cc: the correlations' multiply-adds, n²·r/2 for one tree or 1.5·L·w²·r per layer and pair
 *   of neighbouring layers (per-layer-linked), plus n·r·k for the threshold probes, in one constant.
 * One constant per step, fitted to the bench runs of docs/cost-model.md (bench/cost-model.ts): how
 * many sizes a search tries before its target, how many representatives a threshold keeps and how
 * many iterations a probe takes depend on the data, so a step's constant holds what the bench data
 * did, and an estimate is a guide, not a promise.
 */
export interface StepTime {
  step: StepName;
  /** The estimate; for a step that stops at a data-dependent point, its most (every size tried). */
  seconds: number;
  /** For such a step, its least (it stops at the first size). */
  fromSeconds?: number;
}

/** The clustering scopes the pipeline uses (cluster.ts's, less the unlinked per-layer one). */
export type ClusterScopeOf = Exclude<ClusterScope, "per-layer">;

/** The work of a step in the units its constant counts (see above). */
export function stepWork(s: ProblemShape, step: StepName, scope: ClusterScopeOf): number {
  const n = s.neurons;
  const r = s.rows.train;
  const nrk = n * r * s.classes;
  switch (step) {
    case "cka":
      return n * (r + s.rows.valid + s.rows.test);
    case "incremental":
      return incrementalWork(s, s.layers);
    case "ls":
      return 0;
    case "ccfs":
    case "cc": {
      const correlations =
        scope === "all" ? (n * n * r) / 2 : 1.5 * s.layers * s.sides * s.width * s.width * r;
      return correlations + nrk;
    }
    default:
      return nrk;
  }
}

/**
 * The work of the first `prefixes` incremental probes (on layers 0..j−1 for j = 1 … prefixes; the probe
 * on every layer is the oracle's, not refitted): n·r·k·(L − 1)/2 for all of them.
 */
export function incrementalWork(s: ProblemShape, prefixes: number): number {
  const fitted = Math.min(prefixes, s.layers - 1);
  return (s.width * s.sides * s.rows.train * s.classes * fitted * (fitted + 1)) / 2;
}

/**
 * Seconds per unit of work of each step, fitted by bench/cost-model.ts (`--fit --since
 * 2026-11-27T22:05`) to the five bench:pipeline-llm runs listed in docs/cost-model.md, from 2 × 2,048 to
 * 33 × 4,096 neurons (2 cores, quiet machine). ls reads no activations: its time is not modelled.
 */
export const COST_CONSTANTS: Record<StepName, number> = {
  cka: 2.31e-8,
  oracle: 3.71e-8,
  independent: 3.47e-9,
  incremental: 6.34e-9,
  ls: 0.0,
  ccfs: 5.39e-11,
  lslca: 3.45e-9,
  cc: 4.79e-11,
  lca: 3.94e-10,
  probeless: 4.75e-9,
  random: 6.2e-8,
  control: 1.06e-9,
};

/**
 * Each step's estimated seconds. Under `curves: "until-target"` the incremental probes stop at the first
 * prefix above LayerSelector's smallest-δ target: from one layer's probe to every prefix (the work the
 * constant was fitted on). cc, run with ccfs, costs nothing when LayerSelector keeps every layer (it
 * reuses ccfs's clustering and probes), which is known only once LayerSelector has run: from 0.
 */
export function timePlan(
  s: ProblemShape,
  steps: readonly StepName[],
  scope: ClusterScopeOf,
  curves: PipelineSettings["curves"],
  cost: Record<StepName, number> = COST_CONSTANTS,
): StepTime[] {
  return steps.map((step) => {
    const seconds = cost[step] * stepWork(s, step, scope);
    if (step === "cc" && steps.includes("ccfs")) return { step, seconds, fromSeconds: 0 };
    if (step !== "incremental" || curves === "all" || s.layers < 2) return { step, seconds };
    return { step, seconds, fromSeconds: cost[step] * incrementalWork(s, 1) };
  });
}
