/**
 * Sentences longer than the model's positions are split into overlapping windows of whole words;
 * every word gets exactly one vector, taken from the window where it has the most context:
 * for bidirectional models the window maximising min(left, right) context, for causal models the
 * window with the most left context (the earliest one containing it). Ties go to the earlier window.
 */
export interface Window {
  /** Words [firstWord, endWord) of the sentence. */
  firstWord: number;
  endWord: number;
}

export interface SentencePlan {
  /** Subword ids per word (a word longer than the budget is truncated to it). */
  wordIds: number[][];
  windows: Window[];
  /** For each word, the index of the window whose vector it takes. */
  owner: Int32Array;
  truncatedWords: number;
}

export function planSentence(wordIds: number[][], budget: number, causal: boolean): SentencePlan {
  if (budget < 1) throw new Error("planSentence: the model has no room for any token");
  let truncatedWords = 0;
  const ids = wordIds.map((w) => {
    if (w.length > budget) {
      truncatedWords++;
      return w.slice(0, budget);
    }
    return w;
  });
  const n = ids.length;
  const total = ids.reduce((s, w) => s + w.length, 0);
  if (total <= budget) {
    return {
      wordIds: ids,
      windows: [{ firstWord: 0, endWord: n }],
      owner: new Int32Array(n),
      truncatedWords,
    };
  }
  const windows = makeWindows(
    ids.map((w) => w.length),
    budget,
  );
  return { wordIds: ids, windows, owner: assignOwners(ids, windows, causal), truncatedWords };
}

function makeWindows(lengths: number[], budget: number): Window[] {
  const n = lengths.length;
  const windows: Window[] = [];
  let start = 0;
  for (;;) {
    let end = start;
    let used = 0;
    while (end < n && used + lengths[end] <= budget) used += lengths[end++];
    windows.push({ firstWord: start, endWord: end });
    if (end >= n) return windows;
    // Next window starts about half a window later, but always moves forward and always overlaps
    // (unless a single word fills the window).
    let next = start;
    let advanced = 0;
    while (next < end - 1 && advanced < budget / 2) advanced += lengths[next++];
    start = Math.max(next, start + 1);
  }
}

function assignOwners(ids: number[][], windows: Window[], causal: boolean): Int32Array {
  const owner = new Int32Array(ids.length).fill(-1);
  const score = new Float64Array(ids.length).fill(-1);
  windows.forEach((w, wi) => {
    let left = 0;
    let windowTotal = 0;
    for (let i = w.firstWord; i < w.endWord; i++) windowTotal += ids[i].length;
    for (let i = w.firstWord; i < w.endWord; i++) {
      const right = windowTotal - left - ids[i].length;
      const s = causal ? left : Math.min(left, right);
      if (s > score[i]) {
        score[i] = s;
        owner[i] = wi;
      }
      left += ids[i].length;
    }
  });
  return owner;
}
