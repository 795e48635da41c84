/**
 * A synthetic probing problem shaped like the paper's: 13 layers × 768 units = 9,984 neurons, 6 classes,
 * 12,000 / 1,620 / 2,040 rows. Structure planted so that the optimiser meets what real activations give it:
 * - residual-stream correlation: unit u of layer l = ρ·(unit u of layer l−1) + noise (ρ = 0.9), so
 *   XᵀX is ill-conditioned the way hidden states across layers are;
 * - a shared low-rank component (16 factors) across all neurons;
 * - class-dependent means on a few units (all their layers, strongest in middle layers);
 * - per-neuron offsets and scales, with a few "massive" dimensions (z-scoring must handle them).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { matmul } from "../src/linalg/products.js";
import { writeJsonAtomic } from "../src/util/atomic.js";
import { type Matrix, matrix } from "../src/util/matrix.js";
import { Rng } from "../src/util/rng.js";
import { writeNpy } from "./common.js";

export interface ProbeProblemSpec {
  seed: number;
  layers: number;
  hidden: number;
  classes: number;
  perClass: { train: number; valid: number; test: number };
  informativeUnits: number;
  signal: number;
  rho: number;
  factors: number;
}

export const DEFAULT_SPEC: ProbeProblemSpec = {
  seed: 20230501,
  layers: 13,
  hidden: 768,
  classes: 6,
  perClass: { train: 2000, valid: 270, test: 340 },
  informativeUnits: 40,
  signal: 0.45,
  rho: 0.9,
  factors: 16,
};

export interface Split {
  x: Matrix;
  y: Int32Array;
}

export interface ProbeProblem {
  spec: ProbeProblemSpec;
  train: Split;
  valid: Split;
  test: Split;
  classNames: string[];
}

/** Fills `out` with standard normals (both Box-Muller outputs used). */
export function fillNormal(rng: Rng, out: Float32Array): void {
  for (let i = 0; i < out.length; i += 2) {
    let u = rng.next();
    while (u === 0) u = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
  }
}

interface Planted {
  classMeans: Float32Array; // [classes × hidden], zero outside informative units
  layerGain: Float32Array; // [layers]
  loadings: Matrix; // [factors × d]
  offset: Float32Array; // [d]
  scale: Float32Array; // [d]
}

function plant(spec: ProbeProblemSpec, rng: Rng): Planted {
  const { layers, hidden, classes } = spec;
  const d = layers * hidden;
  const classMeans = new Float32Array(classes * hidden);
  const units = rng.permutation(hidden).slice(0, spec.informativeUnits);
  for (const u of units)
    for (let c = 0; c < classes; c++) classMeans[c * hidden + u] = spec.signal * rng.normal();
  const layerGain = new Float32Array(layers);
  for (let l = 0; l < layers; l++) layerGain[l] = Math.exp(-(((l - 7) / 4) ** 2));
  const loadings = matrix(spec.factors, d);
  fillNormal(rng, loadings.data);
  for (let i = 0; i < loadings.data.length; i++) loadings.data[i] *= 0.15;
  const offset = new Float32Array(d);
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    offset[j] = 0.5 * rng.normal();
    scale[j] = Math.exp(0.5 * rng.normal());
  }
  for (let i = 0; i < 4; i++) {
    const j = rng.int(d);
    offset[j] = 20 * (1 + rng.next());
    scale[j] = 30;
  }
  return { classMeans, layerGain, loadings, offset, scale };
}

async function makeSplit(
  spec: ProbeProblemSpec,
  planted: Planted,
  perClass: number,
  rng: Rng,
): Promise<Split> {
  const { layers, hidden, classes, rho } = spec;
  const d = layers * hidden;
  const n = perClass * classes;
  const y = new Int32Array(n);
  const order = rng.permutation(n);
  for (let i = 0; i < n; i++) y[order[i]] = i % classes;
  const x = matrix(n, d);
  fillNormal(rng, x.data);
  const innov = Math.sqrt(1 - rho * rho);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    const mean = y[i] * hidden;
    for (let u = 0; u < hidden; u++) {
      let v = x.data[row + u];
      const m = planted.classMeans[mean + u];
      x.data[row + u] = v + m * planted.layerGain[0];
      for (let l = 1; l < layers; l++) {
        const j = row + l * hidden + u;
        v = rho * v + innov * x.data[j];
        x.data[j] = v + m * planted.layerGain[l];
      }
    }
  }
  const f = matrix(n, spec.factors);
  fillNormal(rng, f.data);
  const shared = await matmul(f, planted.loadings);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++)
      x.data[row + j] = planted.offset[j] + planted.scale[j] * (x.data[row + j] + shared.data[row + j]);
  }
  return { x, y };
}

export async function makeProbeProblem(spec: ProbeProblemSpec = DEFAULT_SPEC): Promise<ProbeProblem> {
  const rng = new Rng(spec.seed);
  const planted = plant(spec, rng);
  const train = await makeSplit(spec, planted, spec.perClass.train, rng);
  const valid = await makeSplit(spec, planted, spec.perClass.valid, rng);
  const test = await makeSplit(spec, planted, spec.perClass.test, rng);
  const classNames = ["IDENT", "KEYWORD", "MODIFIER", "NUMBER", "STRING", "TYPE"].slice(0, spec.classes);
  return { spec, train, valid, test, classNames };
}

const SPLITS = ["train", "valid", "test"] as const;

/** Reads back a .npy file this module wrote (float32 or int32, C order); not a general parser. */
async function readOwnNpy(path: string): Promise<{ data: Float32Array | Int32Array; shape: number[] }> {
  const buf = await readFile(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString("latin1");
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const start = 10 + headerLen;
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  const data = header.includes("<f4") ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
  return { data, shape };
}

/**
 * The problem for `spec`, generated once and cached as .npy files under `dir` (which the Python baseline
 * reads too); regenerated when the spec changes.
 */
export async function loadOrMakeProbeProblem(
  dir: string,
  spec: ProbeProblemSpec = DEFAULT_SPEC,
): Promise<ProbeProblem> {
  const metaPath = join(dir, "meta.json");
  const wanted = JSON.stringify(spec);
  if (existsSync(metaPath) && JSON.stringify(JSON.parse(await readFile(metaPath, "utf8")).spec) === wanted) {
    const splits: Split[] = [];
    for (const s of SPLITS) {
      const x = await readOwnNpy(join(dir, `X_${s}.npy`));
      const y = await readOwnNpy(join(dir, `y_${s}.npy`));
      splits.push({ x: matrix(x.shape[0], x.shape[1], x.data as Float32Array), y: y.data as Int32Array });
    }
    const meta = JSON.parse(await readFile(metaPath, "utf8")) as { classNames: string[] };
    return { spec, train: splits[0], valid: splits[1], test: splits[2], classNames: meta.classNames };
  }
  const problem = await makeProbeProblem(spec);
  for (const s of SPLITS) {
    const split = problem[s];
    await writeNpy(join(dir, `X_${s}.npy`), split.x.data, [split.x.rows, split.x.cols]);
    await writeNpy(join(dir, `y_${s}.npy`), split.y, [split.y.length]);
  }
  await writeJsonAtomic(metaPath, { spec, classNames: problem.classNames });
  return problem;
}
