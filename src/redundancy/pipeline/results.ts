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
 */
import type { Site } from "../../store/format.js";
import type { LayerSimilarity } from "../cka.js";

export const REDUNDANCY_SCHEMA = "codeneurons.redundancy";
/** 2: `input.site` and `input.width` (ids are of that site); version 1 results are of the hidden site. */
export const REDUNDANCY_VERSION = 2;

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

/** Scores of a probe on one split. */
export interface Scores {
  accuracy: number;
  macroF1: number;
  /** Binary tasks: F1 of the second class. */
  f1?: number;
  /** Accuracy on each class's rows (= recall), by class name. */
  perClass: Record<string, number>;
}

/** One trained probe. */
export interface ProbeRecord {
  neurons: number;
  lambda1: number;
  lambda2: number;
  dev: Scores;
  test: Scores;
  iterations: number;
  seconds: number;
}

export interface StepInfo {
  /** Seconds the step took when it was computed (not when it was read from the cache). */
  seconds: number;
  /** Hash of the step's inputs: data fingerprint, settings, results of the steps it depends on. */
  key: string;
}

export interface OracleResult extends StepInfo {
  layers: number[];
  probe: ProbeRecord;
  /** How the λs were chosen: a grid on dev, or given. */
  tuning: "grid" | "fixed";
  /** Dev accuracy of every grid point (grid tuning only). */
  grid?: { lambda1: number; lambda2: number; devAccuracy: number }[];
  /** Accuracy of always predicting the most frequent training class. */
  interceptOnly: { dev: number; test: number };
}

export interface LayerProbe {
  layer: number;
  /** 1 − probe.neurons / totalNeurons. */
  reduction: number;
  probe: ProbeRecord;
}

export interface LayerwiseResult extends StepInfo {
  /** independent: one entry per layer; incremental: entry i holds the probe on layers[0..i]. */
  layers: LayerProbe[];
}

export interface LayerSelection {
  delta: number;
  /** Dev accuracy the incremental probe had to exceed: oracle dev × (1 − δ). */
  target: number;
  /** The kept layers, a prefix of the stored layers. */
  layers: number[];
  neurons: number;
  reduction: number;
  /** True when no prefix reached the target and all layers were kept. */
  fallback: boolean;
  probe: ProbeRecord;
}

export interface LayerSelectionResult extends StepInfo {
  selections: LayerSelection[];
}

export interface ThresholdProbe {
  threshold: number;
  clusters: number;
  /** Representatives kept (= clusters). */
  neurons: number;
  reduction: number;
  /** The representatives' neuron ids as sorted ranges. */
  ids: string;
  probe: ProbeRecord;
}

export interface ClusteringInfo {
  /** "all": one tree over the neurons; "per-layer": clusters never span layers (memory bound). */
  scope: "all" | "per-layer";
  representative: "random" | "medoid";
  constantNeurons: number;
  note?: string;
}

/** CCFS on one set of kept layers (several δ may keep the same layers). */
export interface ClusterGroupResult {
  layers: number[];
  deltas: number[];
  /** Neurons before clustering. */
  neurons: number;
  clustering: ClusteringInfo;
  thresholds: ThresholdProbe[];
}

export interface CcfsResult extends StepInfo {
  groups: ClusterGroupResult[];
}

export interface CcResult extends StepInfo {
  layers: number[];
  neurons: number;
  clustering: ClusteringInfo;
  thresholds: ThresholdProbe[];
}

/** One retrained probe of a minimal-set search: the first `neurons` of an ordering. */
export interface SearchPoint {
  percentage: number;
  neurons: number;
  reduction: number;
  probe: ProbeRecord;
}

export interface MinimalSet {
  neurons: number;
  /** The percentage that gave it, or null when no percentage reached the target (all base neurons). */
  percentage: number | null;
  reduction: number;
  dev: Scores;
  test: Scores;
}

/**
 * A minimal-set search (Dalvi et al. 2020): retrain on the first ⌊p × total⌋ neurons of an ordering for
 * each p in turn; the first whose dev accuracy > target is the minimal set.
 */
export interface SearchResult {
  /** Dev accuracy to exceed: base dev × (1 − neuron δ). */
  target: number;
  /** Neurons the ordering ranks, and the dev/test accuracy of the probe on all of them. */
  base: { neurons: number; dev: number; test: number };
  points: SearchPoint[];
  minimal: MinimalSet;
  /** Neuron ids in ordering order, as many as the largest evaluated point used. */
  ordering: number[];
}

export interface LsccLcaRun extends SearchResult {
  /** Clustering threshold of the base set, or null for the kept layers without clustering. */
  threshold: number | null;
}

