import { z } from "zod";
import { POPULATION_SCHEMA as CONCEPTS_POPULATION_SCHEMA } from "../concepts/format.js";
import { CONTROL_SCORES_SCHEMA, EVALUATIONS, SCORES_SCHEMA } from "../intervene/format.js";
import { envelope } from "../util/json.js";
import { SITES } from "../util/neurons.js";

/**
 * ReportData: everything the report shows, as plain JSON (<results-dir>/report-data.json). The report
 * is "declarative spec in, picture out": this file is the only input of `codeneurons report`, and each
 * section is optional so that a partial run still gives a partial report. Accuracies are fractions in
 * [0, 1]; the report shows them as percentages. Layers are model layer numbers: 0 = embeddings … L for
 * the residual stream, blocks 1 … L for MLP neurons (`site`).
 *
 * The schema below is the source of the TypeScript types and of
 * docs/schemas/codeneurons-report-data.schema.json; read.ts checks what the schema cannot say (lengths
 * that follow `layers`). Versions: 4 added `baseline` (the majority-class rate, control selectivity and
 * the warning when the oracle is not clearly above the majority rate), `classMetrics` (per-class
 * accuracy and confusion) and `populations` (which rows each statistic is over); 3 names the format
 * `format: "codeneurons-report-data"` (1 and 2 had `schema: "codeneurons.report-data"`); 2 added
 * `site` (version 1 is the residual stream).
 */
export const REPORT_FORMAT = "codeneurons-report-data";
export const REPORT_VERSION = 4;
export const REPORT_LEGACY_NAME = "codeneurons.report-data";

const accuracy = z.number().min(0).max(1);
const layer = z.number().int().min(0);
/** Layer numbers: at least one, none twice. */
const layerList = z
  .array(layer)
  .min(1, "expected at least one layer")
  .refine((ls) => new Set(ls).size === ls.length, "layers repeat");

export const LAYER_ACCURACY_SCHEMA = z.object({
  layers: layerList,
  /** Test accuracy of a probe on layer i alone. */
  independent: z.array(accuracy),
  /** Test accuracy of a probe on layers 0..i (null where not run). */
  incremental: z.array(accuracy.nullable()).optional(),
  /** Control-task accuracy of the per-layer probes (selectivity = independent − control). */
  control: z.array(accuracy.nullable()).optional(),
  /** Accuracy of the probe on all layers. */
  oracle: accuracy.optional(),
});

export const CKA_MATRIX_SCHEMA = z.object({
  layers: layerList,
  /**
   * matrix[i][j] = linear CKA between layers[i] and layers[j], in [0, 1]; estimators can stray slightly
   * outside, anything far outside is a wrong file.
   */
  matrix: z.array(z.array(z.number().min(-0.5).max(1.5))),
});

export const NEURON_CURVES_SCHEMA = z.object({
  /** Neurons the orderings rank (all neurons of the probed layers). */
  totalNeurons: z.number().int().min(1),
  oracle: accuracy.optional(),
  /** One curve per ordering, e.g. "LCA", "Probeless", "Random". */
  orderings: z.array(
    z.object({
      name: z.string(),
      points: z.array(z.object({ neurons: z.number().int().min(1), accuracy })),
    }),
  ),
});

export const REDUNDANCY_STEP_SCHEMA = z.object({
  step: z.string(),
  neurons: z.number().int().min(0),
  accuracy,
  /** Percentage of neurons removed relative to `totalNeurons` (0–100). */
  reduction: z.number().min(0).max(100),
  /** Layers kept, when the step selects layers. */
  layers: z.array(layer).optional(),
  /** e.g. "δ = 0.01, t = 0.3". */
  detail: z.string().optional(),
});

export const REDUNDANCY_SUMMARY_SCHEMA = z.object({
  totalNeurons: z.number().int().min(1),
  /** In display order: Oracle, LS, LS+CC+LCA, CC, LCA, Probeless, Control, … */
  steps: z.array(REDUNDANCY_STEP_SCHEMA),
});

export const LAYER_DISTRIBUTION_SCHEMA = z.object({
  layers: layerList,
  /** counts[i] = top neurons of the class in layers[i]. */
  classes: z.array(z.object({ name: z.string(), counts: z.array(z.number().int().min(0)) })),
  /** e.g. "LCA top neurons at 5% weight mass". */
  description: z.string().optional(),
});

export const CONCEPT_NEURON_EXAMPLE_SCHEMA = z.object({
  neuron: z.string(),
  concept: z.string(),
  /** "positive": the neuron's highest activations are on the concept (fires high); "negative": its lowest. */
  direction: z.string(),
  /** Share of its top word types that belong to the concept, in [0, 1]. */
  purity: z.number().min(0).max(1),
  pValue: z.number().min(0).max(1),
  words: z.array(z.string()),
});

