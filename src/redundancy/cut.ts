import type { LinkageTree } from "./linkage.js";

/**
 * Flat clusters from a linkage tree, as scipy `fcluster(Z, t, criterion='distance')`: a subtree is
 * one cluster when the largest merge height inside it is ≤ t. Cluster numbers follow scipy's
 * depth-first walk (scipy.cluster._hierarchy.cluster_monocrit), so they equal fcluster's numbers.
 */

/** For every merge, the largest height in its subtree (scipy's get_max_dist_for_each_cluster). */
export function maxHeights(tree: LinkageTree): Float64Array {
  const { n, left, right, height } = tree;
  const md = new Float64Array(height.length);
  // Children are always created before their parent, so one pass in merge order suffices.
  for (let k = 0; k < height.length; k++) {
    let m = height[k];
    if (left[k] >= n && md[left[k] - n] > m) m = md[left[k] - n];
    if (right[k] >= n && md[right[k] - n] > m) m = md[right[k] - n];
    md[k] = m;
  }
  return md;
}

/**
 * Cluster number (1-based) of every leaf for threshold t. Pass `maxHeight` (from `maxHeights`)
 * when cutting one tree at many thresholds.
 */
export function cutTree(
  tree: LinkageTree,
  t: number,
  maxHeight: Float64Array = maxHeights(tree),
): Int32Array {
  const { n, left, right } = tree;
  const labels = new Int32Array(n);
  if (n === 1) {
    labels[0] = 1;
    return labels;
  }
  const stack = new Int32Array(n);
  const visited = new Uint8Array(2 * n - 1);
  let k = 0;
  stack[0] = 2 * n - 2;
  let clusters = 0;
  let leader = -1;
  while (k >= 0) {
    const root = stack[k] - n;
    const lc = left[root];
    const rc = right[root];
    if (leader === -1 && maxHeight[root] <= t) {
      leader = root;
      clusters++;
    }
    if (lc >= n && visited[lc] === 0) {
      visited[lc] = 1;
      stack[++k] = lc;
      continue;
    }
    if (rc >= n && visited[rc] === 0) {
      visited[rc] = 1;
      stack[++k] = rc;
      continue;
    }
    if (lc < n) {
      if (leader === -1) clusters++;
      labels[lc] = clusters;
    }
    if (rc < n) {
      if (leader === -1) clusters++;
      labels[rc] = clusters;
    }
    if (leader === root) leader = -1;
    k--;
  }
  return labels;
}

/** Members of each cluster (index c−1 for cluster c), each in increasing leaf order. */
export function clusterMembers(labels: Int32Array): number[][] {
  let count = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > count) count = labels[i];
  const members: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < labels.length; i++) members[labels[i] - 1].push(i);
  return members;
}
