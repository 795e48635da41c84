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
 *
 * Shards are safetensors so that numpy / PyTorch users can read them directly. A shard file is
 * renamed into place only after it is completely written and synced, so a shard that exists is
 * whole; temp files (`*.tmp-*`) left by an interrupted run are removed on resume.
 */
export const STORE_FORMAT = "codeneurons-activations";
export const STORE_VERSION = 2;

export type StoreDType = "float16" | "float32";
export type Aggregation = "first" | "last" | "average";
export type SentenceRepresentation = "first" | "last" | "mean";
// Sites are a notion of neuron numbering (util/neurons.ts); the store names its tensors by them.
export { SITES, type Site } from "../util/neurons.js";

export interface ShardPlan {
  /** 0-based shard number; the file is shards/{id padded to 5}.safetensors. */
  id: number;
  /** Input lines [firstLine, endLine). */
  firstLine: number;
  endLine: number;
  /** Global rows [firstRow, endRow). */
  firstRow: number;
  endRow: number;
}

export interface ShardRecord extends ShardPlan {
  sha256: string;
  bytes: number;
}

export interface StoreSettings {
  level: "word" | "sentence";
  aggregation: Aggregation;
  sentenceRepresentation: SentenceRepresentation;
  includeSpecialTokens: boolean;
  layers: number[];
  sites: Site[];
  dtype: StoreDType;
  maxTokens: number;
}

export interface StoreModelInfo {
  /** What the user gave (hub id or directory). */
  source: string;
  modelType: string;
  numLayers: number;
  hidden: number;
  intermediate?: number;
  /** How hidden states are numbered: 0 = embeddings, i = block i. */
  layerNumbering: string;
}

export interface StoreCounts {
  lines: number;
  sentences: number;
  emptyLines: number;
  rows: number;
  subwords: number;
  windowedSentences: number;
  windows: number;
  truncatedWords: number;
  /** Words the tokenizer turned into no subword at all, read as the unknown token. */
  emptyWords?: number;
}

export interface StorePlan {
  format: typeof STORE_FORMAT;
  version: number;
  model: StoreModelInfo;
  settings: StoreSettings;
  input: { file: string; sha256: string; labelsFile?: string; labelsSha256?: string };
  shards: ShardPlan[];
  /** Which part of the plan this store computes (`--shard K/N`); absent = all shards. */
  part?: { index: number; count: number };
}

export interface StoreIndex extends StorePlan {
  counts: StoreCounts;
  shards: ShardRecord[];
  createdAt: string;
  seconds: number;
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
