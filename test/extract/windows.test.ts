import { describe, expect, it } from "vitest";
import { planSentence } from "../../src/extract/windows.js";
import { Rng } from "../../src/util/rng.js";

const ids = (lengths: number[]) => lengths.map((n, i) => Array.from({ length: n }, (_, j) => i * 10 + j));

describe("sentence windows", () => {
  it("keeps a sentence that fits in one window", () => {
    const p = planSentence(ids([1, 2, 3]), 6, false);
    expect(p.windows).toEqual([{ firstWord: 0, endWord: 3 }]);
    expect(Array.from(p.owner)).toEqual([0, 0, 0]);
  });

  it("truncates a word longer than the budget and counts it", () => {
    const p = planSentence(ids([9, 1]), 4, false);
    expect(p.truncatedWords).toBe(1);
    expect(p.wordIds[0]).toHaveLength(4);
  });

  it("gives every word exactly one window that contains it, for random sentences (property)", () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + rng.int(60);
      const lengths = Array.from({ length: n }, () => 1 + rng.int(5));
      const budget = 5 + rng.int(30);
      for (const causal of [false, true]) {
        const p = planSentence(ids(lengths), budget, causal);
        // Windows respect the budget, cover the sentence in order and overlap or touch.
        let covered = 0;
        p.windows.forEach((w, i) => {
          const used = p.wordIds.slice(w.firstWord, w.endWord).reduce((s, x) => s + x.length, 0);
          expect(used).toBeLessThanOrEqual(budget);
          expect(w.endWord).toBeGreaterThan(w.firstWord);
          if (i > 0) {
            expect(w.firstWord).toBeGreaterThan(p.windows[i - 1].firstWord);
            expect(w.firstWord).toBeLessThanOrEqual(p.windows[i - 1].endWord);
          }
          covered = Math.max(covered, w.endWord);
        });
        expect(covered).toBe(n);
        for (let word = 0; word < n; word++) {
          const w = p.windows[p.owner[word]];
          expect(word).toBeGreaterThanOrEqual(w.firstWord);
          expect(word).toBeLessThan(w.endWord);
        }
      }
    }
  });

  it("prefers the window with the most context (both sides; left only for causal models)", () => {
    // 10 one-subword words, budget 6: windows start about 3 words apart.
    const p = planSentence(ids(new Array(10).fill(1)), 6, false);
    expect(p.windows.length).toBeGreaterThan(1);
    // Word 4 sits in windows [0,6) and [3,9): min context 1 vs 1... and [3,9) gives left 1, right 4 → 1;
    // [0,6) gives left 4, right 1 → 1; the tie goes to the earlier window.
    const causal = planSentence(ids(new Array(10).fill(1)), 6, true);
    // Causal: the earliest window containing a word gives it the most left context.
    for (let word = 0; word < 10; word++) {
      const first = causal.windows.findIndex((w) => word >= w.firstWord && word < w.endWord);
      expect(causal.owner[word]).toBe(first);
    }
    // Bidirectional: the middle word of the last window belongs to it, not to the first window.
    const last = p.windows[p.windows.length - 1];
    const mid = Math.floor((last.firstWord + last.endWord) / 2);
    expect(p.owner[mid]).toBe(p.windows.length - 1);
  });
});
