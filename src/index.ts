/**
 * codeneurons as a library. Each stage is a namespace (data → model → extract/store → probe/rank →
 * redundancy → concepts → report), and the most used entry points are also exported by name.
 *
 *   import { loadModel, extractActivations, openActivationModel, ActivationStore, LogisticProbe } from "codeneurons";
 */
export * as concepts from "./concepts/index.js";
export * as data from "./data/index.js";
export { type ExtractOptions, type ExtractResult, extractActivations } from "./extract/extract.js";
export { openActivationModel } from "./extract/model.js";
export type { ActivationModel } from "./extract/types.js";
export { DesignMatrix } from "./linalg/design.js";
export { gram, matmul, matmulTransA, matmulTransB } from "./linalg/products.js";
export { Standardizer } from "./linalg/standardize.js";
export { type ModelConfig, readModelConfig, SUPPORTED_MODEL_TYPES } from "./model/config.js";
export { resolveModelDir } from "./model/hub.js";
export { type LoadedModel, loadModel } from "./model/load.js";
export { TransformerRunner } from "./model/runner.js";
export { loadTokenizer, type WordTokenizer } from "./model/tokenizer/index.js";
export { loadCheckpointWeights, openCheckpoint } from "./model/weights/index.js";
export * as probe from "./probe/index.js";
export { gridSearch, LinearRegressionProbe, LogisticProbe } from "./probe/index.js";
export * as rank from "./rank/index.js";
export { neuronOrdering, probelessRanking, topNeurons } from "./rank/index.js";
export * as redundancy from "./redundancy/index.js";
export { clusterNeurons, linearCKA } from "./redundancy/index.js";
export { type PipelineOptions, runRedundancyPipeline } from "./redundancy/pipeline/pipeline.js";
export type { RedundancyResults } from "./redundancy/pipeline/results.js";
export { reportSectionsFromRedundancy } from "./report/from-redundancy.js";
export * as report from "./report/index.js";
export * as store from "./store/index.js";
export { ActivationStore, openSplitStores } from "./store/index.js";
export { InputError, UserError } from "./util/errors.js";
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
