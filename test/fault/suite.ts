import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheCases, type FileCaseOptions, resultsCases, storeCases } from "./cases.js";
import { nonFiniteCases, symlinkCases, weightCases } from "./cases-entry.js";
import { buildFixture } from "./fixture.js";
import { Tally } from "./harness.js";

/**
 * The whole fault-injection suite: builds the clean results directory, runs every group of cases and
 * returns their tally. `full` (npm run fault) flips three places of each file instead of one and
 * runs the probe over every split's damaged store.
 */
export async function runFaultSuite(
  opts: { full?: boolean; onGroup?: (tally: Tally) => void } = {},
): Promise<Tally> {
  const root = mkdtempSync(join(tmpdir(), "cn-fault-"));
  // Stages log what they do; thousands of cases would flood the output.
  const quiet = process.env.CODENEURONS_QUIET;
  process.env.CODENEURONS_QUIET = "1";
  const tally = new Tally();
  const o: FileCaseOptions = { flips: opts.full ? 3 : 1, probeAllSplits: opts.full ?? false, seed: 17 };
  const f = await buildFixture(join(root, "fixture"));
  try {
    const work = join(root, "cases");
    for (const group of [
      () => storeCases(f, tally, work, o),
      () => cacheCases(f, tally, work, o),
      () => resultsCases(f, tally, work, o),
      () => nonFiniteCases(f, tally, work),
      () => weightCases(tally, work),
      () => symlinkCases(f, tally, work),
    ]) {
      await group();
      opts.onGroup?.(tally);
    }
    return tally;
  } finally {
    await f.model.release();
    rmSync(root, { recursive: true, force: true });
    if (quiet === undefined) delete process.env.CODENEURONS_QUIET;
    else process.env.CODENEURONS_QUIET = quiet;
  }
}
