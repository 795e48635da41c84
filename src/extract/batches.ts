import type { TokenBatch } from "./types.js";

/** What batching needs of a window: its token ids (the caller's other fields ride along). */
export interface Sequence {
  ids: readonly number[];
}

/** Sequences that run together, one a row, right-padded to the longest. */
export interface Batch<T extends Sequence> {
  items: T[];
  /** Row length: the longest sequence's. */
  seq: number;
}

/**
 * Cost of one more batch in padded-token equivalents: onnxruntime's fixed work per run (thread
 * hand-offs per node, output allocation) and the worse GEMM speed of fewer rows. It keeps the
 * bucketing below from cutting batches much smaller than batchTokens to save a few padding tokens.
 */
export const BATCH_COST_TOKENS = 32;

/**
 * Length bucketing with as little padding as possible: sequences sorted by length (ties by order) are
 * cut into consecutive batches of at most `batchTokens` padded tokens so that padded tokens plus
 * `batchCost` per batch is smallest (dynamic programming over the cut points; a greedy fill pads
 * whenever a long sequence joins many short ones). One sequence per row, never several, so a sequence's
 * vectors do not depend on what it is batched with: every batching gives the same store bytes.
 */
export function makeBatches<T extends Sequence>(
  items: readonly T[],
  batchTokens: number,
  batchCost = BATCH_COST_TOKENS,
): Batch<T>[] {
  const sorted = items
    .map((it, i) => ({ it, i }))
    .sort((a, b) => a.it.ids.length - b.it.ids.length || a.i - b.i)
    .map((x) => x.it);
  const n = sorted.length;
  // best[j]: least cost of batching the first j sequences; cut[j]: where the last of those batches starts.
  const best = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const seq = sorted[j - 1].ids.length;
    // Batch [i, j) pads to seq; a sequence longer than batchTokens still runs, alone.
    for (let i = j - 1; i >= 0 && (i === j - 1 || (j - i) * seq <= batchTokens); i--) {
      const cost = best[i] + (j - i) * seq + batchCost;
      if (cost < best[j]) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const batches: Batch<T>[] = [];
  for (let j = n; j > 0; j = cut[j]) {
    const batchItems = sorted.slice(cut[j], j);
    batches.push({ items: batchItems, seq: batchItems[batchItems.length - 1].ids.length });
  }
  return batches.reverse();
}

/** The model's input for a batch: token ids right-padded with `padId`, and the mask. */
export function toTokenBatch<T extends Sequence>(batch: Batch<T>, padId: number): TokenBatch {
  const { items, seq } = batch;
  const ids = new Int32Array(items.length * seq).fill(padId);
  const mask = new Int32Array(items.length * seq);
  items.forEach((it, b) => {
    ids.set(it.ids, b * seq);
    mask.fill(1, b * seq, b * seq + it.ids.length);
  });
  return { ids, mask, batch: items.length, seq };
}
