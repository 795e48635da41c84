import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { InputError } from "../../util/errors.js";
import { bfloat16ArrayToFloat32, halfArrayToFloat32 } from "../../util/half.js";
import { memoryBudget, overBudget } from "./budget.js";
import {
  type CheckpointDType,
  type CheckpointReader,
  elementCount,
  type LoadedTensor,
  type TensorInfo,
  type TensorLocation,
  type TensorMap,
} from "./tensor.js";

/**
 * The safetensors format (huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data buffer.
 * Used both for model weights and for codeneurons' own activation shards.
 */
export interface SafetensorsEntry {
  dtype: CheckpointDType;
  shape: number[];
  /** Byte offsets relative to the start of the data buffer. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** File offset where the data buffer starts (8 + N). */
  dataStart: number;
}

const BYTES: Record<CheckpointDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

const MAX_HEADER = 100 * 1024 * 1024;

export function dtypeBytes(dtype: CheckpointDType): number {
  return BYTES[dtype];
}

/** Parses and validates the header; `fileSize` bounds every offset. */
export function parseSafetensorsHeader(file: string, head: Uint8Array, fileSize: number): SafetensorsHeader {
  if (head.length < 8) throw new InputError(file, "not a safetensors file (shorter than 8 bytes)");
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > fileSize) {
    throw new InputError(file, `not a safetensors file (header length ${n} exceeds file size ${fileSize})`);
  }
  if (head.length < 8 + n) throw new Error("parseSafetensorsHeader: header bytes not read");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(8, 8 + n)));
  } catch (e) {
    throw new InputError(file, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(file, "safetensors header is not a JSON object");
  }
  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null)
        throw new InputError(file, "bad __metadata__", { field: name });
      metadata = Object.fromEntries(
        Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
      continue;
    }
    entries.set(name, parseEntry(file, name, raw, dataSize));
  }
  checkCoverage(file, entries, dataSize);
  return { entries, metadata, dataStart };
}

/**
 * The format requires the tensors to tile the data buffer exactly: sorted by offsets, each starts
 * where the previous one ends, the first at 0 and the last at the end of the file (the reference
 * implementation's `validate`). Overlapping tensors would alias each other's bytes; holes and trailing
 * bytes hide data nobody reads (polyglot files).
 */
function checkCoverage(file: string, entries: Map<string, SafetensorsEntry>, dataSize: number): void {
  const sorted = [...entries].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: string | null = null;
  for (const [name, e] of sorted) {
    if (e.begin < covered) {
      throw new InputError(
        file,
        `tensor '${name}' (data_offsets [${e.begin}, ${e.end}]) overlaps tensor '${previous}', which ends at ${covered}`,
        { field: name },
      );
    }
    if (e.begin > covered) {
      throw new InputError(
        file,
        `bytes [${covered}, ${e.begin}) of the data lie between tensors, before tensor '${name}' (the format allows no holes)`,
        { field: name },
      );
    }
    covered = e.end;
    previous = name;
  }
  if (covered !== dataSize) {
    throw new InputError(
      file,
      `the data holds ${dataSize} bytes but the tensors cover only ${covered}: ${dataSize - covered} bytes after the last tensor${previous === null ? "" : ` ('${previous}')`}`,
    );
  }
}

function parseEntry(file: string, name: string, raw: unknown, dataSize: number): SafetensorsEntry {
  const bad = (why: string) => new InputError(file, `tensor '${name}': ${why}`, { field: name });
  if (typeof raw !== "object" || raw === null) throw bad("entry is not an object");
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e.dtype !== "string" || !Object.hasOwn(BYTES, e.dtype))
    throw bad(`unsupported dtype ${String(e.dtype)}`);
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad("shape must be a list of non-negative integers");
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw bad("data_offsets must be [begin, end]");
  }
  const [begin, end] = offs as number[];
  const dtype = e.dtype as CheckpointDType;
  const shape = e.shape as number[];
  if (end < begin || end > dataSize)
    throw bad(`data_offsets [${begin}, ${end}] outside the data (${dataSize} bytes)`);
  if (end - begin !== elementCount(shape) * BYTES[dtype]) {
    throw bad(
      `data_offsets span ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${elementCount(shape) * BYTES[dtype]}`,
    );
  }
  return { dtype, shape, begin, end };
}

