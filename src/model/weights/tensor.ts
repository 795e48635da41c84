/** Tensors as loaded from checkpoints: always converted to float32 (or kept as int64 for ids). */
export type CheckpointDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export interface LoadedTensor {
  readonly shape: readonly number[];
  /** Element data converted to float32 (integer tensors too: they are only buffers like position_ids). */
  readonly data: Float32Array;
  /** The dtype stored in the checkpoint, for reporting. */
  readonly sourceDType: CheckpointDType;
}

/** Parameter name → tensor. */
export type TensorMap = Map<string, LoadedTensor>;

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A tensor's bytes in a file: little-endian elements of `dtype` from byte `offset`. */
export interface TensorLocation {
  readonly path: string;
  readonly offset: number;
  readonly dtype: CheckpointDType;
  readonly count: number;
}

/** What a checkpoint says about a tensor before its data is read. */
export interface TensorInfo {
  readonly shape: readonly number[];
  readonly dtype: CheckpointDType;
}

/**
 * Random access to the tensors of one checkpoint file (or of a sharded set): names and shapes first,
 * data on demand, so that a graph builder can convert one tensor at a time.
 */
export interface CheckpointReader {
  /** The file (or index file) the tensors come from, for messages. */
  readonly path: string;
  names(): string[];
  info(name: string): TensorInfo;
  read(name: string): LoadedTensor;
  /**
   * Elements [begin, end) of a tensor (row-major), converted to float32 into `dest` — without reading
   * the rest of the tensor where the format allows (safetensors). Layer-by-layer extraction reads
   * each block's weights this way into buffers it reuses, and embedding rows one by one.
   */
  readRange(name: string, begin: number, end: number, dest: Float32Array): void;
  /**
   * Where a tensor's bytes are, when they lie contiguous in a file as stored (safetensors), so that
   * another thread can read them itself; undefined otherwise (pickled checkpoints).
   */
  locate?(name: string): TensorLocation | undefined;
  /** Every tensor, in `names()` order (storages shared by several tensors are read once). */
  readAll(): TensorMap;
  close(): void;
}
