export { ablate, ablatedProbe, type RetrainResult, retrainOn } from "./ablation.js";
export {
  type ControlFit,
  type ControlSettings,
  controlClasses,
  fitControlProbe,
  selectivityOf,
} from "./control.js";
export * from "./format.js";
export {
  chooseBest,
  type GridPoint,
  type GridSearchOptions,
  type GridSearchResult,
  gridSearch,
  LAMBDA_GRID,
} from "./grid.js";
export { loadProbe, type Probe, parseProbe, saveProbe } from "./io.js";
export { type EncodedLabels, encodeLabels, type Labels } from "./labels.js";
export { type FitInfo, LinearModel, type ProbeInput, type ProbeOptions } from "./linear-model.js";
export { argmaxRows, type LabeledSplit, type LogisticFitOptions, LogisticProbe } from "./logistic.js";
export { blockAccuracy, type LossFunction, SoftmaxCrossEntropy, SquaredError } from "./loss.js";
export {
  type ClassificationMetrics,
  type ClassMetrics,
  classificationMetrics,
  confusionMatrix,
  interceptOnlyAccuracy,
  type RegressionMetrics,
  regressionMetrics,
  selectivity,
} from "./metrics.js";
export {
  type DevSet,
  evaluateWeights,
  type LbfgsMemory,
  type PassCount,
  type Penalty,
  type SolveOptions,
  type SolveProblem,
  type SolveResult,
  type StopReason,
  solveBatch,
  type WarmStart,
} from "./owlqn.js";
export { LinearRegressionProbe, type RegressionSplit } from "./regression.js";
