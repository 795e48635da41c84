export * from "./format.js";
export { readSentenceInput, type SentenceInput, splitWords } from "./input.js";
export { mergeStores } from "./merge.js";
export { exportNeuroxJson, type ImportOptions, importNeuroxJson } from "./neurox.js";
export { ActivationStore, type ReadOptions, type StoreMeta } from "./reader.js";
export { closeSplitStores, openSplitStores, type SplitStores } from "./splits.js";
export { readTaskActivations, storeRowsOfSentences, storeRowsOfTask } from "./task-rows.js";
export { openForWriting, type ShardData, writeShard, writeWordsFiles } from "./writer.js";
