import type { LinkageTree } from "../redundancy/linkage.js";

/**
 * Flat clusters from a linkage tree, numbered as scikit-learn's AgglomerativeClustering numbers them
 * (sklearn.cluster._agglomerative._hc_cut): starting from the root, the highest-numbered node is split
 * k − 1 times (a heap of negated node ids, Python's heapq step for step), and cluster i is the i-th node
 * of the heap's array. So `labels` equal scikit-learn's `labels_`, not just up to renaming.
 */
export function cutTree(tree: LinkageTree, k: number): Int32Array {
  const n = tree.n;
  if (!Number.isInteger(k) || k < 1) throw new Error(`cutTree: the number of clusters must be ≥ 1, got ${k}`);
  if (k > n) throw new Error(`cutTree: cannot make ${k} clusters of ${n} rows`);
  const labels = new Int32Array(n);
  if (n === 1) return labels;
  const heap: number[] = [-(Math.max(tree.left[n - 2], tree.right[n - 2]) + 1)];
  for (let s = 0; s < k - 1; s++) {
    const node = -heap[0] - n;
    heapPush(heap, -tree.left[node]);
    heapPushPop(heap, -tree.right[node]);
  }
  const stack: number[] = [];
  heap.forEach((negNode, cluster) => {
    stack.push(-negNode);
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (v < n) labels[v] = cluster;
      else stack.push(tree.left[v - n], tree.right[v - n]);
    }
  });
  return labels;
}

// Python's heapq (Lib/heapq.py), which fixes the array order and so the cluster numbers.
function heapPush(heap: number[], item: number): void {
  heap.push(item);
  siftDown(heap, 0, heap.length - 1);
}

function heapPushPop(heap: number[], item: number): number {
  if (heap.length > 0 && heap[0] < item) {
    const top = heap[0];
    heap[0] = item;
    siftUp(heap, 0);
    return top;
  }
  return item;
}

function siftDown(heap: number[], start: number, pos: number): void {
  const item = heap[pos];
  while (pos > start) {
    const parentPos = (pos - 1) >> 1;
    const parent = heap[parentPos];
    if (item < parent) {
      heap[pos] = parent;
      pos = parentPos;
      continue;
    }
    break;
  }
  heap[pos] = item;
}

function siftUp(heap: number[], pos: number): void {
  const end = heap.length;
  const start = pos;
  const item = heap[pos];
  let child = 2 * pos + 1;
  while (child < end) {
    const right = child + 1;
    if (right < end && !(heap[child] < heap[right])) child = right;
    heap[pos] = heap[child];
    pos = child;
    child = 2 * pos + 1;
  }
  heap[pos] = item;
  siftDown(heap, start, pos);
}
