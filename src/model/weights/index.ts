import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { findWeightFiles, readShardIndex } from "../files.js";
import { SafetensorsFile } from "./safetensors.js";
import type { CheckpointReader, LoadedTensor, TensorInfo, TensorLocation, TensorMap } from "./tensor.js";
import { openTorchCheckpoint } from "./torch.js";

export * from "./safetensors.js";
export * from "./tensor.js";
export { loadTorchCheckpoint, openTorchCheckpoint, TorchCheckpoint } from "./torch.js";

/** Opens one weight file by its format. */
export function openWeightFile(path: string): CheckpointReader {
  return path.endsWith(".safetensors") ? SafetensorsFile.open(path) : openTorchCheckpoint(path);
}

/**
 * The weights of a model directory in Hugging Face layout (model.safetensors, sharded safetensors,
 * pytorch_model.bin, sharded .bin — in that order of preference), opened for random access.
 */
export function openCheckpoint(dir: string): CheckpointReader {
  const found = findWeightFiles(dir);
  if (found.index === null) return openWeightFile(found.files[0]);
  return ShardedCheckpoint.open(dir, found.index);
}

/** Every tensor of a model directory, converted to float32. */
export function loadCheckpointWeights(dir: string): TensorMap {
  const c = openCheckpoint(dir);
  try {
    return c.readAll();
  } finally {
    c.close();
  }
}

/** A checkpoint split over several files, listed by `weight_map` in an index json. */
export class ShardedCheckpoint implements CheckpointReader {
  private constructor(
    readonly path: string,
    private readonly shardOf: Map<string, CheckpointReader>,
    private readonly shards: CheckpointReader[],
  ) {}

  static open(dir: string, indexPath: string): ShardedCheckpoint {
    const weightMap = readShardIndex(indexPath);
    const files = [...new Set(weightMap.values())];
    const missing = files.filter((f) => !existsSync(join(dir, f)));
    if (missing.length > 0) {
      throw new InputError(indexPath, `shard${missing.length > 1 ? "s" : ""} missing: ${missing.join(", ")}`);
    }
    const readers = new Map<string, CheckpointReader>();
    try {
      for (const f of files) readers.set(f, openWeightFile(join(dir, f)));
      const shardOf = new Map<string, CheckpointReader>();
      for (const [name, file] of weightMap) {
        const reader = readers.get(file) as CheckpointReader;
        if (!reader.names().includes(name)) {
          throw new InputError(
            indexPath,
            `tensor '${name}' is listed in shard ${file} but not stored there`,
            {
              field: `weight_map.${name}`,
            },
          );
        }
        shardOf.set(name, reader);
      }
      return new ShardedCheckpoint(indexPath, shardOf, [...readers.values()]);
    } catch (e) {
      for (const r of readers.values()) r.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.shardOf.keys()];
  }

  info(name: string): TensorInfo {
    return this.reader(name).info(name);
  }

  read(name: string): LoadedTensor {
    return this.reader(name).read(name);
  }

  readRange(name: string, begin: number, end: number, dest: Float32Array): void {
    this.reader(name).readRange(name, begin, end, dest);
  }

  locate(name: string): TensorLocation | undefined {
    return this.reader(name).locate?.(name);
  }

  readAll(): TensorMap {
    const loaded = new Map<string, LoadedTensor>();
    for (const shard of this.shards) {
      for (const [name, t] of shard.readAll()) if (this.shardOf.get(name) === shard) loaded.set(name, t);
    }
    return new Map(this.names().map((n) => [n, loaded.get(n) as LoadedTensor]));
  }

  close(): void {
    for (const s of this.shards) s.close();
  }

  private reader(name: string): CheckpointReader {
    const r = this.shardOf.get(name);
    if (!r) throw new InputError(this.path, `no tensor named '${name}'`, { field: name });
    return r;
  }
}
