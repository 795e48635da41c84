/**
 * The data stage: code → labelled tokens (.in/.label), probing tasks with lexical controls (TSV),
 * control tasks, binary concept tasks, sentence-level CodeXGLUE tasks.
 */
export { decodeToken, encodeToken, hasBlank } from "./escape.js";
export {
  type LabelledCorpus,
  type LabelledPaths,
  labelCounts,
  labelledPaths,
  parseLabelled,
  parseSentences,
  readLabelled,
  readSentences,
  writeLabelled,
} from "./io.js";
export { type JavaLabelOptions, javaTokenLabel, labelJavaSource, labelJavaTokenLines } from "./java/label.js";
export { JavaLexError, type JavaToken, type JavaTokenKind, lexJava } from "./java/lexer.js";
export {
  isLabelLanguage,
  LABEL_LANGUAGES,
  type LabelBackend,
  type LabelLanguage,
  type LabelOptions,
  labelFile,
  labelText,
} from "./label.js";
export type { Anomaly, LabelResult, SentenceUnit, SkippedLine } from "./labelled.js";
export { CLOSED_CLASSES, OPERATOR_LABELS, operatorLabel, SIX_CLASSES } from "./labels.js";
export { labelPythonSource, pythonTokenLabel } from "./python/label.js";
export { type PythonToken, PythonTokenizeError, tokenizePython } from "./python/lexer.js";
export {
  loadSentenceTask,
  readSentenceSplit,
  SENTENCE_FORMATS,
  type SentenceFormat,
  type SentenceSplit,
  writeSentenceTask,
} from "./sentence/index.js";
export { isSplitName, type PerSplit, perSplit, SPLITS, type SplitName } from "./splits.js";
export {
  binaryPredicate,
  buildBinary,
  buildTokenTagging,
  readTaskSource,
  readTaskSources,
  type TaskBuild,
  type TaskSummary,
  writeTask,
} from "./task/build.js";
export { type ControlMode, controlTask } from "./task/control.js";
export * from "./task/format.js";
export { type Candidate, selectTask } from "./task/select.js";
export {
  checkTaskAgainstSentences,
  readTask,
  readTaskSplit,
  type Task,
  type TaskRow,
  type TaskSplit,
} from "./task/tsv.js";
export { labelTreeSitterSource, TREE_SITTER_LANGUAGES, type TreeSitterLanguage } from "./treesitter/label.js";
