import { z } from "zod";
import { CONTROL_SCORES_SCHEMA, EVALUATIONS, SCORE_SCHEMA } from "../intervene/format.js";
import { SUMMARY_ROW_SCHEMA } from "../redundancy/pipeline/results.js";
import { BASELINE_SCHEMA } from "../report/types.js";
import { envelope } from "../util/json.js";
import { RUN_CONFIG_SCHEMA } from "./config.js";

/**
 * OUT/run.json, what `codeneurons run` writes beside the stages' results: the settings it ran with
 * (every default filled in) and the headline it printed. Its timings are in OUT/run-record.json.
 * Version 2 added the headline's `baseline` (the majority-class rate and the control task beside the
 * oracle's accuracy, and the warning when the oracle is not clearly above the majority rate); version 3
 * the intervention (config.intervene, headline.intervention); version 4 the config's task kind and its
 * fields (classes, binary labels or regex, the labeler, sentence-level datasets' files); version 5
 * (issue 14) the compressed model (config.compress, headline.compressed when the run wrote one).
 */
export const RUN_FORMAT = "codeneurons-run";
export const RUN_VERSION = 5;

/** One experiment of the run's intervention, for the headline: what it did to one class. */
const HEADLINE_EXPERIMENT_SCHEMA = z.object({
  /** As in intervention.json: "top:STRING:10", "concept:STRING". */
  label: z.string(),
  neurons: z.number().int().min(1),
  /** The class's score with the neurons changed, and with random neurons of the same layers. */
  after: SCORE_SCHEMA,
  controls: CONTROL_SCORES_SCHEMA,
});

export const HEADLINE_INTERVENTION_SCHEMA = z.object({
  class: z.string(),
  mode: z.string(),
  evaluation: z.enum(EVALUATIONS),
  /** Random neuron sets per experiment. */
  controls: z.number().int().min(0),
  /** The class's score of the unchanged model. */
  before: SCORE_SCHEMA,
  /** The top-K neurons of the class (the sweep point the headline quotes). */
  top: HEADLINE_EXPERIMENT_SCHEMA,
  /** Every other class's rows together, before and after the top-K change. */
  others: z.object({ before: SCORE_SCHEMA, after: SCORE_SCHEMA }),
  /** The class's concept neurons, when the concept analysis found some. */
  concept: HEADLINE_EXPERIMENT_SCHEMA.nullable(),
});

export const COMPRESSED_HEADLINE_SCHEMA = z.object({
  /** Its directory (card.json, model.onnx) and the summary row it is. */
  dir: z.string(),
  set: z.string(),
  /** Blocks it computes, of the model's. */
  blocks: z.number().int().min(0),
  of: z.number().int().min(0),
  /** Units it computes for the probe, of the site's neurons in the stored layers. */
  neurons: z.number().int().min(0),
  neuronsOf: z.number().int().min(0),
  /** Its own test accuracy on the run's test rows, and what the run reported for the set. */
  accuracy: z.number(),
  runAccuracy: z.number(),
});

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
  /** What changing the class's top neurons inside the model did (only when the run intervened). */
  intervention: HEADLINE_INTERVENTION_SCHEMA.optional(),
  /** The compressed model the run wrote (config compress.set; run/compressed.ts), when it wrote one. */
  compressed: COMPRESSED_HEADLINE_SCHEMA.nullable().optional(),
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
