import { describe, expect, it } from "vitest";
import type { RedundancyResults, SummaryRow } from "../../src/redundancy/pipeline/results.js";
import { headlineOf, withIntervention } from "../../src/run/headline.js";
import { syntheticIntervention } from "../fixtures/report/make-results.js";

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

describe("headline: the run's intervention", () => {
  const base = headlineOf(null, null);

  it("quotes the sweep point of K = k (or the largest K below it) beside its random controls", () => {
    const r = syntheticIntervention();
    const h = withIntervention(base, r, 10);
    // Only K = 1 and 3 were run: K = 3 is the largest at most 10.
    expect(h.intervention?.top.label).toBe("top:NUMBER:3");
    expect(h.text).toBe(
      "Zeroing the 3 top NUMBER neurons inside the model: masked-LM NUMBER accuracy 60.0% → 12.0%, loss 1.80 → 2.76 " +
        "(3 random neurons of the same layers, 4 sets: 58.0% ± 2.0%, loss 1.84 ± 0.02); other classes 44.4% → 42.0%.",
    );
    // Other classes pool by rows: (30·.5 + 40·.1 + 35·.8 + 20·.3 + 10·.7) / 135 before; KEYWORD and STRING move after.
    expect(h.intervention?.others.before.accuracy).toBeCloseTo((15 + 4 + 28 + 6 + 7) / 135, 12);
    expect(h.intervention?.others.after.accuracy).toBeCloseTo((15 + 4 + 35 * 0.79 + 6 + 10 * 0.4) / 135, 12);
    expect(withIntervention(base, r, 1).intervention?.top.label).toBe("top:NUMBER:1");
    expect(withIntervention(base, r, 1).text).toMatch(
      /^Zeroing the top NUMBER neuron inside the model: .* 60\.0% → 20\.0%/,
    );
  });

  it("adds the class's concept neurons, other modes and evaluations in words", () => {
    const r = syntheticIntervention();
    r.experiments[0].label = "concept:NUMBER";
    r.mode = "scale:0.5";
    const h = withIntervention(base, r, 3);
    expect(h.text).toMatch(/^Scaling ×0\.5 the 3 top NUMBER neurons/);
    expect(h.text).toMatch(
      / Its 1 NUMBER concept neuron: 60\.0% → 60\.0%, loss 1\.80 → 1\.80 \(random: 58\.0% ± 2\.0%, loss 1\.84 ± 0\.02\)\.$/,
    );
    expect(h.intervention?.concept?.neurons).toBe(1);
  });

  it("without a sweep, or with no controls, says only what was measured", () => {
    const r = syntheticIntervention();
    expect(withIntervention(base, { ...r, sweep: null }, 10)).toBe(base);
    const none = withIntervention(base, { ...r, controls: { ...r.controls, count: 0 } }, 3);
    expect(none.text).not.toMatch(/random/);
  });
});
