import { totalmem } from "node:os";
import {
  defaultMemoryBound,
  fmtGiB,
  gridMemoryBytes as gridBytes,
  probeMemoryBytes as probeBytes,
} from "../../probe/memory.js";
import { UserError } from "../../util/errors.js";
import { clusteringMemoryBytes, defaultMaxMemoryBytes, perLayerMemoryBytes } from "../cluster.js";
import { SUBSET_COPY_LIMIT_BYTES } from "./probes.js";
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
 * - clustering: one tree, 8·n² + 4·n·r + 8·1024·n, when within half the machine's memory (clusterNeurons'
 *   bound), else a pair of layers at a time (perLayerMemoryBytes);
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
  const copy = 4 * d * (2 * s.rows.train + s.rows.valid + s.rows.test);
  // A view instead: the weights scattered into the full width and a full-width gradient.
  return copy <= SUBSET_COPY_LIMIT_BYTES ? copy : 12 * s.neurons * s.classes;
}

function clusterBytes(n: number, s: ProblemShape, settings: PipelineSettings): number {
  const all = clusteringMemoryBytes(n, s.rows.train, settings.representative);
  return all <= defaultMaxMemoryBytes() && n <= 65536
    ? all
    : perLayerMemoryBytes(s.width, s.rows.train, true, settings.representative);
}

/** Peak memory of each step the run computes. */
export function memoryPlan(
  s: ProblemShape,
  settings: PipelineSettings,
  steps: readonly StepName[],
): StepMemory[] {
  const { neurons: n, classes: k } = s;
  const r = s.rows.train;
  const activations = 4 * n * (r + s.rows.valid + s.rows.test);
  const resident = activations + 4 * n * r;
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
        out.push({ step, bytes: 0, what: "no activations" });
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
