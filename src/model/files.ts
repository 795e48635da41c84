import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../util/errors.js";

/** File names of a model directory in Hugging Face layout, shared by the weight loader and the hub. */

export const CONFIG_FILE = "config.json";
export const SAFETENSORS_FILE = "model.safetensors";
export const SAFETENSORS_INDEX = "model.safetensors.index.json";
export const TORCH_FILE = "pytorch_model.bin";
export const TORCH_INDEX = "pytorch_model.bin.index.json";

/** In order of preference: safetensors (no pickle at all) before PyTorch's pickle format. */
export const WEIGHT_FILES = [SAFETENSORS_FILE, SAFETENSORS_INDEX, TORCH_FILE, TORCH_INDEX] as const;

/** Every file a tokenizer may need; the loader uses what is present. */
export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.txt",
  "vocab.json",
  "merges.txt",
] as const;

/** Weight files codeneurons cannot read, with what they are, for a helpful error. */
const FOREIGN_WEIGHTS: Record<string, string> = {
  "tf_model.h5": "TensorFlow",
  "flax_model.msgpack": "Flax",
  "model.ckpt.index": "TensorFlow 1",
  "rust_model.ot": "rust-bert",
  "model.onnx": "ONNX export",
};

export interface WeightFiles {
  format: "safetensors" | "pytorch";
  /** The index json of a sharded checkpoint, or null for a single file. */
  index: string | null;
  /** Absolute paths of the weight files (the shards, in index order). */
  files: string[];
}

/** Finds the weights of a model directory, preferring safetensors; throws naming what was looked for. */
export function findWeightFiles(dir: string): WeightFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InputError(dir, "no such model directory");
  }
  for (const name of WEIGHT_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const format = name.startsWith("model.safetensors") ? "safetensors" : "pytorch";
    if (!name.endsWith(".index.json")) return { format, index: null, files: [path] };
    const shards = [...new Set(readShardIndex(path).values())];
    return { format, index: path, files: shards.map((s) => join(dir, s)) };
  }
  throw new InputError(dir, noWeightsMessage(dir));
}

function noWeightsMessage(dir: string): string {
  const present = readdirSync(dir);
  const foreign = present
    .filter((f) => Object.hasOwn(FOREIGN_WEIGHTS, f))
    .map((f) => `${f} (${FOREIGN_WEIGHTS[f]})`);
  const otherSafetensors = present.filter((f) => f.endsWith(".safetensors"));
  let msg = `no model weights found: looked for ${WEIGHT_FILES.join(", ")}`;
  if (foreign.length > 0) msg += `; found ${foreign.join(", ")}, which codeneurons cannot read`;
  if (otherSafetensors.length > 0)
    msg += `; found ${otherSafetensors.join(", ")} without ${SAFETENSORS_INDEX}`;
  return `${msg}. Convert the model to safetensors (or save it with save_pretrained) and try again.`;
}

/**
 * Reads `weight_map` of a sharded checkpoint's index json: tensor name → shard file name. Shard names
 * must be plain relative names inside the model directory.
 */
export function readShardIndex(indexPath: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, "utf8"));
  } catch (e) {
    throw new InputError(indexPath, `not valid JSON (${(e as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new InputError(indexPath, "has no weight_map object", { field: "weight_map" });
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string" || !isPlainRelative(file)) {
      throw new InputError(indexPath, `weight_map entry for '${name}' is not a file name inside the model`, {
        field: `weight_map.${name}`,
      });
    }
    out.set(name, file);
  }
  if (out.size === 0) throw new InputError(indexPath, "weight_map is empty", { field: "weight_map" });
  return out;
}

function isPlainRelative(file: string): boolean {
  const parts = file.split(/[\\/]/);
  return file.length > 0 && !file.startsWith("/") && !/^[a-zA-Z]:/.test(file) && !parts.includes("..");
}