/**
 * Converts raw little-endian bytes of `dtype` to float32. For aligned float32 input the result is a view
 * of `bytes` (no copy); everything else is converted into a new array.
 */
export function bytesToFloat32(bytes: Uint8Array, dtype: CheckpointDType): Float32Array {
  const size = BYTES[dtype];
  // Typed-array views need aligned offsets; offsets inside a file need not be.
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const buf = aligned.buffer;
  const off = aligned.byteOffset;
  const n = Math.floor(aligned.length / size);
  switch (dtype) {
    case "F32":
      return new Float32Array(buf, off, n);
    case "F16":
      return halfArrayToFloat32(new Uint16Array(buf, off, n));
    case "BF16":
      return bfloat16ArrayToFloat32(new Uint16Array(buf, off, n));
    case "F64":
      return Float32Array.from(new Float64Array(buf, off, n));
    case "I64":
      return Float32Array.from(new BigInt64Array(buf, off, n), (v) => Number(v));
    case "I32":
      return Float32Array.from(new Int32Array(buf, off, n));
    case "I16":
      return Float32Array.from(new Int16Array(buf, off, n));
    case "I8":
      return Float32Array.from(new Int8Array(buf, off, n));
    case "U8":
    case "BOOL":
      return Float32Array.from(aligned);
  }
}

/** Bytes read per step of readRange: bounds the temporary copy while converting large tensors. */
const READ_CHUNK = 16 * 1024 * 1024;

/** Converts little-endian `dtype` bytes into `dest` (same element count). */
function convertInto(bytes: Uint8Array, dtype: CheckpointDType, dest: Float32Array): void {
  // readBytes returns a fresh, aligned buffer for float dtypes; other dtypes take the general path.
  if (dtype === "BF16" || dtype === "F16") {
    const half = new Uint16Array(bytes.buffer, bytes.byteOffset, dest.length);
    if (dtype === "BF16") bfloat16ArrayToFloat32(half, dest);
    else halfArrayToFloat32(half, dest);
    return;
  }
  dest.set(bytesToFloat32(bytes, dtype));
}

/** Random-access reader: reads the header once, then any tensor (or byte range of one) on demand. */
export class SafetensorsFile implements CheckpointReader {
  readonly header: SafetensorsHeader;
  private fd: number;