export const CONCEPT_NEURON_COUNTS_SCHEMA = z.object({
  layers: layerList,
  concepts: z.array(z.object({ name: z.string(), byLayer: z.array(z.number().int().min(0)) })),
  /** The most significant concept neurons, shown as a table with their top words. */
  examples: z.array(CONCEPT_NEURON_EXAMPLE_SCHEMA).optional(),
});

/** A class's top neurons and their activations over some code lines (concepts.json `heatmaps`). */
export const NEURON_HEATMAP_SCHEMA = z.object({
  class: z.string(),
  neurons: z.array(
    z.object({
      id: z.number().int().min(0),
      name: z.string(),
      /**
       * The probe's weight of the neuron for the class: positive, the neuron fires high on the class;
       * negative, it fires low (LCA ranks by |weight|, so a class's top neurons have either sign).
       */
      weight: z.number().optional(),
    }),
  ),
  lines: z.array(
    z.object({
      sentence: z.number().int().min(0),
      words: z.array(z.string()),
      activations: z.array(z.array(z.number())),
    }),
  ),
});

const devTest = z.object({ dev: accuracy, test: accuracy });

/**
 * What every accuracy of the run is to be read against: the majority-class rate (always predicting
 * the most frequent training class) and the control task (Hewitt & Liang). When the oracle probe is
 * not clearly above the majority rate the neurons show no evidence of encoding the task, and the
 * report, the headline and run.json make no claim about how many neurons can go.
 */
export const BASELINE_SCHEMA = z.object({
  /** Rows of the dev (valid) and test splits the rates are over. */
  rows: z.object({ dev: z.number().int().min(0), test: z.number().int().min(0) }),
  /** Accuracy of always predicting the most frequent training class. */
  majority: devTest,
  /** Accuracy of the probe on all neurons. */
  oracle: devTest,
  /** The same probe's settings trained on the control task; null without a control step. */
  control: devTest.nullable(),
  /** oracle − control, as a fraction (0.25 = 25 points); null without a control step. */
  selectivity: z.object({ dev: z.number(), test: z.number() }).nullable(),
  /** How far above the majority rate the oracle must be, per split: two standard errors, at least 2 points. */
  margin: z.object({ dev: z.number().min(0), test: z.number().min(0) }),
  /** The oracle is above majority + margin on both splits: only then do reductions mean something. */
  clearlyAboveMajority: z.boolean(),
  /** Warnings for people, shown at the top of the report. */
  warnings: z.array(z.string()),
});

/** Per-class accuracy (recall), precision, F1 and the confusion matrix of one probe on one split. */
export const CLASS_METRICS_SECTION_SCHEMA = z.object({
  split: z.string(),
  /** Which probe: e.g. "oracle probe on all 1280 neurons (probe/metrics.json)". */
  probe: z.string(),
  classes: z.array(
    z.object({
      name: z.string(),
      support: z.number().int().min(0),
      /** Accuracy on the class's rows (= recall). */
      accuracy,
      precision: accuracy,
      f1: accuracy,
    }),
  ),
  /** confusion[true][predicted] in `classes` order. */
  confusion: z.array(z.array(z.number().int().min(0))),
});

/**
 * Interventions inside the model (intervention.json, trimmed to what the report shows): per class, the
 * model's own predictions unchanged, with each experiment's neurons changed, and with random neurons
 * of the same layers (mean and sd over `controls` sets).
 */
export const INTERVENTION_EXPERIMENT_SCHEMA = z.object({
  /** "top:STRING:10", "concept:STRING", or the neurons given. */
  label: z.string(),
  /** The class the neurons were chosen for (top:CLASS:K, concept:CLASS); null for a neuron list. */
  class: z.string().nullable(),
  neurons: z.number().int().min(1),
  after: SCORES_SCHEMA,
  controls: z.object({
    overall: CONTROL_SCORES_SCHEMA,
    perClass: z.record(z.string(), CONTROL_SCORES_SCHEMA),
  }),
});

export const INTERVENTION_SECTION_SCHEMA = z.object({
  evaluation: z.enum(EVALUATIONS),
  /** zero | mean | scale:K | set:V. */
  mode: z.string(),
  split: z.string(),
  /** Random neuron sets per experiment. */
  controls: z.number().int().min(0),
  classes: z.array(z.string()),
  baseline: SCORES_SCHEMA,
  experiments: z.array(INTERVENTION_EXPERIMENT_SCHEMA).min(1, "expected at least one experiment"),
  /** Index of the experiment the per-class table details (the run's headline experiment). */
  featured: z.number().int().min(0),
  /** The top-K neurons of one class for growing K: experiments[experiment] per K. */
  sweep: z
    .object({
      class: z.string(),
      points: z.array(z.object({ k: z.number().int().min(1), experiment: z.number().int().min(0) })),
    })
    .nullable(),
});

const share = z.number().min(0).max(1);

/**
 * Latent concepts (ConceptX, `codeneurons latent`): per layer, the share of Ward clusters aligned with
 * each family of code categories and with none, and a sample of clusters with their tokens in context.
 */
