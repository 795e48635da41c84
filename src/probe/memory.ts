import { totalmem } from "node:os";
import { SPARSE_GATHER_MAX_FRACTION } from "../linalg/design.js";

/**
 * Memory of probe fits, in bytes, from the problem's shape (docs/cost-model.md): what the probe stage
 * and the redundancy pipeline check before they read activations. d inputs, k classes, `rows` training
 * rows; m = 10 L-BFGS pairs.
 */
const LBFGS_PAIRS = 10;

/** One fit: weights, gradients, directions and the curvature pairs in float64, packed float32 products. */
export function probeMemoryBytes(d: number, k: number, rows: number): number {
  return 8 * (d * k + k) * (2 * LBFGS_PAIRS + 12) + 12 * d * k + 28 * rows * k;
}

/** A λ grid fitting `batch` points together, and the warm start it keeps for each. */
export function gridMemoryBytes(d: number, k: number, rows: number, batch: number): number {
  return batch * (probeMemoryBytes(d, k, rows) + 8 * d * k * (2 * LBFGS_PAIRS + 2));
}

/**
 * The splits' activations (float32, z-scored in place), the transposed training rows, and the buffer
 * the training design keeps for the columns of sparse products (at most a share of its columns).
 */
export function designMemoryBytes(d: number, rows: { train: number; valid: number; test: number }): number {
  return (
    4 * d * (rows.train + rows.valid + rows.test) + 4 * d * rows.train * (1 + SPARSE_GATHER_MAX_FRACTION)
  );
}

/** Default bound: 85% of the machine's memory (the rest for the system and other processes). */
export function defaultMemoryBound(): number {
  return Math.floor(0.85 * totalmem());
}

const GiB = 1024 ** 3;
/** A memory size for people: GiB to one decimal, or MiB below a tenth of a GiB (never "0.0 GiB"). */
export const fmtGiB = (bytes: number) =>
  bytes >= 0.1 * GiB
    ? `${(bytes / GiB).toFixed(1)} GiB`
    : `${Math.max(1, Math.round(bytes / 1024 ** 2))} MiB`;
