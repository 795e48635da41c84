import { z } from "zod";
import { STANDARDIZER_SCHEMA } from "../linalg/standardize.js";
import { InputError } from "../util/errors.js";
import { checkJson, envelope, readVersioned } from "../util/json.js";
import { SITES } from "../util/neurons.js";

/**
 * The files of the probe stage (`codeneurons probe`, probe/stage.ts), each a zod schema that is the
 * source of its TypeScript type and of its JSON Schema in docs/schemas/:
 *
 *   probe.json     codeneurons-probe          the fitted probe: standardizer, weights, bias, classes,
 *                                             and the neurons (ids of `site`) its inputs are
 *   metrics.json   codeneurons-probe-metrics  train/valid/test metrics, the λ grid, control and selectivity
 *   rankings.json  codeneurons-rankings       neuron orderings: LCA, bottom, top neurons, probeless, random
 *
 * Weights have one layout, stated in the file (`weightsLayout`): one row per output (class), one column
 * per input (neuron), as PyTorch's Linear.weight. Versions of probe.json: 3 adds `weightsLayout`;
 * 2 added `site` and `width` (version 1 holds hidden-site ids). Every version is read.
 */
export const PROBE_FORMAT = "codeneurons-probe";
export const PROBE_VERSION = 3;
export const METRICS_FORMAT = "codeneurons-probe-metrics";
export const METRICS_VERSION = 1;
export const RANKINGS_FORMAT = "codeneurons-rankings";
export const RANKINGS_VERSION = 1;

/** The one layout of probe weights in files: rows are outputs (classes), columns inputs (neurons). */
export const WEIGHTS_LAYOUT = "outputs × inputs";

const count = z.number().int().min(0);
const id = z.number().int().min(0);
const lambda = z.number().min(0);

export const PASS_COUNT_SCHEMA = z.object({ forward: z.number(), gradient: z.number(), dev: z.number() });

/** How a fit ended (informational: a probe is used through its weights). */
export const FIT_INFO_SCHEMA = z.object({
  iterations: count,
  stop: z.enum(["converged", "max-iterations", "early-stopping", "zero-weights", "line-search"]),
  objective: z.number(),
  trainLoss: z.number(),
  devLoss: z.number().optional(),
  devAccuracy: z.number().optional(),
  /** Passes over the training matrix (forward + gradient) and over the dev matrix. */
  passes: PASS_COUNT_SCHEMA,
  /** Why this fit may not be what it seems (a probe that did not move from its start). */
  warnings: z.array(z.string()).optional(),
});
export type FitInfo = z.infer<typeof FIT_INFO_SCHEMA>;

/** The fitted model: what LinearModel.toJSON writes (library probes have only these fields). */
const MODEL_FIELDS = {
  kind: z.enum(["logistic", "linear"]),
  /** Inputs (neurons) the probe reads. */
  inputs: z.number().int().min(1),
  lambda1: lambda,
  lambda2: lambda,
  /** z-scoring of the inputs with the training rows' statistics. */
  standardizer: STANDARDIZER_SCHEMA,
  /** [outputs × inputs] on standardized inputs. */
  weights: z.array(z.array(z.number())),
  bias: z.array(z.number()),
  fit: FIT_INFO_SCHEMA.nullable().optional(),
  /** Class names of a logistic probe, in output order. */
  classes: z.array(z.string()).optional(),
};

/** What the probe stage adds: which neurons the inputs are, of which model, site and task. */
const STAGE_FIELDS = {
  /** Neuron ids (layer × width + unit of `site`) of the inputs, in input order. */
  neurons: z.array(id).optional(),
  model: z.string().optional(),
  site: z.enum(SITES).optional(),
  /** Neurons per layer of the site. */
  width: z.number().int().min(1).optional(),
  /** The model's hidden size. */
  hidden: z.number().int().min(1).optional(),
  layers: z.array(id).optional(),
  task: z.string().optional(),
  /** Trained on the control task. */
  controlTask: z.boolean().optional(),
};

export const PROBE_SCHEMA = z
  .object({
    ...envelope(PROBE_FORMAT, PROBE_VERSION),
    weightsLayout: z.literal(WEIGHTS_LAYOUT),
    ...MODEL_FIELDS,
    ...STAGE_FIELDS,
  })
  .describe(
    "codeneurons probe.json: a fitted linear probe (elastic-net logistic regression) and its neurons",
  );
export type ProbeFile = z.infer<typeof PROBE_SCHEMA>;

const OLDER_PROBE_SCHEMA = z.object({
  format: z.literal(PROBE_FORMAT),
  version: z.union([z.literal(1), z.literal(2)]),
  ...MODEL_FIELDS,
  ...STAGE_FIELDS,
});

/** Any version of probe.json, as the current version, with its shapes checked against each other. */
export function parseProbeFile(value: unknown, file: string): ProbeFile {
  const current = { format: PROBE_FORMAT, version: PROBE_VERSION, weightsLayout: WEIGHTS_LAYOUT } as const;
  const older = (v: unknown): ProbeFile => {
    // Versions 1 and 2 wrote the weights in the same layout, without saying so.
    const { format: _f, version: _v, ...rest } = checkJson(OLDER_PROBE_SCHEMA, v, file);
    return { ...current, ...rest };
  };
  const probe = readVersioned(value, file, current, {
    1: older,
    2: older,
    3: (v) => checkJson(PROBE_SCHEMA, v, file),
  });
  checkShapes(probe, file);
  return probe;
}

