import type { Matrix } from "../util/matrix.js";

/**
 * Linguistic Correlation Analysis rankings from probe weights (Dalvi et al. 2019; NeuroX's
 * get_top_neurons / get_neuron_ordering), as docs/DESIGN.md defines them. `weights` is [classes × neurons]
 * (PyTorch's Linear.weight layout; LogisticProbe.weightsByOutput()). Indices are columns of the probe's
 * input; callers map them to neuron ids.
 *
 * Made deterministic where NeuroX leaves the order to numpy/Python sets: equal |w| sort by ascending
 * index, the union is sorted ascending, and neurons that enter the ordering at the same cut-off are
 * ordered by their largest share of a class's weight mass (descending), then by index. Sums are float64
 * and sequential in the sorted order; the total is the last cumulative sum.
 */
export interface TopNeurons {
  /** Union over classes, ascending. */
  union: number[];
  /** Per class (row of `weights`), most important first. */
  perClass: number[][];
}

interface ClassOrder {
  order: Int32Array;
  cumulative: Float64Array;
}

/** Each class's neurons by |w| descending (ties: ascending index) and the cumulative |w| mass. */
function classOrders(weights: Matrix, ascending: boolean): ClassOrder[] {
  const { rows: k, cols: d } = weights;
  const out: ClassOrder[] = [];
  for (let c = 0; c < k; c++) {
    const abs = new Float64Array(d);
    for (let j = 0; j < d; j++) abs[j] = Math.abs(weights.data[c * d + j]);
    const order = Int32Array.from({ length: d }, (_, j) => j).sort((a, b) =>
      abs[a] !== abs[b] ? (ascending ? abs[a] - abs[b] : abs[b] - abs[a]) : a - b,
    );
    const cumulative = new Float64Array(d);
    let sum = 0;
    for (let i = 0; i < d; i++) {
      sum += abs[order[i]];
      cumulative[i] = sum;
    }
    out.push({ order, cumulative });
  }
  return out;
}

/** Length of the shortest prefix whose cumulative mass reaches p × total (at least 1). */
function prefixLength(cumulative: Float64Array, p: number): number {
  const d = cumulative.length;
  if (d === 0) return 0;
  const target = p * cumulative[d - 1];
  // First index with cumulative >= target (cumulative is non-decreasing): binary search.
  let lo = 0;
  let hi = d - 1;
  if (!(cumulative[hi] >= target)) return d;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo + 1;
}

function selectAt(orders: ClassOrder[], p: number): TopNeurons {
  const perClass = orders.map((o) => Array.from(o.order.subarray(0, prefixLength(o.cumulative, p))));
  const union = [...new Set(perClass.flat())].sort((a, b) => a - b);
  return { union, perClass };
}

function checkP(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`weight mass fraction must be in [0, 1], got ${p}`);
}

/** LCA top neurons at weight-mass fraction p ∈ [0, 1]: per class and their union. */
export function topNeurons(weights: Matrix, p: number): TopNeurons {
  checkP(p);
  return selectAt(classOrders(weights, false), p);
}

/** The mirror image (NeuroX's get_bottom_neurons): smallest |w| first, until p of the mass. */
export function bottomNeurons(weights: Matrix, p: number): TopNeurons {
  checkP(p);
  return selectAt(classOrders(weights, true), p);
}

export interface NeuronOrdering {
  /** All neurons, most important first. */
  ordering: number[];
  /**
   * cutoffs[i] = length of the ordering after the step p = i / stride (stride + 1 entries), plus one
   * final entry when neurons with zero weight in every class remain: they come last, by index.
   */
  cutoffs: number[];
}

/**
 * Global LCA ordering: for p = 0, 1/stride, …, 1, append the neurons newly selected by topNeurons(p)
 * (NeuroX's get_neuron_ordering). With `bottom: true`, the same walk over bottomNeurons (least
 * important first), the baseline ordering of the paper's ablations.
 */
export function neuronOrdering(
  weights: Matrix,
  stride = 100,
  opts: { bottom?: boolean } = {},
): NeuronOrdering {
  if (!Number.isInteger(stride) || stride < 1)
    throw new Error(`stride must be a positive integer, got ${stride}`);
  const orders = classOrders(weights, opts.bottom === true);
  const share = massShare(weights, orders);
  const seen = new Uint8Array(weights.cols);
  const ordering: number[] = [];
  const cutoffs: number[] = [];
  // Each class's prefix only grows with p, so the neurons new at step i are those between the previous
  // and the current prefix of each class that no earlier step took: the same sets as topNeurons(i /
  // stride) less everything before, without rebuilding the union at every step (which made one
  // ordering of a 7B model's 811,008 weights cost seconds per step).
  const taken = new Int32Array(orders.length);
  for (let i = 0; i <= stride; i++) {
    const fresh: number[] = [];
    orders.forEach((o, c) => {
      const length = prefixLength(o.cumulative, i / stride);
      for (let t = taken[c]; t < length; t++) {
        const j = o.order[t];
        if (!seen[j]) {
          seen[j] = 1;
          fresh.push(j);
        }
      }
      taken[c] = Math.max(taken[c], length);
    });
    fresh.sort((a, b) =>
      share[a] !== share[b] ? (opts.bottom ? share[a] - share[b] : share[b] - share[a]) : a - b,
    );
    for (const j of fresh) ordering.push(j);
    cutoffs.push(ordering.length);
  }
  // topNeurons(1) stops at the last non-zero weight, so all-zero neurons were never selected (NeuroX
  // leaves them out); a ranking must hold every neuron for ablations.
  if (ordering.length < weights.cols) {
    for (let j = 0; j < weights.cols; j++) if (!seen[j]) ordering.push(j);
    cutoffs.push(ordering.length);
  }
  return { ordering, cutoffs };
}

/** Each neuron's largest fraction of one class's total |w| (0 for classes with no mass). */
function massShare(weights: Matrix, orders: ClassOrder[]): Float64Array {
  const { rows: k, cols: d } = weights;
  const share = new Float64Array(d);
  for (let c = 0; c < k; c++) {
    const total = orders[c].cumulative[d - 1] ?? 0;
    if (!(total > 0)) continue;
    for (let j = 0; j < d; j++) {
      const s = Math.abs(weights.data[c * d + j]) / total;
      if (s > share[j]) share[j] = s;
    }
  }
  return share;
}

/** The first `count` neurons of an ordering. */
export function takeTop(ordering: NeuronOrdering, count: number): number[] {
  return ordering.ordering.slice(0, Math.max(0, Math.min(count, ordering.ordering.length)));
}