export const LATENT_SECTION_SCHEMA = z.object({
  /** Tokens clustered per layer and clusters per layer. */
  tokens: z.number().int().min(1),
  clusters: z.number().int().min(1),
  /** A cluster is aligned with a category when at least this share of its tokens has it. */
  theta: z.number().gt(0).max(1),
  /** The category families compared with, in latent.json's order. */
  families: z.array(z.string()),
  layers: z.array(
    z.object({
      layer,
      /** Per family: share of the layer's clusters aligned with some value of it. */
      aligned: z.array(z.object({ family: z.string(), share })),
      /** Share aligned with no category: the novel concepts. */
      novel: share,
    }),
  ),
  /** A few clusters of each layer: the largest aligned and the largest novel ones. */
  samples: z.array(
    z.object({
      layer,
      cluster: z.number().int().min(0),
      size: z.number().int().min(1),
      aligned: z.array(z.object({ family: z.string(), value: z.string(), share })),
      /** The cluster's distinct words, most frequent first. */
      words: z.array(z.object({ word: z.string(), count: z.number().int().min(1) })),
      /** Some of its tokens in their code lines (`position`: the token's word in `words`). */
      contexts: z.array(
        z.object({
          sentence: z.number().int().min(0),
          position: z.number().int().min(0),
          words: z.array(z.string()),
        }),
      ),
      /** The neurons most active on the cluster (names). */
      neurons: z.array(z.string()),
    }),
  ),
});

/** Every section; optional so that a partial run still gives a partial report. */
export const REPORT_SECTIONS = {
  /** Which neurons the figures and names are of (absent: the residual stream, "hidden"). */
  site: z.enum(SITES).optional(),
  /** Shown as the page title; default "<model> · <task>". */
  title: z.string().optional(),
  model: z.string(),
  task: z.string(),
  /** ISO date of the run, shown under the title. */
  createdAt: z.string().optional(),
  /** Free-text lines shown under the title (settings, seeds, data sizes). */
  notes: z.array(z.string()).optional(),
  layerAccuracy: LAYER_ACCURACY_SCHEMA.optional(),
  cka: CKA_MATRIX_SCHEMA.optional(),
  neuronCurves: NEURON_CURVES_SCHEMA.optional(),
  redundancy: REDUNDANCY_SUMMARY_SCHEMA.optional(),
  layerDistribution: LAYER_DISTRIBUTION_SCHEMA.optional(),
  conceptNeurons: CONCEPT_NEURON_COUNTS_SCHEMA.optional(),
  heatmaps: z.array(NEURON_HEATMAP_SCHEMA).optional(),
  baseline: BASELINE_SCHEMA.optional(),
  classMetrics: CLASS_METRICS_SECTION_SCHEMA.optional(),
  latent: LATENT_SECTION_SCHEMA.optional(),
  /**
   * The rows of the concept statistics (top words, purity, class means): `concepts`, from
   * concepts.json's population (the task's tokens for `codeneurons run`).
   */
  populations: z.object({ concepts: CONCEPTS_POPULATION_SCHEMA.optional() }).optional(),
  intervention: INTERVENTION_SECTION_SCHEMA.optional(),
};

export const REPORT_DATA_SCHEMA = z
  .object({ ...envelope(REPORT_FORMAT, REPORT_VERSION), ...REPORT_SECTIONS })
  .describe("codeneurons report-data.json: the input of the report (every figure's numbers)");

export type ReportData = z.infer<typeof REPORT_DATA_SCHEMA>;
export type LayerAccuracy = z.infer<typeof LAYER_ACCURACY_SCHEMA>;
export type CkaMatrix = z.infer<typeof CKA_MATRIX_SCHEMA>;
export type NeuronCurves = z.infer<typeof NEURON_CURVES_SCHEMA>;
export type RedundancySummary = z.infer<typeof REDUNDANCY_SUMMARY_SCHEMA>;
export type RedundancyStep = z.infer<typeof REDUNDANCY_STEP_SCHEMA>;
export type LayerDistribution = z.infer<typeof LAYER_DISTRIBUTION_SCHEMA>;
export type ConceptNeuronCounts = z.infer<typeof CONCEPT_NEURON_COUNTS_SCHEMA>;
export type ConceptNeuronExample = z.infer<typeof CONCEPT_NEURON_EXAMPLE_SCHEMA>;
export type NeuronHeatmap = z.infer<typeof NEURON_HEATMAP_SCHEMA>;
export type Baseline = z.infer<typeof BASELINE_SCHEMA>;
export type ClassMetricsSection = z.infer<typeof CLASS_METRICS_SECTION_SCHEMA>;
export type LatentSection = z.infer<typeof LATENT_SECTION_SCHEMA>;
export type { ConceptsPopulation as Population } from "../concepts/format.js";
export type InterventionSection = z.infer<typeof INTERVENTION_SECTION_SCHEMA>;
export type InterventionExperiment = z.infer<typeof INTERVENTION_EXPERIMENT_SCHEMA>;
