import { z } from "zod";
import { InputError } from "../util/errors.js";
import { checkJson, envelope, fieldPath, readVersioned } from "../util/json.js";

/**
 * intervention.json: what changing chosen neurons inside the forward pass does to the model's own
 * predictions, per class of a token task (codeneurons intervene, src/intervene/stage.ts). Every
 * experiment is set beside the same model without intervention ("baseline") and beside random neuron
 * sets of the same size, site and layers ("controls", seeded). Timings live in run-record.json.
 */
export const INTERVENTION_FORMAT = "codeneurons-intervention";
export const INTERVENTION_VERSION = 1;

/** How predictions are scored. */
export const EVALUATIONS = ["masked-lm", "causal-lm", "probe"] as const;
export type Evaluation = (typeof EVALUATIONS)[number];

export const SCORE_SCHEMA = z.object({
  /** Rows scored. */
  rows: z.number().int().min(0),
  /** Share of rows predicted right (the true first subword is the most likely token; or the probe's class). */
  accuracy: z.number().min(0).max(1),
  /** Mean negative log-likelihood of the true first subword (masked / causal LM); null for the probe. */
  loss: z.number().min(0).nullable(),
});
export type Score = z.infer<typeof SCORE_SCHEMA>;

export const SCORES_SCHEMA = z.object({
  overall: SCORE_SCHEMA,
  perClass: z.record(z.string(), SCORE_SCHEMA),
});
export type Scores = z.infer<typeof SCORES_SCHEMA>;

/** Mean and sample standard deviation over the random controls (sd 0 with one control). */
export const SPREAD_SCHEMA = z.object({ mean: z.number(), sd: z.number().min(0) });

export const CONTROL_SCORES_SCHEMA = z.object({
  accuracy: SPREAD_SCHEMA,
  loss: SPREAD_SCHEMA.nullable(),
});

export const EXPERIMENT_SCHEMA = z.object({
  /** What was changed, e.g. "top:NUMBER:10" or "concept:STRING". */
  label: z.string(),
  /** Neuron names (`L3:17`, `L3.mlp:17`) and ids within the site. */
  neurons: z.array(z.string()),
  ids: z.array(z.number().int().min(0)),
  after: SCORES_SCHEMA,
  controls: z.object({
    overall: CONTROL_SCORES_SCHEMA,
    perClass: z.record(z.string(), CONTROL_SCORES_SCHEMA),
    /** Each control's neuron ids, so that a control can be rerun on its own. */
    sets: z.array(z.array(z.number().int().min(0))),
  }),
});
export type Experiment = z.infer<typeof EXPERIMENT_SCHEMA>;

export const INTERVENTION_SCHEMA = z
  .object({
    ...envelope(INTERVENTION_FORMAT, INTERVENTION_VERSION),
    model: z.string(),
    modelType: z.string(),
    evaluation: z.enum(EVALUATIONS),
    /** The results directory of the run whose task, stores, probe and concepts were used. */
    results: z.string(),
    split: z.string(),
    site: z.enum(["hidden", "mlp"]),
    width: z.number().int().min(1),
    /** zero | mean | scale:K | set:V, as given. */
    mode: z.string(),
    controls: z.object({
      count: z.number().int().min(0),
      seed: z.number().int(),
      /** Random sets take as many neurons from each layer as the experiment does (never its own). */
      matching: z.literal("same-layers"),
    }),
    /** Task rows that could not be scored (longer than the model's window, nothing to predict from). */
    skippedRows: z.number().int().min(0),
    classes: z.array(z.string()),
    baseline: SCORES_SCHEMA,
    experiments: z.array(EXPERIMENT_SCHEMA),
    /** The sweep: top-K neurons of one class for growing K, experiments[index] per K. */
    sweep: z
      .object({
        class: z.string(),
        points: z.array(z.object({ k: z.number().int().min(1), experiment: z.number().int().min(0) })),
      })
      .nullable(),
  })
  .describe(
    "codeneurons intervention.json: interventions inside the forward pass and their effect per class",
  );
export type InterventionResults = z.infer<typeof INTERVENTION_SCHEMA>;

export function parseInterventionResults(value: unknown, file: string): InterventionResults {
  return readVersioned(
    value,
    file,
    { format: INTERVENTION_FORMAT, version: INTERVENTION_VERSION },
    {
      1: (v) => checkConsistent(checkJson(INTERVENTION_SCHEMA, v, file), file),
    },
  );
}

/**
 * What the schema cannot say: every class has a score wherever the file gives per-class scores, each
 * experiment names one neuron per id, and the sweep's points are experiments of the file.
 */
function checkConsistent(r: InterventionResults, file: string): InterventionResults {
  const fail = (path: (string | number)[], message: string): never => {
    throw new InputError(file, message, { field: fieldPath(path) });
  };
  const covered = (scores: Record<string, unknown>, path: (string | number)[]) => {
    const missing = r.classes.find((c) => !Object.hasOwn(scores, c));
    if (missing !== undefined) fail(path, `no score for class '${missing}'`);
  };
  covered(r.baseline.perClass, ["baseline", "perClass"]);
  for (const [i, e] of r.experiments.entries()) {
    covered(e.after.perClass, ["experiments", i, "after", "perClass"]);
    covered(e.controls.perClass, ["experiments", i, "controls", "perClass"]);
    if (e.neurons.length !== e.ids.length)
      fail(
        ["experiments", i, "neurons"],
        `expected ${e.ids.length} names (one per id), got ${e.neurons.length}`,
      );
  }
  for (const [i, p] of (r.sweep?.points ?? []).entries())
    if (p.experiment >= r.experiments.length)
      fail(
        ["sweep", "points", i, "experiment"],
        `expected an experiment index below ${r.experiments.length}, got ${p.experiment}`,
      );
  return r;
}

/**
 * The sweep's experiment for K = k: the point of K = k, else the largest K below it (a class may rank
 * fewer neurons than asked for), else the smallest; null without a sweep.
 */
export function sweepExperimentAt(r: InterventionResults, k: number): number | null {
  const points = r.sweep?.points ?? [];
  if (points.length === 0) return null;
  const below = points.filter((p) => p.k <= k);
  return (below.length > 0 ? below[below.length - 1] : points[0]).experiment;
}

/** The class an experiment's neurons were chosen for (`top:CLASS:K`, `concept:CLASS`), else null. */
export function experimentClass(label: string): string | null {
  const m = /^top:([^:]+):\d+$/.exec(label) ?? /^concept:(.+)$/.exec(label);
  return m ? m[1] : null;
}
