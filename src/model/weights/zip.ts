import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { crc32, inflateRawSync } from "node:zlib";
import { InputError } from "../../util/errors.js";
import { memoryBudget, overBudget } from "./budget.js";

/**
 * A small random-access zip reader for PyTorch checkpoints (torch.save's zip format): central directory
 * (with zip64), stored and deflated entries, CRC-checked. Every size and offset is checked against the
 * file size, and every declared size against the memory budget (budget.ts), before anything is
 * allocated; inflating never produces more than the entry declares. So a damaged file gives an
 * InputError, never a huge allocation.
 */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflated. */
  readonly method: 0 | 8;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
/** Deflate cannot compress better than about 1032:1; a larger claimed ratio is a damaged or hostile file. */
const MAX_DEFLATE_RATIO = 1032;
/** readSync reads at most 2 GiB at a time. */
const READ_CHUNK = 1 << 30;

/** True when the bytes start like a zip archive (local file header signature "PK\x03\x04"). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

export class ZipReader {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private fd: number;

  private constructor(
    readonly path: string,
    fd: number,
    readonly fileSize: number,
    entries: Map<string, ZipEntry>,
  ) {
    this.fd = fd;
    this.entries = entries;
  }

  static open(path: string): ZipReader {
    const fd = openForReading(path);
    try {
      const size = fstatSync(fd).size;
      const entries = readCentralDirectory(path, fd, size);
      return new ZipReader(path, fd, size, entries);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new InputError(this.path, `zip archive has no entry '${name}'`, { field: name });
    return e;
  }

  /** The whole (inflated) content of an entry, with its size and CRC-32 checked. */
  read(name: string): Uint8Array {
    const e = this.entry(name);
    // The declared sizes are what reading allocates: both must fit the budget before anything is read.
    const largest = Math.max(e.size, e.compressedSize);
    if (largest > memoryBudget()) {
      throw new InputError(this.path, `zip entry '${name}' declares ${overBudget(largest)}`, { field: name });
    }
    const start = this.dataStart(e);
    const raw = readExactly(this.path, this.fd, start, e.compressedSize, name);
    const data = e.method === 0 ? raw : this.inflate(e, raw);
    if (crc32(data) !== e.crc32) {
      throw new InputError(this.path, `zip entry '${name}' is corrupt (CRC-32 mismatch)`, { field: name });
    }
    return data;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private dataStart(e: ZipEntry): number {
    const bad = (why: string) =>
      new InputError(this.path, `zip entry '${e.name}': ${why}`, { field: e.name });
    if (e.localHeaderOffset + LOCAL_SIZE > this.fileSize) throw bad("local header lies outside the file");
    const head = readExactly(this.path, this.fd, e.localHeaderOffset, LOCAL_SIZE, e.name);
    const view = new DataView(head.buffer, head.byteOffset, head.length);
    if (view.getUint32(0, true) !== SIG_LOCAL) throw bad("bad local header signature");
    const start = e.localHeaderOffset + LOCAL_SIZE + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + e.compressedSize > this.fileSize) {
      throw bad(`data (${e.compressedSize} bytes at ${start}) runs past the end of the file: truncated?`);
    }
    return start;
  }

  private inflate(e: ZipEntry, raw: Uint8Array): Uint8Array {
    let out: Buffer;
    try {
      // One output chunk one byte larger than the declared size: an honest entry inflates into it
      // without the copies that zlib's default 16 KiB chunks and their final concatenation make (twice
      // the entry at the peak), and a stream that runs past the declared size stops at the first
      // byte too many (maxOutputLength) before any further chunk is allocated.
      out = inflateRawSync(raw, {
        maxOutputLength: Math.max(1, e.size),
        chunkSize: Math.max(64, e.size + 1),
      });
    } catch (err) {
      throw new InputError(this.path, `zip entry '${e.name}' does not inflate (${(err as Error).message})`, {
        field: e.name,
      });
    }
    if (out.length !== e.size) {
      throw new InputError(
        this.path,
        `zip entry '${e.name}' inflates to ${out.length} bytes, not ${e.size}`,
        {
          field: e.name,
        },
      );
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}

function openForReading(path: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    throw new InputError(path, `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Reads exactly `length` bytes at `position`, or fails naming the file as truncated. */
export function readExactly(
  path: string,
  fd: number,
  position: number,
  length: number,
  what: string,
): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const got = readSync(fd, out, done, Math.min(READ_CHUNK, length - done), position + done);
    if (got === 0) throw new InputError(path, `truncated: ${what} ends early (file too short)`);
    done += got;
  }
  return out;
}

interface Directory {
  count: number;
  size: number;
  offset: number;
}

function readCentralDirectory(path: string, fd: number, fileSize: number): Map<string, ZipEntry> {
  const dir = findDirectory(path, fd, fileSize);
  if (dir.offset + dir.size > fileSize) {
    throw new InputError(path, "zip central directory lies outside the file (truncated?)");
  }
  if (dir.count * CENTRAL_SIZE > dir.size) {
    throw new InputError(path, `zip says ${dir.count} entries but its directory has only ${dir.size} bytes`);
  }
  const bytes = readExactly(path, fd, dir.offset, dir.size, "zip central directory");
  return parseCentralDirectory(path, bytes, dir.count, fileSize);
}

function findDirectory(path: string, fd: number, fileSize: number): Directory {
  if (fileSize < EOCD_SIZE) throw new InputError(path, "not a zip archive (too short)");
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tailStart = fileSize - tailLength;
  const tail = readExactly(path, fd, tailStart, tailLength, "zip end record");
  const view = new DataView(tail.buffer, tail.byteOffset, tail.length);
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) !== SIG_EOCD) continue;
    const dir = {
      count: view.getUint16(i + 10, true),
      size: view.getUint32(i + 12, true),
      offset: view.getUint32(i + 16, true),
    };
    const needs64 = dir.count === 0xffff || dir.size === 0xffffffff || dir.offset === 0xffffffff;
    return needs64 ? findZip64Directory(path, fd, tailStart + i) : dir;
  }
  throw new InputError(path, "not a zip archive, or truncated (no end-of-central-directory record)");
}

function findZip64Directory(path: string, fd: number, eocdPosition: number): Directory {
  const bad = (why: string) => new InputError(path, `zip64 directory: ${why}`);
  if (eocdPosition < 20) throw bad("locator missing");
  const loc = readExactly(path, fd, eocdPosition - 20, 20, "zip64 locator");
  const lv = new DataView(loc.buffer, loc.byteOffset, 20);
  if (lv.getUint32(0, true) !== SIG_EOCD64_LOCATOR) throw bad("locator missing");
  const recordOffset = safeNumber(path, lv.getBigUint64(8, true), "zip64 record offset");
  if (recordOffset + 56 > eocdPosition) throw bad("record lies outside the file");
  const rec = readExactly(path, fd, recordOffset, 56, "zip64 record");
  const rv = new DataView(rec.buffer, rec.byteOffset, 56);
  if (rv.getUint32(0, true) !== SIG_EOCD64) throw bad("bad record signature");
  return {
    count: safeNumber(path, rv.getBigUint64(32, true), "zip64 entry count"),
    size: safeNumber(path, rv.getBigUint64(40, true), "zip64 directory size"),
    offset: safeNumber(path, rv.getBigUint64(48, true), "zip64 directory offset"),
  };
}

function safeNumber(path: string, v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(path, `${what} ${v} is out of range`);
  return Number(v);
}

function parseCentralDirectory(
  path: string,
  bytes: Uint8Array,
  count: number,
  fileSize: number,
): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const names = new TextDecoder("utf-8");
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let k = 0; k < count; k++) {
    const bad = (why: string) => new InputError(path, `zip directory entry ${k}: ${why}`);
    if (p + CENTRAL_SIZE > bytes.length) throw bad("runs past the directory");
    if (view.getUint32(p, true) !== SIG_CENTRAL) throw bad("bad signature");
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const end = p + CENTRAL_SIZE + nameLength + extraLength + commentLength;
    if (end > bytes.length) throw bad("runs past the directory");
    const name = names.decode(bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLength));
    const extra = bytes.subarray(p + CENTRAL_SIZE + nameLength, p + CENTRAL_SIZE + nameLength + extraLength);
    const entry = centralEntry(path, name, view, p, extra);
    checkEntry(path, entry, fileSize);
    if (entries.has(name)) throw bad(`duplicate entry '${name}'`);
    entries.set(name, entry);
    p = end;
  }
  return entries;
}

function centralEntry(path: string, name: string, view: DataView, p: number, extra: Uint8Array): ZipEntry {
  const flags = view.getUint16(p + 8, true);
  if (flags & 1) throw new InputError(path, `zip entry '${name}' is encrypted`, { field: name });
  const method = view.getUint16(p + 10, true);
  if (method !== 0 && method !== 8) {
    throw new InputError(
      path,
      `zip entry '${name}' uses compression method ${method} (only stored/deflate)`,
      {
        field: name,
      },
    );
  }
  let size = view.getUint32(p + 24, true);
  let compressedSize = view.getUint32(p + 20, true);
  let localHeaderOffset = view.getUint32(p + 42, true);
  // Zip64: the fields that overflowed are 0xffffffff and their real values sit, in this order, in the
  // 0x0001 extra field.
  if (size === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
    const z64 = zip64Extra(path, name, extra);
    let i = 0;
    const next = () => {
      if (i >= z64.length)
        throw new InputError(path, `zip entry '${name}': zip64 field missing`, { field: name });
      return z64[i++];
    };
    if (size === 0xffffffff) size = next();
    if (compressedSize === 0xffffffff) compressedSize = next();
    if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
  }
  return { name, method, compressedSize, size, crc32: view.getUint32(p + 16, true), localHeaderOffset };
}

function zip64Extra(path: string, name: string, extra: Uint8Array): number[] {
  const view = new DataView(extra.buffer, extra.byteOffset, extra.length);
  let p = 0;
  while (p + 4 <= extra.length) {
    const id = view.getUint16(p, true);
    const length = view.getUint16(p + 2, true);
    if (p + 4 + length > extra.length) break;
    if (id === 0x0001) {
      const values: number[] = [];
      for (let q = p + 4; q + 8 <= p + 4 + length; q += 8) {
        values.push(safeNumber(path, view.getBigUint64(q, true), `zip64 field of '${name}'`));
      }
      return values;
    }
    p += 4 + length;
  }
  throw new InputError(path, `zip entry '${name}': zip64 extra field missing`, { field: name });
}

function checkEntry(path: string, e: ZipEntry, fileSize: number): void {
  const bad = (why: string) => new InputError(path, `zip entry '${e.name}': ${why}`, { field: e.name });
  if (e.localHeaderOffset + LOCAL_SIZE + e.compressedSize > fileSize) {
    throw bad("data lies outside the file (truncated?)");
  }
  if (e.method === 0 && e.compressedSize !== e.size) throw bad("stored entry with two different sizes");
  if (e.method === 8 && e.size > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw bad(`claims ${e.size} bytes from ${e.compressedSize} compressed: not a plausible deflate stream`);
  }
}
