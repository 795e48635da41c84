/**
 * codeneurons as a library. Each stage is a function in its own folder, exported here by name
 * (label → task → extract → probe → redundancy → concepts → latent → report); each folder is also a
 * namespace (data, probe, rank, redundancy, concepts, latent, report, store) with its building blocks.
 *
 *   import { runLabel, runTokenTaggingTask, extractActivations, runProbe, runRedundancyPipeline,
 *            runConcepts, runLatent, writeReportForResults } from "codeneurons";
 *
 * Every JSON file a stage writes has a `format` and `version`, a TypeScript type exported below, and a
 * schema in FILE_FORMATS (published as JSON Schema in docs/schemas/, see docs/DESIGN.md). The files of
 * `codeneurons run` itself (run.json, its config) are run/format.ts's and run/config.ts's.
 */
import {
  COMPRESSED_CARD_SCHEMA,
  COMPRESSED_FORMAT,
  COMPRESSED_VERSION,
  PREDICTIONS_FORMAT,
  PREDICTIONS_SCHEMA,
  PREDICTIONS_VERSION,
} from "./compress/format.js";
import { CONCEPTS_FORMAT, CONCEPTS_SCHEMA, CONCEPTS_VERSION } from "./concepts/format.js";
import { SENTENCE_TASK_FORMAT, SENTENCE_TASK_SCHEMA, SENTENCE_TASK_VERSION } from "./data/sentence/index.js";
import { LABELS_META_FORMAT, LABELS_META_SCHEMA, LABELS_META_VERSION } from "./data/stage.js";
import {
  TASK_SUMMARY_FORMAT,
  TASK_SUMMARY_SCHEMA,
  TASK_SUMMARY_VERSION,
  WORD_LISTS_FORMAT,
  WORD_LISTS_SCHEMA,
  WORD_LISTS_VERSION,
} from "./data/task/format.js";
import { INTERVENTION_FORMAT, INTERVENTION_SCHEMA, INTERVENTION_VERSION } from "./intervene/format.js";
import { LATENT_FORMAT, LATENT_SCHEMA, LATENT_VERSION } from "./latent/format.js";
import {
  METRICS_FORMAT,
  METRICS_SCHEMA,
  METRICS_VERSION,
  PROBE_FORMAT,
  PROBE_SCHEMA,
  PROBE_VERSION,
  RANKINGS_FORMAT,
  RANKINGS_SCHEMA,
  RANKINGS_VERSION,
} from "./probe/format.js";
import {
  CKA_FILE_SCHEMA,
  CKA_FORMAT,
  CKA_VERSION,
  REDUNDANCY_FORMAT,
  REDUNDANCY_SCHEMA,
  REDUNDANCY_VERSION,
} from "./redundancy/pipeline/results.js";
import { REPORT_DATA_SCHEMA, REPORT_FORMAT, REPORT_VERSION } from "./report/types.js";
import {
  SHARD_RECORD_FILE_SCHEMA,
  SHARD_RECORD_FORMAT,
  SHARD_RECORD_VERSION,
  STORE_FORMAT,
  STORE_INDEX_SCHEMA,
  STORE_PLAN_SCHEMA,
  STORE_VERSION,
  WORDS_RECORD_FORMAT,
  WORDS_RECORD_SCHEMA,
  WORDS_RECORD_VERSION,
} from "./store/format.js";
import { RUN_RECORD_FORMAT, RUN_RECORD_SCHEMA, RUN_RECORD_VERSION } from "./util/run-record.js";

