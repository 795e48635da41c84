/**
 * The results of `codeneurons redundancy` (OUT/redundancy.json), documented in
 * docs/redundancy-results.md. Accuracies and reductions are fractions in [0, 1]. Every probe reports
 * dev (valid split) and test scores: the dev split decides (λs, layers, minimal sets, "best" rows), the
 * test split is what the tables show.
 *
 * Neuron ids are ids of the analysed site (`input.site`): layer × width + unit (docs/DESIGN.md), width being
 * the site's neurons per layer. For pair tasks, whose features are the concatenation [v(a); v(b)], the
 * second side's ids are offset by (maxLayer + 1) × width (see `input`).
 * Sets of neurons are written compactly: a layer list when a step keeps whole layers, sorted id
 * ranges ("0-767,800,802-900") for cluster representatives, and importance-ordered id lists only as
 * long as the longest set a search evaluated.
 *
 * The schemas below are the source of the TypeScript types and of docs/schemas/. Versions of
 * redundancy.json: 3 names the format `format: "codeneurons-redundancy"` (2 had `schema:
 * "codeneurons.redundancy"`) and moves what differs between runs (seconds, which steps came from the
 * cache) to OUT/run-record.json; 2 added `input.site` and `input.width` (version 1 is the hidden site).
 */
import { z } from "zod";
import { checkJson, envelope, readVersioned } from "../../util/json.js";
import { SITES } from "../../util/neurons.js";
import type { RunRecord } from "../../util/run-record.js";
import { consecutiveRuns } from "../../util/runs.js";
import { CLUSTER_SCOPES } from "../cluster.js";
import type { StepWork } from "./plan.js";

export const REDUNDANCY_FORMAT = "codeneurons-redundancy";
export const REDUNDANCY_VERSION = 3;
/** OUT/cka.json: the layer similarity of the cka step. */
export const CKA_FORMAT = "codeneurons-cka";
export const CKA_VERSION = 1;

export const STEP_NAMES = [
  "cka",
  "oracle",
  "independent",
  "incremental",
  "ls",
  "ccfs",
  "lslca",
  "cc",
  "lca",
  "probeless",
  "random",
  "control",
] as const;
export type StepName = (typeof STEP_NAMES)[number];

const count = z.number().int().min(0);
const fraction = z.number();
const layers = z.array(count);

/** Scores of a probe on one split. */
export const SCORES_SCHEMA = z.object({
  accuracy: fraction,
  macroF1: fraction,
  /** Binary tasks: F1 of the second class. */
  f1: fraction.optional(),
  /** Accuracy on each class's rows (= recall), by class name. */
  perClass: z.record(z.string(), fraction),
});
export type Scores = z.infer<typeof SCORES_SCHEMA>;

/** One trained probe. */
export const PROBE_RECORD_SCHEMA = z.object({
  neurons: count,
  lambda1: z.number().min(0),
  lambda2: z.number().min(0),
  dev: SCORES_SCHEMA,
  test: SCORES_SCHEMA,
  iterations: count,
  /** Started from the previous size's probe (settings.warmStarts); absent: from zero. */
  warmStart: z.literal(true).optional(),
});
export type ProbeRecord = z.infer<typeof PROBE_RECORD_SCHEMA>;

/** What every step has: the hash of its inputs (data fingerprint, settings, results it depends on). */
const STEP_INFO = { key: z.string() };

export const LAYER_SIMILARITY_SCHEMA = z.object({
  measure: z.literal("linear-cka"),
  estimator: z.literal("unbiased-hsic-minibatch"),
  layers,
  /** CKA values; null where a layer has no variance in the sampled tokens. */
  matrix: z.array(z.array(z.number().nullable())),
  tokens: count,
  batchSize: count,
  batches: count,
  seed: count,
});

export const CKA_FILE_SCHEMA = z
  .object({ ...envelope(CKA_FORMAT, CKA_VERSION), ...LAYER_SIMILARITY_SCHEMA.shape })
  .describe("codeneurons redundancy/cka.json: linear CKA between every pair of stored layers");
export type CkaFile = z.infer<typeof CKA_FILE_SCHEMA>;

