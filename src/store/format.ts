import { z } from "zod";
import { InputError } from "../util/errors.js";
import { envelope } from "../util/json.js";
import type { Site } from "../util/neurons.js";

/**
 * The on-disk layout of an activation store (a directory):
 *
 *   index.json              written last, atomically: the store is complete iff it exists
 *   plan.json               the shard plan and settings, written first; a rerun resumes against it
 *   words.txt               the input lines, words joined by single spaces (empty line = skipped)
 *   labels.txt              parallel labels, when a label file was given
 *   shards/NNNNN.safetensors  one tensor per site and layer: `hidden.{layer}` [rows, hidden] (the
 *                           residual stream after block `layer`; 0 = embeddings) and, when asked,
 *                           `mlp.{layer}` [rows, intermediate] (the MLP neurons of block `layer`: the
 *                           input of its down projection); rows in input order. Version 1 stores
 *                           called the MLP site `ffn` and are still read.
 *   shards/NNNNN.json       the shard's checksum and row counts, written after its data
 *   words.json              the size and SHA-256 of words.txt and labels.txt, written after them
 *                           (stores written before it have none, and read without the check)
 *
 * Shards are safetensors so that numpy / PyTorch users can read them directly. A shard file is
 * renamed into place only after it is completely written and synced, so a shard that exists is
 * whole; temp files (`*.tmp-*`) left by an interrupted run are removed on resume. Every reader checks
 * each file against what the store records (store/verify.ts): shard sizes at open, shard hashes on
 * first read, words.txt and labels.txt against words.json, index.json against plan.json.
 */
export const STORE_FORMAT = "codeneurons-activations";
export const STORE_VERSION = 2;
/** shards/NNNNN.json; records written before it had a name are read too. */
export const SHARD_RECORD_FORMAT = "codeneurons-shard";
export const SHARD_RECORD_VERSION = 1;

// Sites are a notion of neuron numbering (util/neurons.ts); the store names its tensors by them.
export { SITES, type Site } from "../util/neurons.js";

/**
 * Bounds that keep a damaged index from asking for absurd allocations (a store's reader builds one
 * entry per column): no transformer has a layer wider than this or more layers than MAX_LAYER.
 */
export const MAX_WIDTH = 1 << 20;
export const MAX_LAYER = 10_000;

const count = z.number().int().min(0);
const sha256Hex = z.string().regex(/^([0-9a-f]{64})?$/, "expected a hex SHA-256 (or empty)");

/** words.json: what words.txt and labels.txt were when written, so that a reader can check them. */
export const WORDS_RECORD_FORMAT = "codeneurons-store-words";
export const WORDS_RECORD_VERSION = 1;
const TEXT_FILE_RECORD = z.object({
  bytes: count,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected a hex SHA-256"),
});
export const WORDS_RECORD_SCHEMA = z
  .object({
    ...envelope(WORDS_RECORD_FORMAT, WORDS_RECORD_VERSION),
    /** words.txt */
    words: TEXT_FILE_RECORD,
    /** labels.txt, when the store has labels. */
    labels: TEXT_FILE_RECORD.optional(),
  })
  .describe("codeneurons <store>/words.json: size and SHA-256 of the store's words.txt and labels.txt");
export type WordsRecord = z.infer<typeof WORDS_RECORD_SCHEMA>;

const STORE_DTYPES = ["float16", "float32"] as const;
export type StoreDType = (typeof STORE_DTYPES)[number];
export type Aggregation = "first" | "last" | "average";
export type SentenceRepresentation = "first" | "last" | "mean";

export const SHARD_PLAN_SCHEMA = z.object({
  /** 0-based shard number; the file is shards/{id padded to 5}.safetensors. */
  id: count,
  /** Input lines [firstLine, endLine). */
  firstLine: count,
  endLine: count,
  /** Global rows [firstRow, endRow). */
  firstRow: count,
  endRow: count,
});
export type ShardPlan = z.infer<typeof SHARD_PLAN_SCHEMA>;

export const SHARD_RECORD_SCHEMA = SHARD_PLAN_SCHEMA.extend({
  /** SHA-256 of the shard's safetensors file. */
  sha256: sha256Hex,
  bytes: count,
});
export type ShardRecord = z.infer<typeof SHARD_RECORD_SCHEMA>;

/** The file shards/NNNNN.json: the record with its format name (absent in stores before version 1). */
export const SHARD_RECORD_FILE_SCHEMA = SHARD_RECORD_SCHEMA.extend({
  format: z.literal(SHARD_RECORD_FORMAT).optional(),
  version: z.literal(SHARD_RECORD_VERSION).optional(),
});

const SETTINGS_SCHEMA = z.object({
  level: z.enum(["word", "sentence"]),
  aggregation: z.enum(["first", "last", "average"]),
  sentenceRepresentation: z.enum(["first", "last", "mean"]),
  includeSpecialTokens: z.boolean(),
  /** Hidden-state layers kept: 0 = embeddings, i = block i. */
  layers: z.array(z.number().int().min(0).max(MAX_LAYER)).min(1),
  /** Version 1 stores called the MLP site `ffn`; the reader maps it to `mlp`. */
  sites: z.array(z.enum(["hidden", "mlp", "ffn"])).min(1),
  dtype: z.enum(STORE_DTYPES),
  maxTokens: count,
});
export type StoreSettings = Omit<z.infer<typeof SETTINGS_SCHEMA>, "sites"> & { sites: Site[] };