export interface LsccLcaGroup {
  layers: number[];
  deltas: number[];
  runs: LsccLcaRun[];
}

export interface LsccLcaResult extends StepInfo {
  neuronDelta: number;
  percentages: number[];
  groups: LsccLcaGroup[];
}

export interface OrderingSearchResult extends StepInfo, SearchResult {
  kind: "lca" | "probeless" | "random";
  neuronDelta: number;
  percentages: number[];
  seed?: number;
}

export interface ControlResult extends StepInfo {
  /** Where the control labels came from: the task's control/ files, or generated here. */
  source: string;
  probe: ProbeRecord;
  /** Real-task accuracy (oracle) minus control-task accuracy, with the same λs. */
  selectivity: { dev: number; test: number };
}

export interface CkaStepResult extends StepInfo {
  /** The file the matrix is also written to, relative to the output directory. */
  file: string;
  /** Over the task's training rows (both sides' rows for pairs). */
  similarity: LayerSimilarity;
}

export interface StepResults {
  cka?: CkaStepResult;
  oracle?: OracleResult;
  independent?: LayerwiseResult;
  incremental?: LayerwiseResult;
  ls?: LayerSelectionResult;
  ccfs?: CcfsResult;
  lslca?: LsccLcaResult;
  cc?: CcResult;
  lca?: OrderingSearchResult;
  probeless?: OrderingSearchResult;
  random?: OrderingSearchResult;
  control?: ControlResult;
}

/** One row of the paper-style table. */
export interface SummaryRow {
  name: string;
  neurons: number;
  /** Test accuracy. */
  accuracy: number;
  devAccuracy: number;
  reduction: number;
  layers?: number[];
  /** The setting that gave this row, e.g. "δ=0.01, t=0.3". */
  detail?: string;
}

export interface PipelineSettings {
  seed: number;
  /** LayerSelector's allowed relative drops. */
  deltas: number[];
  /** Minimal sets: allowed relative drop from the base probe (0.01). */
  neuronDelta: number;
  thresholds: number[];
  /** LS+CC+LCA percentages (of all neurons). */
  percentages: number[];
  /** LCA, probeless and random percentages over all layers (the finer list). */
  finePercentages: number[];
  /** "oracle": only the oracle is tuned on dev, every other probe uses its λs; "all": every probe. */
  tune: "oracle" | "all";
  /** Given λs: no tuning at all. */
  lambda1?: number;
  lambda2?: number;
  lambdaGrid: number[];
  patience: number;
  maxIter: number;
  /** Steps of weight mass of the LCA ordering (NeuroX's search_stride). */
  stride: number;
  representative: "random" | "medoid";
  /** "until-target": a search stops at its minimal set (the paper); "all": every percentage. */
  curves: "until-target" | "all";
  ckaBatchSize: number;
}

export interface RedundancyInput {
  store: string;
  storeB?: string;
  task: string;
  kind: "token" | "sentence" | "pair";
  model: string;
  /** The neurons analysed: the residual stream ("hidden") or every block's MLP neurons ("mlp"). */
  site: Site;
  /** Neurons per layer of the site (the hidden or the intermediate size). */
  width: number;
  /** The model's hidden size. */
  hidden: number;
  /** The site's stored layers (the MLP site has no layer 0). */
  layers: number[];
  /** 1, or 2 for pairs ([v(a); v(b)]). */
  sides: number;
  /** Offset of the second side's neuron ids (pairs only). */
  sideOffset?: number;
  classes: string[];
  /** Where the control task's labels come from (null: the task has none). */
  control: string | null;
  rows: { train: number; valid: number; test: number };
  /** Hash of the store indexes (with their shard checksums) and the task files. */
  fingerprint: string;
}

export interface RedundancyResults {
  schema: typeof REDUNDANCY_SCHEMA;
  version: typeof REDUNDANCY_VERSION;
  input: RedundancyInput;
  settings: PipelineSettings;
  /** All neurons of the stored layers (× 2 for pairs): the denominator of every reduction. */
  totalNeurons: number;
  steps: StepResults;
  summary: SummaryRow[];
  /** This invocation: which steps were computed and which read from the cache. */
  run: {
    computed: StepName[];
    cached: StepName[];
    /** Steps left out, and why (e.g. control without a control task). */
    skipped: { step: StepName; reason: string }[];
    probesFitted: number;
    clusterings: number;
    /** Seconds spent reading the activations (0 when every step came from the cache). */
    loadSeconds: number;
    seconds: number;
  };
}

/** Sorted, de-duplicated ids as ranges: [0,1,2,5,7,8] → "0-2,5,7-8". */
export function encodeIdRanges(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
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