const CKA_STEP_SCHEMA = z.object({
  ...STEP_INFO,
  /** The file the matrix is also written to, relative to the output directory. */
  file: z.string(),
  /** Over the task's training rows (both sides' rows for pairs). */
  similarity: LAYER_SIMILARITY_SCHEMA,
});

const ORACLE_SCHEMA = z.object({
  ...STEP_INFO,
  layers,
  probe: PROBE_RECORD_SCHEMA,
  /** How the λs were chosen: a grid on dev, or given. */
  tuning: z.enum(["grid", "fixed"]),
  /** Dev accuracy of every grid point (grid tuning only). */
  grid: z.array(z.object({ lambda1: z.number(), lambda2: z.number(), devAccuracy: fraction })).optional(),
  /** Accuracy of always predicting the most frequent training class. */
  interceptOnly: z.object({ dev: fraction, test: fraction }),
});

const LAYER_PROBE_SCHEMA = z.object({
  layer: count,
  /** 1 − probe.neurons / totalNeurons. */
  reduction: fraction,
  probe: PROBE_RECORD_SCHEMA,
});

const LAYERWISE_SCHEMA = z.object({
  ...STEP_INFO,
  /** independent: one entry per layer; incremental: entry i holds the probe on layers[0..i]. */
  layers: z.array(LAYER_PROBE_SCHEMA),
});

const LAYER_SELECTION_SCHEMA = z.object({
  delta: fraction,
  /** Dev accuracy the incremental probe had to exceed: oracle dev × (1 − δ). */
  target: fraction,
  /** The kept layers, a prefix of the stored layers. */
  layers,
  neurons: count,
  reduction: fraction,
  /** True when no prefix reached the target and all layers were kept. */
  fallback: z.boolean(),
  probe: PROBE_RECORD_SCHEMA,
});

const THRESHOLD_PROBE_SCHEMA = z.object({
  threshold: z.number(),
  clusters: count,
  /** Representatives kept (= clusters). */
  neurons: count,
  reduction: fraction,
  /** The representatives' neuron ids as sorted ranges. */
  ids: z.string(),
  probe: PROBE_RECORD_SCHEMA,
});

export const CLUSTERING_INFO_SCHEMA = z.object({
  /**
   * How the neurons were clustered (docs/clustering.md): "all", one exact tree over them (scipy's
   * clusters); "per-layer", an exact tree per layer, clusters never span layers; "per-layer-linked", an
   * exact tree per layer, then clusters of neighbouring layers joined when their average distance ≤ t.
   * "all" unless its distances exceed the memory bound.
   */
  scope: z.enum(CLUSTER_SCOPES),
  representative: z.enum(["random", "medoid"]),
  constantNeurons: count,
  note: z.string().optional(),
});
export type ClusteringInfo = z.infer<typeof CLUSTERING_INFO_SCHEMA>;

/** CCFS on one set of kept layers (several δ may keep the same layers). */
const CLUSTER_GROUP_SCHEMA = z.object({
  layers,
  deltas: z.array(fraction),
  /** Neurons before clustering. */
  neurons: count,
  clustering: CLUSTERING_INFO_SCHEMA,
  thresholds: z.array(THRESHOLD_PROBE_SCHEMA),
});

/** One retrained probe of a minimal-set search: the first `neurons` of an ordering. */
const SEARCH_POINT_SCHEMA = z.object({
  percentage: fraction,
  neurons: count,
  reduction: fraction,
  probe: PROBE_RECORD_SCHEMA,
});

const MINIMAL_SET_SCHEMA = z.object({
  neurons: count,
  /** The percentage that gave it, or null when no percentage reached the target (all base neurons). */
  percentage: fraction.nullable(),
  reduction: fraction,
  dev: SCORES_SCHEMA,
  test: SCORES_SCHEMA,
});

/**
 * A minimal-set search (Dalvi et al. 2020): retrain on the first ⌊p × total⌋ neurons of an ordering for
 * each p in turn; the first whose dev accuracy > target is the minimal set.
 */
const SEARCH_FIELDS = {
  /** Dev accuracy to exceed: base dev × (1 − neuron δ). */
  target: fraction,
  /** Neurons the ordering ranks, and the dev/test accuracy of the probe on all of them. */
  base: z.object({ neurons: count, dev: fraction, test: fraction }),
  points: z.array(SEARCH_POINT_SCHEMA),
  minimal: MINIMAL_SET_SCHEMA,
  /** Neuron ids in ordering order, as many as the largest evaluated point used. */
  ordering: z.array(count),
};
const SEARCH_SCHEMA = z.object(SEARCH_FIELDS);

