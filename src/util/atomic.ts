import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/** A temp name beside `path`, so that the final rename stays on one file system. */
export function tempNameFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * partial file: write a temp file, fsync, rename.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  const handle = await open(tmp, "w");
  try {
    const parts = Array.isArray(data) ? data : [data];
    for (const part of parts) await handle.write(typeof part === "string" ? Buffer.from(part) : part);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  await rename(tmp, path);
}

export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempNameFor(path);
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