export type { CompressedCard, PredictionsFile, SetName } from "./compress/format.js";
export { type CompressedModel, openCompressedModel } from "./compress/model.js";
export { type PredictOptions, type PredictResult, runPredict, scoreSentences } from "./compress/predict.js";
export { compareWithFullModel, compressWithSpeed, type SpeedComparison } from "./compress/speed.js";
export { type CompressOptions, type CompressResult, runCompress } from "./compress/stage.js";
// The files the stages write: their types (schemas in FILE_FORMATS below).
export type { ConceptsResult } from "./concepts/format.js";
// Namespaces and building blocks.
export * as concepts from "./concepts/index.js";
export { type ConceptsStageOptions, type ConceptsStageResult, runConcepts } from "./concepts/stage.js";
export * as data from "./data/index.js";
export type { LabelsMeta } from "./data/stage.js";
// Stages, in the order data flows.
export { formatLabelSummary, type LabelStageOptions, runLabel } from "./data/stage.js";
export type { TaskSummary, WordListsFile } from "./data/task/format.js";
export { runBinaryTask, runTokenTaggingTask, type TaskStageInput } from "./data/task/stage.js";
export { type ExtractOptions, type ExtractResult, extractActivations } from "./extract/extract.js";
export { openActivationModel } from "./extract/model.js";
export type { ActivationModel } from "./extract/types.js";
export type { InterventionResults } from "./intervene/format.js";
export {
  type InterventionStageOptions,
  runInterventionStage,
} from "./intervene/stage.js";
export type { LatentResult } from "./latent/format.js";
export * as latent from "./latent/index.js";
export { type LatentStageOptions, type LatentStageResult, runLatent } from "./latent/stage.js";
export { DesignMatrix } from "./linalg/design.js";
export { gram, matmul, matmulTransA, matmulTransB } from "./linalg/products.js";
export { Standardizer } from "./linalg/standardize.js";
export { type ModelConfig, readModelConfig, SUPPORTED_MODEL_TYPES } from "./model/config.js";
export { resolveModelDir } from "./model/hub.js";
export { compileInterventions, type InterventionSpec } from "./model/intervention.js";
export { type LoadedModel, loadModel } from "./model/load.js";
export { TransformerRunner } from "./model/runner.js";
export { loadTokenizer, type WordTokenizer } from "./model/tokenizer/index.js";
export { loadCheckpointWeights, openCheckpoint } from "./model/weights/index.js";
export type { ProbeFile, ProbeMetricsFile, RankingsFile } from "./probe/format.js";
export * as probe from "./probe/index.js";
export { gridSearch, LinearRegressionProbe, LogisticProbe } from "./probe/index.js";
export { type FittedProbe, type ProbeStageOptions, type ProbeStageResult, runProbe } from "./probe/stage.js";
export * as rank from "./rank/index.js";
export { neuronOrdering, probelessRanking, topNeurons } from "./rank/index.js";
export * as redundancy from "./redundancy/index.js";
export { clusterNeurons, linearCKA } from "./redundancy/index.js";
export {
  type PipelineOptions,
  type RedundancyRun,
  runRedundancyForSites,
  runRedundancyPipeline,
} from "./redundancy/pipeline/pipeline.js";
export type { CkaFile, RedundancyRecord, RedundancyResults } from "./redundancy/pipeline/results.js";
export { reportSectionsFromRedundancy } from "./report/from-redundancy.js";
export * as report from "./report/index.js";
export { readReportData, writeReport, writeReportForResults } from "./report/index.js";
export type { ReportData } from "./report/types.js";
export type { ShardRecord, StoreIndex, StorePlan } from "./store/format.js";
export * as store from "./store/index.js";
export { ActivationStore, openSplitStores } from "./store/index.js";
export { InputError, UserError } from "./util/errors.js";
export { checkJson, readJsonFile } from "./util/json.js";
export { type Matrix, matrix } from "./util/matrix.js";
export {
  type NeuronSpace,
  neuronId,
  neuronLayer,
  neuronName,
  neuronSpace,
  parseNeuronName,
  type SpaceLike,
} from "./util/neurons.js";
export type { RunRecord } from "./util/run-record.js";

/**
 * Every JSON file format codeneurons writes: its name, current version, where it is written and its
 * schema (zod). scripts/json-schemas.ts writes each as docs/schemas/<name>.schema.json; a test checks
 * that those files are up to date and that the demo's files satisfy them.
 */
