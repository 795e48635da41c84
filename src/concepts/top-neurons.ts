import { neuronLayer } from "../util/neurons.js";
import type { LayerCounts, ProbeWeights } from "./types.js";

export interface TopNeurons {
  percentage: number;
  /** Per class, the selected neurons (global ids) in order of decreasing |w|. */
  perClass: Record<string, number[]>;
  /** Union over classes, ascending ids. */
  overall: number[];
}

/**
 * LCA top neurons (Dalvi et al. 2019, DESIGN.md "Rankings"): for each class, neurons by |w| descending,
 * the shortest prefix whose cumulative |w| reaches `percentage` × the class's total |w| (at least one).
 * Ties keep the lower row first, so that results do not depend on sort internals.
 */
export function topNeuronsPerClass(probe: ProbeWeights, percentage = 0.05): TopNeurons {
  if (!(percentage >= 0 && percentage <= 1))
    throw new Error(`percentage must be in [0, 1], got ${percentage}`);
  const { weights, classes, neurons } = probe;
  const k = classes.length;
  if (weights.length !== neurons.length * k) {
    throw new Error(`probe weights: ${weights.length} values != ${neurons.length} neurons × ${k} classes`);
  }
  const perClass: Record<string, number[]> = {};
  const union = new Set<number>();
  for (let c = 0; c < k; c++) {
    const rows = selectByMass(classColumnAbs(weights, neurons.length, k, c), percentage);
    const ids = rows.map((r) => neurons[r]);
    perClass[classes[c]] = ids;
    for (const id of ids) union.add(id);
  }
  return { percentage, perClass, overall: [...union].sort((a, b) => a - b) };
}

function classColumnAbs(weights: Float32Array, n: number, k: number, c: number): Float64Array {
  const col = new Float64Array(n);
  for (let i = 0; i < n; i++) col[i] = Math.abs(weights[i * k + c]);
  return col;
}

/** Indices of the shortest |w|-descending prefix holding `percentage` of the total mass (at least one). */
export function selectByMass(absWeights: Float64Array, percentage: number): number[] {
  const order = Array.from({ length: absWeights.length }, (_, i) => i);
  order.sort((a, b) => absWeights[b] - absWeights[a] || a - b);
  let total = 0;
  for (const w of absWeights) total += w;
  const target = total * percentage;
  const out: number[] = [];
  let cum = 0;
  for (const i of order) {
    out.push(i);
    cum += absWeights[i];
    if (cum >= target) break;
  }
  return out;
}

/** How many of `neuronIds` sit in each of `layers` (layers not listed are ignored). */
export function layerDistribution(
  neuronIds: readonly number[],
  hidden: number,
  layers: readonly number[],
): LayerCounts {
  const index = new Map(layers.map((l, i) => [l, i]));
  const counts = new Array<number>(layers.length).fill(0);
  for (const id of neuronIds) {
    const i = index.get(neuronLayer(id, hidden));
    if (i !== undefined) counts[i]++;
  }
  return { layers: [...layers], counts };
}

/** Layers present among `neuronIds`, ascending. */
export function layersOf(neuronIds: readonly number[], hidden: number): number[] {
  return [...new Set(neuronIds.map((id) => neuronLayer(id, hidden)))].sort((a, b) => a - b);
}
