/** Task-agnostic redundancy analysis: layer similarity (CKA) and neuron correlation clustering. */
export {
  type CKAOptions,
  type LayerSimilarity,
  linearCKA,
  linearCKAFromBatches,
  sampleBatches,
} from "./cka.js";
export {
  CLUSTER_SCOPES,
  type ClusterGroup,
  type ClusterOptions,
  type ClusterScope,
  clusteringMemoryBytes,
  clusterNeurons,
  DEFAULT_THRESHOLDS,
  defaultMaxMemoryBytes,
  MAX_CLUSTER_NEURONS,
  type NeuronClusters,
  perLayerMemoryBytes,
  type ThresholdClusters,
} from "./cluster.js";
export { clusterMembers, cutTree, maxHeights } from "./cut.js";
export {
  averageLinkage,
  averageLinkageSquare,
  inferN,
  type LinkageOptions,
  type LinkageTree,
  linkageMatrix,
  treeFromLinkageMatrix,
} from "./linkage.js";
export {
  DEFAULT_SETTINGS,
  FINE_PERCENTAGES,
  PAPER_PERCENTAGES,
  type PipelineOptions,
  parseSteps,
  runRedundancyForSites,
  runRedundancyPipeline,
  type SiteChoice,
  sitesOf,
} from "./pipeline/pipeline.js";
export * from "./pipeline/results.js";
export { formatSummary, summarize } from "./pipeline/summary.js";
export { medoidRepresentatives, type RepresentativeRule, randomRepresentatives } from "./representatives.js";
