import { describe, expect, it } from "vitest";
import { Rng } from "../../src/util/rng.js";

describe("Rng", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xs);
  });

  it("draws uniform integers and permutations", () => {
    const r = new Rng(1);
    const counts = new Array(4).fill(0);
    for (let i = 0; i < 40000; i++) counts[r.int(4)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    const p = r.permutation(100);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("draws categorical proportions", () => {
    const r = new Rng(7);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[r.categorical([1, 2, 3])]++;
    expect(counts[0] / 30000).toBeCloseTo(1 / 6, 1);
    expect(counts[2] / 30000).toBeCloseTo(1 / 2, 1);
  });
});
