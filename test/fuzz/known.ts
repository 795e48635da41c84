import { type KnownCrash, WouldAbort } from "./harness.js";

/**
 * Crashes the fuzz round found in parsers this change must not touch (src/store, src/data,
 * src/model/config/*), reported to their owners instead of fixed. Each is counted by the round, not
 * failed, and fuzz.test.ts holds a minimal reproducer of each as an `it.fails` (or, for aborts, a
 * child process): when a bug is fixed, its test turns red and its entry here should go.
 */
const stackHas = (e: Error, path: string) => (e.stack ?? "").includes(path);

export const NEUROX_FLOAT_RANGE: KnownCrash = {
  bug:
    "NeuroX import (src/store/neurox.ts, parseFeatureLine): values are checked as float64 but stored as " +
    "float32 / float16, so 1e308 (or 70000 for --dtype float16) is accepted and read back as Infinity",
  matches: (e) => /does not read back: the store read back values that are not finite/.test(e.message),
};

export const NEUROX_TOKEN_BLANKS: KnownCrash = {
  bug:
    "NeuroX import (src/store/neurox.ts; writeWordsFiles in src/store/writer.ts): a token holding a space, " +
    "tab or newline is written to words.txt unescaped, so the imported store does not open " +
    "('words.txt holds 13 rows, index.json says 12')",
  matches: (e) => /does not read back: .*words\.txt.* holds \d+ rows, index\.json says \d+/.test(e.message),
};

export const STORE_INDEX_UNCHECKED: KnownCrash = {
  bug:
    "index.json (src/store/reader.ts, ActivationStore.open / readRows; siteLayers in src/util/neurons.ts): " +
    "the fields are not validated, so a missing or mistyped one (model, settings, settings.layers, " +
    "settings.sites, shards[i], counts) gives a TypeError instead of an InputError naming the field",
  matches: (e) =>
    e instanceof TypeError && (stackHas(e, "src/store/reader.ts") || stackHas(e, "src/util/neurons.ts")),
};

export const STORE_INDEX_INCONSISTENT: KnownCrash = {
  bug:
    "index.json (src/store/reader.ts, readLocalRows): sizes that disagree with the shard's tensors " +
    "(model.hidden, settings.dtype, shards[i].firstRow / endRow, counts.rows) are not checked against " +
    "them: readRows asks for bytes outside a tensor (a RangeError from SafetensorsFile.readBytes, which " +
    "before this change read the neighbouring tensor's bytes) or returns NaN / wrong values",
  matches: (e) =>
    (e instanceof RangeError && /readBytes: bytes/.test(e.message)) ||
    /^the store read back values that are not finite/.test(e.message),
};

export const STORE_PLAN_JSON: KnownCrash = {
  bug:
    "plan.json (src/store/writer.ts, openForWriting): parsed with JSON.parse outside any try, so a damaged " +
    "plan.json in --out gives a SyntaxError instead of an InputError naming the file",
  matches: (e) => e instanceof SyntaxError && stackHas(e, "src/store/writer.ts"),
};

export const STORE_SHARD_RECORD: KnownCrash = {
  bug:
    "shards/NNNNN.json (src/store/writer.ts, finishedShard): a record that parses to null or a non-object " +
    "gives a TypeError instead of counting as unfinished",
  matches: (e) => e instanceof TypeError && stackHas(e, "src/store/writer.ts"),
};

export const STORE_HIDDEN_OOM: KnownCrash = {
  bug:
    "index.json (src/store/reader.ts, columns()): model.hidden / model.intermediate are not bounded and " +
    'readRows builds one object per column, so hidden 9007199254740994 (or the string "1e999") aborts the ' +
    "process: V8 heap out of memory",
  // The target screens these inputs (they cannot be run in-process) and throws WouldAbort instead.
  matches: (e) => e instanceof WouldAbort,
};
