export { type AnalyzeOptions, analyzeConcepts } from "./analyze.js";
export {
  type Concept,
  conceptFromPattern,
  conceptFromWords,
  conceptScanner,
  conceptsFromClasses,
  hypergeometricTail,
  LEXICAL_PATTERNS,
} from "./concept-neurons.js";
export * from "./format.js";
export { memorySource } from "./memory-source.js";
export { type StoreCorpusRows, storeCorpusRows } from "./rows.js";
export { type ConceptsSummary, conceptsSummary, formatConceptsSummary } from "./summary.js";
export {
  layerDistribution,
  layersOf,
  type TopNeurons,
  topNeuronsPerClass,
} from "./top-neurons.js";
export {
  meanStd,
  summarizeColumn,
  type TopWordsOptions,
  topTypes,
  topWords,
} from "./top-words.js";
export type * from "./types.js";
export { type WordTypes, wordTypes } from "./word-types.js";