  private constructor(
    readonly path: string,
    fd: number,
    header: SafetensorsHeader,
  ) {
    this.fd = fd;
    this.header = header;
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new InputError(
        path,
        `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    try {
      const { size } = fstatSync(fd);
      const lenBuf = new Uint8Array(8);
      if (readSync(fd, lenBuf, 0, 8, 0) < 8)
        throw new InputError(path, "not a safetensors file (shorter than 8 bytes)");
      const n = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
      if (n > MAX_HEADER || 8 + n > size) {
        throw new InputError(path, `not a safetensors file (header length ${n} exceeds file size ${size})`);
      }
      const head = new Uint8Array(8 + n);
      readSync(fd, head, 0, 8 + n, 0);
      return new SafetensorsFile(path, fd, parseSafetensorsHeader(path, head, size));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.header.entries.keys()];
  }

  entry(name: string): SafetensorsEntry {
    const e = this.header.entries.get(name);
    if (!e) throw new InputError(this.path, `no tensor named '${name}'`, { field: name });
    return e;
  }

  info(name: string): TensorInfo {
    const e = this.entry(name);
    return { shape: e.shape, dtype: e.dtype };
  }

  /**
   * Raw bytes [begin, end) of a tensor's data (relative to the tensor start), in a fresh buffer or, when
   * `scratch` is large enough, in its first bytes (a reader that reuses one buffer faults in no new
   * memory per read).
   */
  readBytes(name: string, begin = 0, end?: number, scratch?: Uint8Array): Uint8Array {
    const e = this.entry(name);
    const size = e.end - e.begin;
    const stop = end ?? size;
    // A range outside the tensor would read its neighbours' bytes (or allocate whatever was asked).
    if (
      !(
        Number.isSafeInteger(begin) &&
        Number.isSafeInteger(stop) &&
        0 <= begin &&
        begin <= stop &&
        stop <= size
      )
    ) {
      throw new RangeError(
        `readBytes: bytes [${begin}, ${stop}) of '${name}' (${size} bytes) in ${this.path}`,
      );
    }
    const out =
      scratch && scratch.length >= stop - begin
        ? scratch.subarray(0, stop - begin)
        : new Uint8Array(stop - begin);
    let done = 0;
    while (done < out.length) {
      const got = readSync(
        this.fd,
        out,
        done,
        out.length - done,
        this.header.dataStart + e.begin + begin + done,
      );
      if (got === 0) throw new InputError(this.path, `tensor '${name}' is truncated`, { field: name });
      done += got;
    }
    return out;
  }

  read(name: string): LoadedTensor {
    const e = this.entry(name);
    // Reading allocates the raw bytes and a float32 copy (unless the tensor is float32 already).
    const largest = Math.max(e.end - e.begin, 4 * elementCount(e.shape));
    if (largest > memoryBudget()) {
      throw new InputError(this.path, `tensor '${name}' needs ${overBudget(largest)}`, { field: name });
    }
    return { shape: e.shape, data: bytesToFloat32(this.readBytes(name), e.dtype), sourceDType: e.dtype };
  }

  locate(name: string): TensorLocation {
    const e = this.entry(name);
    return {
      path: this.path,
      offset: this.header.dataStart + e.begin,
      dtype: e.dtype,
      count: (e.end - e.begin) / BYTES[e.dtype],
    };
  }

  /** Elements [begin, end) converted into `dest`, read in chunks so that no full-tensor copy is made. */
  readRange(name: string, begin: number, end: number, dest: Float32Array): void {
    const e = this.entry(name);
    const size = BYTES[e.dtype];
    const count = (e.end - e.begin) / size;
    if (!(begin >= 0 && begin <= end && end <= count) || dest.length < end - begin) {
      throw new RangeError(
        `readRange: [${begin}, ${end}) of '${name}' (${count} elements) into ${dest.length}`,
      );
    }
    const chunk = Math.max(1, Math.floor(READ_CHUNK / size));
    for (let at = begin; at < end; at += chunk) {
      const stop = Math.min(end, at + chunk);
      const bytes = this.readBytes(name, at * size, stop * size);
      convertInto(bytes, e.dtype, dest.subarray(at - begin, stop - begin));
    }
  }

  readAll(filter: (name: string) => boolean = () => true): TensorMap {
    const out: TensorMap = new Map();
    for (const name of this.names()) if (filter(name)) out.set(name, this.read(name));
    return out;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

export interface TensorToWrite {
  name: string;
  dtype: CheckpointDType;
  shape: readonly number[];
  /** Little-endian element bytes. */
  bytes: Uint8Array;
}

/** Serialises tensors (in the given order) to safetensors bytes, as a list of chunks. */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const need = elementCount(t.shape) * BYTES[t.dtype];
    if (need !== t.bytes.length)
      throw new Error(`encodeSafetensors: '${t.name}' has ${t.bytes.length} bytes, needs ${need}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + need] };
    offset += need;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data buffer starts 8-byte aligned (as the reference writer does).
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += " ".repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  return [len, headerBytes, ...tensors.map((t) => t.bytes)];
}

export function loadSafetensors(path: string): TensorMap {
  const f = SafetensorsFile.open(path);
  try {
    return f.readAll();
  } finally {
    f.close();
  }
}