const LSCC_LCA_RUN_SCHEMA = z.object({
  ...SEARCH_FIELDS,
  /** Clustering threshold of the base set, or null for the kept layers without clustering. */
  threshold: z.number().nullable(),
});

const LSCC_LCA_GROUP_SCHEMA = z.object({
  layers,
  deltas: z.array(fraction),
  runs: z.array(LSCC_LCA_RUN_SCHEMA),
});

const ORDERING_SEARCH_SCHEMA = z.object({
  ...STEP_INFO,
  ...SEARCH_FIELDS,
  kind: z.enum(["lca", "probeless", "random"]),
  neuronDelta: fraction,
  percentages: z.array(fraction),
  seed: count.optional(),
});

const CONTROL_SCHEMA = z.object({
  ...STEP_INFO,
  /** Where the control labels came from: the task's control/ files, or generated here. */
  source: z.string(),
  probe: PROBE_RECORD_SCHEMA,
  /** Real-task accuracy (oracle) minus control-task accuracy, with the same λs (probe/control.ts). */
  selectivity: z.object({ dev: z.number(), test: z.number() }),
});

export const STEP_RESULTS_SCHEMA = z.object({
  cka: CKA_STEP_SCHEMA.optional(),
  oracle: ORACLE_SCHEMA.optional(),
  independent: LAYERWISE_SCHEMA.optional(),
  incremental: LAYERWISE_SCHEMA.optional(),
  ls: z.object({ ...STEP_INFO, selections: z.array(LAYER_SELECTION_SCHEMA) }).optional(),
  ccfs: z.object({ ...STEP_INFO, groups: z.array(CLUSTER_GROUP_SCHEMA) }).optional(),
  lslca: z
    .object({
      ...STEP_INFO,
      neuronDelta: fraction,
      percentages: z.array(fraction),
      groups: z.array(LSCC_LCA_GROUP_SCHEMA),
    })
    .optional(),
  cc: z
    .object({
      ...STEP_INFO,
      layers,
      neurons: count,
      clustering: CLUSTERING_INFO_SCHEMA,
      thresholds: z.array(THRESHOLD_PROBE_SCHEMA),
    })
    .optional(),
  lca: ORDERING_SEARCH_SCHEMA.optional(),
  probeless: ORDERING_SEARCH_SCHEMA.optional(),
  random: ORDERING_SEARCH_SCHEMA.optional(),
  control: CONTROL_SCHEMA.optional(),
});
export type StepResults = z.infer<typeof STEP_RESULTS_SCHEMA>;
export type OracleResult = z.infer<typeof ORACLE_SCHEMA>;
export type LayerProbe = z.infer<typeof LAYER_PROBE_SCHEMA>;
export type LayerwiseResult = z.infer<typeof LAYERWISE_SCHEMA>;
export type LayerSelection = z.infer<typeof LAYER_SELECTION_SCHEMA>;
export type LayerSelectionResult = NonNullable<StepResults["ls"]>;
export type ThresholdProbe = z.infer<typeof THRESHOLD_PROBE_SCHEMA>;
export type ClusterGroupResult = z.infer<typeof CLUSTER_GROUP_SCHEMA>;
export type CcfsResult = NonNullable<StepResults["ccfs"]>;
export type CcResult = NonNullable<StepResults["cc"]>;
export type SearchPoint = z.infer<typeof SEARCH_POINT_SCHEMA>;
export type MinimalSet = z.infer<typeof MINIMAL_SET_SCHEMA>;
export type SearchResult = z.infer<typeof SEARCH_SCHEMA>;
export type LsccLcaRun = z.infer<typeof LSCC_LCA_RUN_SCHEMA>;
export type LsccLcaGroup = z.infer<typeof LSCC_LCA_GROUP_SCHEMA>;
export type LsccLcaResult = NonNullable<StepResults["lslca"]>;
export type OrderingSearchResult = z.infer<typeof ORDERING_SEARCH_SCHEMA>;
export type ControlResult = z.infer<typeof CONTROL_SCHEMA>;
export type CkaStepResult = z.infer<typeof CKA_STEP_SCHEMA>;