function checkShapes(p: ProbeFile, file: string): void {
  const outputs = p.kind === "linear" ? 1 : (p.classes?.length ?? 0);
  const fail = (field: string, detail: string): never => {
    throw new InputError(file, detail, { field });
  };
  if (p.kind === "logistic") {
    if (!p.classes || p.classes.length < 2) fail("classes", "expected at least two class names");
    if (new Set(p.classes).size !== p.classes!.length) fail("classes", "class names are not unique");
  }
  if (p.standardizer.mean.length !== p.inputs)
    fail("standardizer.mean", `expected ${p.inputs} entries, got ${p.standardizer.mean.length}`);
  if (p.weights.length !== outputs)
    fail("weights", `expected ${outputs} rows of weights (${WEIGHTS_LAYOUT})`);
  p.weights.forEach((row, c) => {
    if (row.length !== p.inputs) fail(`weights[${c}]`, `expected ${p.inputs} weights, got ${row.length}`);
  });
  if (p.bias.length !== outputs) fail("bias", `expected ${outputs} entries, got ${p.bias.length}`);
  if (p.neurons && p.neurons.length !== p.inputs)
    fail("neurons", `expected ${p.inputs} neuron ids (one per input), got ${p.neurons.length}`);
}

export const CLASS_METRICS_SCHEMA = z.object({
  /** Rows of this class. */
  support: count,
  /** Accuracy on this class's rows (= recall). */
  accuracy: z.number(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
});

export const CLASSIFICATION_METRICS_SCHEMA = z.object({
  rows: count,
  accuracy: z.number(),
  macroF1: z.number(),
  /** Binary tasks only: F1 of the second class (index 1). */
  f1: z.number().optional(),
  classes: z.array(z.string()),
  perClass: z.record(z.string(), CLASS_METRICS_SCHEMA),
  /** confusion[true][predicted]. */
  confusion: z.array(z.array(count)),
});

export const GRID_POINT_SCHEMA = z.object({
  lambda1: lambda,
  lambda2: lambda,
  iterations: count,
  stop: FIT_INFO_SCHEMA.shape.stop,
  objective: z.number(),
  trainLoss: z.number(),
  nonZeroWeights: count,
  dev: z.object({ loss: z.number(), accuracy: z.number() }),
  test: z.object({ loss: z.number(), accuracy: z.number() }).optional(),
});

const perSplit = <T extends z.ZodType>(t: T) => z.object({ train: t, valid: t, test: t });
const devTest = z.object({ valid: z.number(), test: z.number() });

/** What the probe stage returns and prints. */
export const PROBE_SUMMARY_SCHEMA = z.object({
  /** The output directory. */
  out: z.string(),
  site: z.enum(SITES),
  /** Trained on the control task (`--control`). */
  control: z.boolean(),
  lambda1: lambda,
  lambda2: lambda,
  neurons: count,
  rows: perSplit(count),
  accuracy: perSplit(z.number()),
  /** The intercept-only probe (always the most frequent training class). */
  interceptOnly: devTest,
  /** `--selectivity`: the control probe's accuracy (probe/control.ts). */
  controlAccuracy: devTest.optional(),
  /** `--selectivity`: accuracy − control accuracy, in points of accuracy / 100. */
  selectivity: devTest.optional(),
  /**
   * Signs that the result may be meaningless: the store's own warnings (mostly unknown words) and the
   * fit's (a probe that did not move from its start). Also printed on stderr.
   */
  warnings: z.array(z.string()).optional(),
});
export type ProbeSummary = z.infer<typeof PROBE_SUMMARY_SCHEMA>;

export const METRICS_SCHEMA = z
  .object({
    ...envelope(METRICS_FORMAT, METRICS_VERSION),
    ...PROBE_SUMMARY_SCHEMA.shape,
    model: z.string(),
    width: z.number().int().min(1),
    hidden: z.number().int().min(1),
    layers: z.array(id),
    task: z.string(),
    classes: z.array(z.string()),
    fit: FIT_INFO_SCHEMA.nullable(),
    train: CLASSIFICATION_METRICS_SCHEMA,
    valid: CLASSIFICATION_METRICS_SCHEMA,
    test: CLASSIFICATION_METRICS_SCHEMA,
    /** Every point of the λ grid (when the λs were tuned), with dev and test scores. */
    grid: z.array(GRID_POINT_SCHEMA).optional(),
  })
  .describe("codeneurons probe/metrics.json: the probe's metrics on train, valid and test, and the λ grid");
export type ProbeMetricsFile = z.infer<typeof METRICS_SCHEMA>;

const ordering = z.array(id);

export const RANKINGS_SCHEMA = z
  .object({
    ...envelope(RANKINGS_FORMAT, RANKINGS_VERSION),
    site: z.enum(SITES),
    width: z.number().int().min(1),
    hidden: z.number().int().min(1),
    /** Neurons ranked (the probe's inputs). */
    neurons: count,
    /** LCA ordering of the probe's weights (docs/DESIGN.md, "Rankings") and its cut-offs. */
    lca: z.object({ stride: z.number().int().min(1), ordering, cutoffs: z.array(count) }),
    /** The least important first: the baseline of the paper's ablations. */
    bottom: z.object({ stride: z.number().int().min(1), ordering }),
    topNeurons: z.object({
      percentage: z.number().gt(0).max(1),
      union: ordering,
      perClass: z.record(z.string(), ordering),
      names: z.record(z.string(), z.array(z.string())),
    }),
    /** Probeless ranking (class-mean differences) with each neuron's score, and per class. */
    probeless: z.object({ ordering, scores: z.array(z.number()), perClass: z.record(z.string(), ordering) }),
    random: z.object({ seed: count, ordering }),
  })
  .describe(
    "codeneurons probe/rankings.json: neuron orderings (LCA, bottom, top neurons, probeless, random)",
  );
export type RankingsFile = z.infer<typeof RANKINGS_SCHEMA>;
