import { topNeurons as lcaTopNeurons } from "../rank/lca.js";
import { matrix } from "../util/matrix.js";
import { neuronLayer, type SpaceLike } from "../util/neurons.js";
import type { LayerCounts, ProbeWeights } from "./types.js";

export interface TopNeurons {
  percentage: number;
  /** Per class, the selected neurons (global ids) in order of decreasing |w|. */
  perClass: Record<string, number[]>;
  /** Union over classes, ascending ids. */
  overall: number[];
}

/**
 * LCA top neurons (Dalvi et al. 2019, docs/DESIGN.md "Rankings") through the rank stage's `topNeurons`:
 * for each class, neurons by |w| descending (ties: lower row first), the shortest prefix whose
 * cumulative |w| reaches `percentage` × the class's total |w| (at least one). Rows map to neuron ids.
 */
export function topNeuronsPerClass(probe: ProbeWeights, percentage = 0.05): TopNeurons {
  if (!(percentage >= 0 && percentage <= 1))
    throw new Error(`percentage must be in [0, 1], got ${percentage}`);
  const { weights, classes, neurons } = probe;
  const k = classes.length;
  const n = neurons.length;
  if (weights.length !== n * k) {
    throw new Error(`probe weights: ${weights.length} values != ${n} neurons × ${k} classes`);
  }
  // rank works on PyTorch's [classes × inputs] layout.
  const byClass = new Float32Array(k * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) byClass[c * n + i] = weights[i * k + c];
  const top = lcaTopNeurons(matrix(k, n, byClass), percentage);
  const perClass: Record<string, number[]> = {};
  classes.forEach((cls, c) => {
    perClass[cls] = top.perClass[c].map((row) => neurons[row]);
  });
  return { percentage, perClass, overall: top.union.map((row) => neurons[row]).sort((a, b) => a - b) };
}

/** How many of `neuronIds` sit in each of `layers` (layers not listed are ignored). */
export function layerDistribution(
  neuronIds: readonly number[],
  space: SpaceLike,
  layers: readonly number[],
): LayerCounts {
  const index = new Map(layers.map((l, i) => [l, i]));
  const counts = new Array<number>(layers.length).fill(0);
  for (const id of neuronIds) {
    const i = index.get(neuronLayer(id, space));
    if (i !== undefined) counts[i]++;
  }
  return { layers: [...layers], counts };
}

/** Layers present among `neuronIds`, ascending. */
export function layersOf(neuronIds: readonly number[], space: SpaceLike): number[] {
  return [...new Set(neuronIds.map((id) => neuronLayer(id, space)))].sort((a, b) => a - b);
}
