import { describe, expect, it } from "vitest";
import { runFaultSuite } from "./suite.js";

/**
 * Issue 17's fault-injection suite at CI size (one bit flip per file; `npm run fault` runs three and
 * the probe over every split's store): every case ends in a clear error, in a result identical to the
 * clean run's, or (only for files people may edit) in what the edited file says. Never anything else.
 */
describe("fault injection", () => {
  it("damaged stores, caches and results files, NaN/Inf at every entry, zip bombs, symlinks", {
    timeout: 900_000,
  }, async () => {
    const tally = await runFaultSuite();
    console.log(tally.format());
    expect(tally.others().map((r) => `${r.group}: ${r.name}: ${r.detail.slice(0, 300)}`)).toEqual([]);
    // Every group ran and counted its cases.
    expect(tally.groups()).toEqual(["store", "cache", "results", "non-finite", "weights", "symlinks"]);
    expect(tally.counts().tried).toBeGreaterThan(300);
  });
});