export const FILE_FORMATS = [
  {
    name: STORE_FORMAT,
    format: STORE_FORMAT,
    version: STORE_VERSION,
    file: "<store>/index.json",
    schema: STORE_INDEX_SCHEMA,
  },
  {
    name: `${STORE_FORMAT}-plan`,
    format: STORE_FORMAT,
    version: STORE_VERSION,
    file: "<store>/plan.json",
    schema: STORE_PLAN_SCHEMA,
  },
  {
    name: SHARD_RECORD_FORMAT,
    format: SHARD_RECORD_FORMAT,
    version: SHARD_RECORD_VERSION,
    file: "<store>/shards/NNNNN.json",
    schema: SHARD_RECORD_FILE_SCHEMA,
  },
  {
    name: WORDS_RECORD_FORMAT,
    format: WORDS_RECORD_FORMAT,
    version: WORDS_RECORD_VERSION,
    file: "<store>/words.json",
    schema: WORDS_RECORD_SCHEMA,
  },
  {
    name: LABELS_META_FORMAT,
    format: LABELS_META_FORMAT,
    version: LABELS_META_VERSION,
    file: "PREFIX.meta.json",
    schema: LABELS_META_SCHEMA,
  },
  {
    name: TASK_SUMMARY_FORMAT,
    format: TASK_SUMMARY_FORMAT,
    version: TASK_SUMMARY_VERSION,
    file: "<task>/summary.json",
    schema: TASK_SUMMARY_SCHEMA,
  },
  {
    name: SENTENCE_TASK_FORMAT,
    format: SENTENCE_TASK_FORMAT,
    version: SENTENCE_TASK_VERSION,
    file: "<task>/summary.json (sentence-level)",
    schema: SENTENCE_TASK_SCHEMA,
  },
  {
    name: WORD_LISTS_FORMAT,
    format: WORD_LISTS_FORMAT,
    version: WORD_LISTS_VERSION,
    file: "<task>/wordlists.json",
    schema: WORD_LISTS_SCHEMA,
  },
  {
    name: PROBE_FORMAT,
    format: PROBE_FORMAT,
    version: PROBE_VERSION,
    file: "probe.json",
    schema: PROBE_SCHEMA,
  },
  {
    name: METRICS_FORMAT,
    format: METRICS_FORMAT,
    version: METRICS_VERSION,
    file: "metrics.json",
    schema: METRICS_SCHEMA,
  },
  {
    name: RANKINGS_FORMAT,
    format: RANKINGS_FORMAT,
    version: RANKINGS_VERSION,
    file: "rankings.json",
    schema: RANKINGS_SCHEMA,
  },
  {
    name: REDUNDANCY_FORMAT,
    format: REDUNDANCY_FORMAT,
    version: REDUNDANCY_VERSION,
    file: "redundancy.json",
    schema: REDUNDANCY_SCHEMA,
  },
  { name: CKA_FORMAT, format: CKA_FORMAT, version: CKA_VERSION, file: "cka.json", schema: CKA_FILE_SCHEMA },
  {
    name: CONCEPTS_FORMAT,
    format: CONCEPTS_FORMAT,
    version: CONCEPTS_VERSION,
    file: "concepts.json",
    schema: CONCEPTS_SCHEMA,
  },
  {
    name: INTERVENTION_FORMAT,
    format: INTERVENTION_FORMAT,
    version: INTERVENTION_VERSION,
    file: "intervention.json",
    schema: INTERVENTION_SCHEMA,
  },
  {
    name: COMPRESSED_FORMAT,
    format: COMPRESSED_FORMAT,
    version: COMPRESSED_VERSION,
    file: "<compressed>/card.json",
    schema: COMPRESSED_CARD_SCHEMA,
  },
  {
    name: PREDICTIONS_FORMAT,
    format: PREDICTIONS_FORMAT,
    version: PREDICTIONS_VERSION,
    file: "predict --format json",
    schema: PREDICTIONS_SCHEMA,
  },
  {
    name: LATENT_FORMAT,
    format: LATENT_FORMAT,
    version: LATENT_VERSION,
    file: "latent.json",
    schema: LATENT_SCHEMA,
  },
  {
    name: REPORT_FORMAT,
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    file: "report-data.json",
    schema: REPORT_DATA_SCHEMA,
  },
  {
    name: RUN_RECORD_FORMAT,
    format: RUN_RECORD_FORMAT,
    version: RUN_RECORD_VERSION,
    file: "run-record.json",
    schema: RUN_RECORD_SCHEMA,
  },
] as const;
