import { caseCount, formatReport, fuzzSeed, MAX_RSS_MIB } from "./harness.js";
import { TARGETS } from "./targets.js";

/**
 * `npm run fuzz`: the full-size round, FUZZ_CASES (default 10,000) mutated inputs per parser, with
 * each target's report printed as it finishes. Arguments select targets by name (substring), e.g.
 * `npm run fuzz -- pickle zip`. Exits 1 when any target found a crash that is not a known bug, or
 * its memory grew past MAX_RSS_MIB.
 */
const cases = caseCount(10_000);
const wanted = process.argv.slice(2).map((a) => a.toLowerCase());
let failed = false;
for (const target of TARGETS) {
  if (wanted.length > 0 && !wanted.some((w) => target.name.toLowerCase().includes(w))) continue;
  const report = await target.fuzz(cases, fuzzSeed());
  console.log(formatReport(report));
  if (report.crashCount > 0 || report.peakRssMiB >= MAX_RSS_MIB) failed = true;
}
process.exitCode = failed ? 1 : 0;