/** One row of the paper-style table. */
export const SUMMARY_ROW_SCHEMA = z.object({
  name: z.string(),
  neurons: count,
  /** Test accuracy. */
  accuracy: fraction,
  devAccuracy: fraction,
  reduction: fraction,
  layers: layers.optional(),
  /** The setting that gave this row, e.g. "δ=0.01, t=0.3". */
  detail: z.string().optional(),
});
export type SummaryRow = z.infer<typeof SUMMARY_ROW_SCHEMA>;

export const PIPELINE_SETTINGS_SCHEMA = z.object({
  seed: count,
  /** LayerSelector's allowed relative drops. */
  deltas: z.array(fraction),
  /** Minimal sets: allowed relative drop from the base probe (0.01). */
  neuronDelta: fraction,
  thresholds: z.array(z.number()),
  /** LS+CC+LCA percentages (of all neurons). */
  percentages: z.array(fraction),
  /** LCA, probeless and random percentages over all layers (the finer list). */
  finePercentages: z.array(fraction),
  /** "oracle": only the oracle is tuned on dev, every other probe uses its λs; "all": every probe. */
  tune: z.enum(["oracle", "all"]),
  /** Given λs: no tuning at all. */
  lambda1: z.number().min(0).optional(),
  lambda2: z.number().min(0).optional(),
  lambdaGrid: z.array(z.number().min(0)),
  patience: count,
  maxIter: count,
  /** Steps of weight mass of the LCA ordering (NeuroX's search_stride). */
  stride: z.number().int().min(1),
  representative: z.enum(["random", "medoid"]),
  /**
   * "until-target": a search stops at its minimal set (the paper), and the incremental layer-wise
   * probes at the first prefix LayerSelector keeps for the smallest δ; "all": every percentage and
   * every prefix (for plots).
   */
  curves: z.enum(["until-target", "all"]),
  /**
   * Minimal-set searches start each size's probe from the previous size's weights (zeros for the
   * added neurons) instead of from zero: fewer iterations on wide stores, slightly different
   * early-stopped probes. Absent: off (every probe from zero, as the paper).
   */
  warmStarts: z.boolean().optional(),
  ckaBatchSize: count,
});
export type PipelineSettings = z.infer<typeof PIPELINE_SETTINGS_SCHEMA>;

export const REDUNDANCY_INPUT_SCHEMA = z.object({
  store: z.string(),
  storeB: z.string().optional(),
  task: z.string(),
  kind: z.enum(["token", "sentence", "pair"]),
  model: z.string(),
  /** The neurons analysed: the residual stream ("hidden") or every block's MLP neurons ("mlp"). */
  site: z.enum(SITES),
  /** Neurons per layer of the site (the hidden or the intermediate size). */
  width: z.number().int().min(1),
  /** The model's hidden size. */
  hidden: z.number().int().min(1),
  /** The site's stored layers (the MLP site has no layer 0). */
  layers,
  /** 1, or 2 for pairs ([v(a); v(b)]). */
  sides: z.number().int().min(1).max(2),
  /** Offset of the second side's neuron ids (pairs only). */
  sideOffset: count.optional(),
  classes: z.array(z.string()),
  /** Where the control task's labels come from (null: the task has none). */
  control: z.string().nullable(),
  rows: z.object({ train: count, valid: count, test: count }),
  /** Hash of the store indexes (with their shard checksums) and the task files. */
  fingerprint: z.string(),
});
export type RedundancyInput = z.infer<typeof REDUNDANCY_INPUT_SCHEMA>;

export const REDUNDANCY_SCHEMA = z
  .object({
    ...envelope(REDUNDANCY_FORMAT, REDUNDANCY_VERSION),
    input: REDUNDANCY_INPUT_SCHEMA,
    settings: PIPELINE_SETTINGS_SCHEMA,
    /** All neurons of the stored layers (× 2 for pairs): the denominator of every reduction. */
    totalNeurons: count,
    steps: STEP_RESULTS_SCHEMA,
    summary: z.array(SUMMARY_ROW_SCHEMA),
    /** Steps left out, and why (e.g. control without a control task). */
    skipped: z.array(z.object({ step: z.enum(STEP_NAMES), reason: z.string() })),
  })
  .describe("codeneurons redundancy/redundancy.json: the redundancy pipeline's steps and summary table");