const MODEL_SCHEMA = z.object({
  /** What the user gave (hub id or directory). */
  source: z.string(),
  modelType: z.string(),
  numLayers: count,
  hidden: z.number().int().min(1).max(MAX_WIDTH),
  intermediate: z.number().int().min(1).max(MAX_WIDTH).optional(),
  /** How hidden states are numbered: 0 = embeddings, i = block i. */
  layerNumbering: z.string(),
});
export type StoreModelInfo = z.infer<typeof MODEL_SCHEMA>;

export const STORE_COUNTS_SCHEMA = z.object({
  lines: count,
  sentences: count,
  emptyLines: count,
  rows: count,
  subwords: count,
  windowedSentences: count,
  windows: count,
  truncatedWords: count,
  /** Words the tokenizer turned into no subword at all, read as the unknown token. */
  emptyWords: count.optional(),
  /** Words that came out as nothing but the unknown token. */
  unknownWords: count.optional(),
});
export type StoreCounts = z.infer<typeof STORE_COUNTS_SCHEMA>;

const INPUT_SCHEMA = z.object({
  file: z.string(),
  sha256: sha256Hex,
  labelsFile: z.string().optional(),
  labelsSha256: sha256Hex.optional(),
});

/** plan.json: written first; a rerun of the same extraction resumes against it. */
export const STORE_PLAN_SCHEMA = z.object({
  format: z.literal(STORE_FORMAT),
  /** 2: the MLP site is `mlp` (1: `ffn`). */
  version: z.union([z.literal(1), z.literal(2)]),
  model: MODEL_SCHEMA,
  settings: SETTINGS_SCHEMA,
  input: INPUT_SCHEMA,
  shards: z.array(SHARD_PLAN_SCHEMA),
  /** Which part of the plan this store computes (`--shard K/N`); absent = all shards. */
  part: z.object({ index: count, count: z.number().int().min(1) }).optional(),
});

/** index.json: written last, atomically; the store is complete iff it exists. */
export const STORE_INDEX_SCHEMA = STORE_PLAN_SCHEMA.extend({
  shards: z.array(SHARD_RECORD_SCHEMA),
  counts: STORE_COUNTS_SCHEMA,
  /** Signs that the activations may be meaningless (mostly unknown words). */
  warnings: z.array(z.string()).optional(),
  createdAt: z.string(),
  /** Seconds the extraction took (its record of the run; not part of what the store holds). */
  seconds: z.number().min(0),
});

export type StorePlan = Omit<z.infer<typeof STORE_PLAN_SCHEMA>, "settings"> & { settings: StoreSettings };
export type StoreIndex = Omit<z.infer<typeof STORE_INDEX_SCHEMA>, "settings"> & { settings: StoreSettings };

/** A checked plan.json or index.json with version 1's site name `ffn` read as `mlp`. */
export function withCurrentSites<T extends { settings: { sites: ("hidden" | "mlp" | "ffn")[] } }>(
  value: T,
): Omit<T, "settings"> & { settings: Omit<T["settings"], "sites"> & { sites: Site[] } } {
  const sites: Site[] = value.settings.sites.map((s) => (s === "ffn" ? "mlp" : s));
  const settings = { ...value.settings, sites } as Omit<T["settings"], "sites"> & { sites: Site[] };
  return { ...value, settings };
}

/**
 * A checked index.json or plan.json: the schema, then what it cannot say: shards in order, each
 * covering the lines and rows after the previous one, the index's rows and lines those of its shards.
 */
export function checkStoreFile<
  T extends { shards: ShardPlan[]; part?: { index: number; count: number }; counts?: StoreCounts },
>(value: T, file: string): T {
  const shards = value.shards;
  // A part's index lists its own shards only: consecutive, from where its range starts.
  const first =
    value.part === undefined
      ? { id: 0, firstLine: 0, firstRow: 0 }
      : (shards[0] ?? { id: 0, firstLine: 0, firstRow: 0 });
  let line = first.firstLine;
  let row = first.firstRow;
  shards.forEach((s, i) => {
    const field = `shards[${i}]`;
    if (s.id !== first.id + i)
      throw new InputError(file, `shard ${i} has id ${s.id}, expected ${first.id + i}`, {
        field: `${field}.id`,
      });
    if (s.firstLine !== line || s.endLine < s.firstLine)
      throw new InputError(file, `lines ${s.firstLine}..${s.endLine} do not follow line ${line}`, { field });
    if (s.firstRow !== row || s.endRow < s.firstRow)
      throw new InputError(file, `rows ${s.firstRow}..${s.endRow} do not follow row ${row}`, { field });
    line = s.endLine;
    row = s.endRow;
  });
  const counts = value.counts;
  if (counts && value.part === undefined) {
    if (row !== counts.rows)
      throw new InputError(file, `the shards hold ${row} rows, counts.rows says ${counts.rows}`, {
        field: "counts.rows",
      });
  }
  return value;
}

export function shardFileName(id: number): string {
  return `shards/${String(id).padStart(5, "0")}.safetensors`;
}

export function shardRecordName(id: number): string {
  return `shards/${String(id).padStart(5, "0")}.json`;
}

/** The shard tensor of a site and layer; `version` 1 stores named the MLP site `ffn`. */
export function tensorName(site: Site, layer: number, version = STORE_VERSION): string {
  return `${site === "mlp" && version < 2 ? "ffn" : site}.${layer}`;
}

/** The shards a part `k` of `n` computes: a contiguous range of the plan. */
export function shardsOfPart(total: number, k: number, n: number): { begin: number; end: number } {
  return { begin: Math.floor((k * total) / n), end: Math.floor(((k + 1) * total) / n) };
}
