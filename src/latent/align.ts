import type { Matrix } from "../util/matrix.js";
import type { TokenCategories } from "./categories.js";
import type { LatentCluster, LatentLayer } from "./format.js";

/**
 * ConceptX's alignment of latent concepts with human ones: a cluster is aligned with a category when at
 * least θ of its tokens have it (0.9 in Dalvi et al. 2022). Per layer, the share of clusters aligned
 * with each family and each value, and the share aligned with nothing (the novel concepts).
 */
export interface ClusterSets {
  /** Cluster of each token (0 … k − 1). */
  labels: Int32Array;
  k: number;
}

export type NeuronNamer = (unit: number) => { id: number; name: string };

export function alignLayer(
  layer: number,
  clusters: ClusterSets,
  categories: readonly TokenCategories[],
  theta: number,
  topNeurons: { x: Matrix; count: number; name: NeuronNamer },
): LatentLayer {
  const { labels, k } = clusters;
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < labels.length; t++) members[labels[t]].push(t);
  const neurons = clusterNeurons(topNeurons.x, members, topNeurons.count, topNeurons.name);
  const out: LatentCluster[] = members.map((tokens, id) => {
    const aligned: LatentCluster["aligned"] = [];
    const majority: LatentCluster["majority"] = [];
    for (const cat of categories) {
      const counts = new Int32Array(cat.values.length);
      for (const t of tokens) if (cat.token[t] >= 0) counts[cat.token[t]]++;
      let best = -1;
      for (let v = 0; v < counts.length; v++)
        if (counts[v] > 0 && (best < 0 || counts[v] > counts[best])) best = v;
      if (best >= 0)
        majority.push({ family: cat.family, value: cat.values[best], share: counts[best] / tokens.length });
      const here = [];
      for (let v = 0; v < counts.length; v++) {
        const s = counts[v] / tokens.length;
        if (counts[v] > 0 && s >= theta) here.push({ family: cat.family, value: cat.values[v], share: s });
      }
      here.sort((a, b) => b.share - a.share || (a.value < b.value ? -1 : 1));
      aligned.push(...here);
    }
    return { id, size: tokens.length, tokens, aligned, majority, neurons: neurons[id] };
  });
  const alignment = categories.map((cat) => {
    const perValue = new Map<string, number>();
    let any = 0;
    for (const c of out) {
      const mine = c.aligned.filter((a) => a.family === cat.family);
      if (mine.length > 0) any++;
      for (const a of mine) perValue.set(a.value, (perValue.get(a.value) ?? 0) + 1);
    }
    return {
      family: cat.family,
      aligned: any / k,
      values: cat.values
        .filter((v) => perValue.has(v))
        .map((value) => ({ value, clusters: perValue.get(value)!, share: perValue.get(value)! / k })),
    };
  });
  const novel = out.filter((c) => c.aligned.length === 0).length / k;
  return { layer, clusters: out, alignment, novel };
}

/**
 * For each cluster, the `count` neurons with the largest mean z-score over its tokens (z over all
 * sampled tokens, population std; a constant neuron scores 0).
 */
function clusterNeurons(
  x: Matrix,
  members: number[][],
  count: number,
  name: NeuronNamer,
): LatentCluster["neurons"][] {
  const { rows: n, cols: d } = x;
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j] += x.data[r * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const std = new Float64Array(d);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < d; j++) {
      const t = x.data[r * d + j] - mean[j];
      std[j] += t * t;
    }
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j] / n);
  const sum = new Float64Array(d);
  return members.map((tokens) => {
    sum.fill(0);
    for (const t of tokens) {
      const o = t * d;
      for (let j = 0; j < d; j++) sum[j] += x.data[o + j];
    }
    const z = Array.from({ length: d }, (_, j) =>
      std[j] > 0 ? (sum[j] / tokens.length - mean[j]) / std[j] : 0,
    );
    const order = Array.from({ length: d }, (_, j) => j).sort((a, b) => z[b] - z[a] || a - b);
    return order.slice(0, Math.min(count, d)).map((j) => ({ ...name(j), z: z[j] }));
  });
}
