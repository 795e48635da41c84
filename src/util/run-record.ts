import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "./atomic.js";
import { envelope } from "./json.js";

/**
 * A run record: what one run of a stage took and did (wall-clock seconds, cache hits), written beside
 * its results as `run-record.json`. Results files hold only what the inputs and settings determine, so
 * that two runs of the same analysis write the same results; whatever differs from run to run lives here.
 */
export const RUN_RECORD_FORMAT = "codeneurons-run-record";
export const RUN_RECORD_VERSION = 1;
export const RUN_RECORD_FILE = "run-record.json";

export const RUN_RECORD_SCHEMA = z
  .object({
    ...envelope(RUN_RECORD_FORMAT, RUN_RECORD_VERSION),
    /** The stage: probe, concepts, redundancy, … */
    stage: z.string(),
    /** When the run ended (ISO date). */
    createdAt: z.string(),
    /** Wall-clock seconds: `total`, and parts of the run by name. */
    seconds: z.record(z.string(), z.number().min(0)),
    /** What else the stage reports of its run (e.g. the redundancy steps computed and read from the cache). */
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .describe("codeneurons run-record.json: the timings (and cache use) of one run of a stage");
export type RunRecord = z.infer<typeof RUN_RECORD_SCHEMA>;

/** Writes `dir`/run-record.json atomically. */
export async function writeRunRecord(
  dir: string,
  stage: string,
  seconds: Record<string, number>,
  details?: Record<string, unknown>,
): Promise<RunRecord> {
  const record: RunRecord = {
    format: RUN_RECORD_FORMAT,
    version: RUN_RECORD_VERSION,
    stage,
    createdAt: new Date().toISOString(),
    seconds,
    ...(details ? { details } : {}),
  };
  await writeJsonAtomic(join(dir, RUN_RECORD_FILE), record);
  return record;
}

/** Seconds since `t0` (a performance.now() reading). */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}
