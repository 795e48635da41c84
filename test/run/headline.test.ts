import { describe, expect, it } from "vitest";
import type { RedundancyResults, SummaryRow } from "../../src/redundancy/pipeline/results.js";
import { headlineOf } from "../../src/run/headline.js";

const row = (name: string, neurons: number, test: number, dev: number, detail = ""): SummaryRow => ({
  name,
  neurons,
  accuracy: test,
  devAccuracy: dev,
  reduction: 1 - neurons / 1000,
  detail,
});

/** Only the fields the headline reads. */
function results(summary: SummaryRow[]): RedundancyResults {
  return {
    totalNeurons: 1000,
    summary,
    steps: {},
    input: { site: "hidden" },
  } as unknown as RedundancyResults;
}

describe("headline", () => {
  const oracle = row("Oracle", 1000, 0.9, 0.8);

  it("quotes the smallest reduced set within 1 point of the oracle's dev accuracy", () => {
    const h = headlineOf(
      results([
        oracle,
        row("LS", 500, 0.89, 0.795),
        row("CC", 200, 0.95, 0.78),
        row("LCA", 300, 0.85, 0.791),
      ]),
      null,
    );
    // CC has the best test accuracy but is 2 points below on dev: the test split never decides.
    expect(h.row?.name).toBe("LCA");
    expect(h.text).toMatch(/^700 of 1000 neurons \(70\.0%\) can go: LCA keeps 300 neurons at 85\.0% test/);
  });

  it("says so when no reduced set stays within 1 point on dev, and names the closest", () => {
    const h = headlineOf(
      results([
        oracle,
        row("LS", 1000, 0.9, 0.8),
        row("CC", 263, 0.9, 0.77, "t=0.4"),
        row("LCA", 400, 0.9, 0.75),
      ]),
      null,
    );
    expect(h.row?.name).toBe("CC");
    expect(h.text).toMatch(
      /^No method dropped neurons within 1 point of the oracle's dev accuracy\. Closest: CC keeps 263/,
    );
    expect(h.text).not.toMatch(/can go/);
  });

  it("probeless and random orderings are not reduction methods of the headline", () => {
    const h = headlineOf(
      results([oracle, row("Probeless", 10, 0.9, 0.85), row("Random", 20, 0.9, 0.85)]),
      null,
    );
    expect(h.row).toBeNull();
    expect(h.text).toBe("");
  });
});
