import { describe, expect, it } from "vitest";
import { encodeIdRanges } from "../../src/redundancy/pipeline/results.js";
import { consecutiveRuns } from "../../src/util/runs.js";

describe("consecutiveRuns", () => {
  it("splits sorted values into half-open runs of consecutive integers", () => {
    expect(consecutiveRuns([0, 1, 2, 5, 7, 8])).toEqual([
      [0, 3],
      [5, 6],
      [7, 9],
    ]);
    expect(consecutiveRuns([4])).toEqual([[4, 5]]);
    expect(consecutiveRuns([])).toEqual([]);
  });

  it("gives the id ranges of the results files", () => {
    expect(encodeIdRanges([8, 0, 2, 1, 5, 7, 2])).toBe("0-2,5,7-8");
    expect(encodeIdRanges([])).toBe("");
  });
});