export type RedundancyResults = z.infer<typeof REDUNDANCY_SCHEMA>;

const LEGACY_NAME = "codeneurons.redundancy";

/** Version 2 (and 1): named by `schema`, with this invocation's `run` (seconds dropped on reading). */
const LEGACY_SCHEMA = z.object({
  schema: z.literal(LEGACY_NAME),
  version: z.union([z.literal(1), z.literal(2)]),
  input: REDUNDANCY_INPUT_SCHEMA.extend({
    // Version 1 (before sites) had neither: the hidden site, whose width is `hidden`.
    site: REDUNDANCY_INPUT_SCHEMA.shape.site.optional(),
    width: REDUNDANCY_INPUT_SCHEMA.shape.width.optional(),
  }),
  settings: PIPELINE_SETTINGS_SCHEMA,
  totalNeurons: count,
  steps: STEP_RESULTS_SCHEMA,
  summary: z.array(SUMMARY_ROW_SCHEMA),
  run: z.object({ skipped: z.array(z.object({ step: z.enum(STEP_NAMES), reason: z.string() })) }),
});

/**
 * Any version of redundancy.json, as the current version: version 2's `run` becomes `skipped` (its
 * timings and cache counts are of a run, not results), version 1's input gets the hidden site.
 */
export function parseRedundancyResults(value: unknown, file: string): RedundancyResults {
  const current = { format: REDUNDANCY_FORMAT, version: REDUNDANCY_VERSION } as const;
  const legacy = (v: unknown): RedundancyResults => {
    const { schema: _s, version: _v, run, input, ...rest } = checkJson(LEGACY_SCHEMA, v, file);
    const site = input.site ?? "hidden";
    return {
      ...current,
      input: { ...input, site, width: input.width ?? input.hidden },
      ...rest,
      skipped: run.skipped,
    };
  };
  return readVersioned(
    value,
    file,
    { ...current, legacyName: LEGACY_NAME },
    {
      1: legacy,
      2: legacy,
      3: (v) => checkJson(REDUNDANCY_SCHEMA, v, file),
    },
  );
}

/** What a run of the pipeline did, beyond its results: which steps were computed and how long they took. */
export type RedundancyRunDetails = {
  computed: StepName[];
  /** Steps read from the cache. */
  cached: StepName[];
  probesFitted: number;
  clusterings: number;
  /** What each computed step fitted and clustered, in the cost model's units (plan.ts StepWork). */
  work: Partial<Record<StepName, StepWork>>;
};

/** OUT/run-record.json of the pipeline: seconds (`total`, `load` and each computed step) and the details. */
export type RedundancyRecord = RunRecord & { details: RedundancyRunDetails };

/** Sorted, de-duplicated ids as ranges: [0,1,2,5,7,8] → "0-2,5,7-8". */
export function encodeIdRanges(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  return consecutiveRuns(sorted)
    .map(([first, end]) => (end - first === 1 ? String(first) : `${first}-${end - 1}`))
    .join(",");
}

/** Inverse of encodeIdRanges. */
export function decodeIdRanges(text: string): number[] {
  if (text.trim() === "") return [];
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`'${part}' is not an id or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`range '${part}' is empty`);
    for (let v = a; v <= b; v++) out.push(v);
  }
  return out;
}

/**
 * JSON text with objects indented but arrays of numbers or strings on one line, so that neuron lists
 * and matrices stay compact and the file stays readable.
 */
export function formatResultsJson(value: unknown): string {
  const walk = (v: unknown, indent: string): string | undefined => {
    if (v === undefined || typeof v === "function") return undefined;
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x !== "object")) return JSON.stringify(v);
      return `[\n${v.map((x) => `${inner}${walk(x, inner) ?? "null"}`).join(",\n")}\n${indent}]`;
    }
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      const text = walk(x, inner);
      if (text !== undefined) parts.push(`${inner}${JSON.stringify(k)}: ${text}`);
    }
    return parts.length === 0 ? "{}" : `{\n${parts.join(",\n")}\n${indent}}`;
  };
  return `${walk(value, "") ?? "null"}\n`;
}
