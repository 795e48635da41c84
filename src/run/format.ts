import { z } from "zod";
import { SUMMARY_ROW_SCHEMA } from "../redundancy/pipeline/results.js";
import { BASELINE_SCHEMA } from "../report/types.js";
import { envelope } from "../util/json.js";
import { RUN_CONFIG_SCHEMA } from "./config.js";

/**
 * OUT/run.json, what `codeneurons run` writes beside the stages' results: the settings it ran with
 * (every default filled in) and the headline it printed. Its timings are in OUT/run-record.json.
 * Version 2 added the headline's `baseline` (the majority-class rate and the control task beside the
 * oracle's accuracy, and the warning when the oracle is not clearly above the majority rate).
 */
export const RUN_FORMAT = "codeneurons-run";
export const RUN_VERSION = 2;

export const HEADLINE_SCHEMA = z.object({
  /** The run's one-paragraph finding, as printed. */
  text: z.string(),
  /** The row of the redundancy summary the headline quotes, or null when none drops neurons. */
  row: SUMMARY_ROW_SCHEMA.nullable(),
  oracle: SUMMARY_ROW_SCHEMA.nullable(),
  /**
   * What the accuracies are read against (report/baseline.ts); null without an oracle step. When
   * `clearlyAboveMajority` is false the headline warns and `row` is null: no reduction is claimed.
   */
  baseline: BASELINE_SCHEMA.nullable(),
  /** Per concept (NUMBER, STRING, IDENT, or the task's first classes): the strongest neurons, as printed. */
  conceptNeurons: z.record(z.string(), z.array(z.string())),
});

export const RUN_FILE_SCHEMA = z
  .object({
    ...envelope(RUN_FORMAT, RUN_VERSION),
    config: RUN_CONFIG_SCHEMA,
    headline: HEADLINE_SCHEMA,
    /** The report's index.html. */
    report: z.string(),
  })
  .describe("codeneurons run.json: the settings of `codeneurons run` and its headline");
export type RunFile = z.infer<typeof RUN_FILE_SCHEMA>;
