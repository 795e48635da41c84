import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { InputError } from "../util/errors.js";
import { type ShardRecord, shardFileName } from "./format.js";

/**
 * Integrity of a store's files against what index.json (and words.json) record: every reader checks
 * the size of every shard when it opens a store, and the SHA-256 of a shard the first time this
 * process reads it. A shard is written once and never changed, so a hash that matched once in this
 * process need not be recomputed while the file is the same file (same inode, size and mtime):
 * `codeneurons run` opens each store from several stages, and the explorer reopens nothing.
 *
 * CODENEURONS_VERIFY=size skips the hashes (never the sizes), for very large stores read often.
 */

/** How much a reader checks: `hash` (the default) or `size` (sizes only). */
export type VerifyLevel = "hash" | "size";

export function defaultVerifyLevel(): VerifyLevel {
  return process.env.CODENEURONS_VERIFY === "size" ? "size" : "hash";
}

/** Files whose hash matched in this process: real path → the identity of the file that matched. */
const verified = new Map<string, string>();

function identity(fd: number): string {
  const s = fstatSync(fd, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * Forgets which files were hashed. File times are coarse (a clock tick), so a file rewritten within
 * the same tick as its check looks unchanged: tests that damage files in place call this first.
 */
export function forgetVerifiedFiles(): void {
  verified.clear();
}

const CHUNK = 8 << 20;

/** SHA-256 (hex) of an open file, read in chunks so that a large shard needs no buffer of its size. */
function hashFd(fd: number, size: number): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, size)));
  let pos = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest("hex");
}

/** SHA-256 (hex) of a file. */
export function sha256OfFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    return hashFd(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/**
 * What is wrong with a file against its recorded size and SHA-256, or null when it matches. An empty
 * recorded hash (never written by this tool) checks the size only.
 */
export function fileProblem(path: string, bytes: number, sha256: string, level: VerifyLevel): string | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "is missing" : `cannot be read (${code ?? String(e)})`;
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes) return `is ${size} bytes, but ${bytes} were written (truncated or replaced)`;
    if (level === "size" || sha256 === "") return null;
    const real = realpathSync(path);
    const id = identity(fd);
    if (verified.get(real) === `${sha256}:${id}`) return null;
    const actual = hashFd(fd, size);
    if (actual !== sha256) return `does not match its recorded SHA-256 (its bytes were changed)`;
    verified.set(real, `${sha256}:${id}`);
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The size check of every shard of a store, at open: a missing or truncated shard fails at once. */
export function shardSizeProblem(dir: string, shard: ShardRecord): string | null {
  const path = join(dir, shardFileName(shard.id));
  if (!existsSync(path)) return "is missing";
  const size = statSync(path).size;
  return size === shard.bytes
    ? null
    : `is ${size} bytes, but ${shard.bytes} were written (truncated or replaced)`;
}

/**
 * How to repair a damaged store, for error messages: the command that wrote it, rerun. A rerun of the
 * same extract resumes against plan.json, re-checks every shard and recomputes the damaged ones.
 */
export function repairHint(
  index: { model: { source: string }; input: { file: string } },
  dir: string,
  how: "resume" | "overwrite" = "resume",
): string {
  if (index.model.source.startsWith("neurox-json:"))
    return `re-import it: codeneurons import --format neurox-json --input ${index.model.source.slice("neurox-json:".length).split(",").join(" ")} --out ${dir} --overwrite`;
  const command = `codeneurons extract --model ${index.model.source} --input ${index.input.file} --out ${dir} …`;
  if (how === "overwrite")
    return `recompute it: rerun the extract command that wrote it with --overwrite (${command} --overwrite)`;
  return `rerun the extract command that wrote it with the same options (${command}): it re-checks every shard and recomputes the damaged ones (a merged store: merge its parts again with --overwrite)`;
}

/** A shard that fails its check, as the error every reader gives. */
export function damagedShard(
  dir: string,
  shard: ShardRecord,
  problem: string,
  index: Parameters<typeof repairHint>[0],
): InputError {
  return new InputError(
    join(dir, shardFileName(shard.id)),
    `${problem}; the store is damaged. To repair it, ${repairHint(index, dir)}`,
  );
}

/**
 * `path` resolved through symlinks, refused when it leaves `root` (a real path): the explorer reads
 * only files inside its results directory, whatever links inside it point to.
 */
export function confinedPath(path: string, root: string | undefined): string {
  if (root === undefined) return path;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return path;
  }
  const inside = real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
  if (!inside)
    throw new InputError(
      path,
      `is a link to ${real}, outside ${root}: only files inside the results directory are read`,
    );
  return real;
}

/**
 * The same InputError (file, line, field) with what to do about it appended: a damaged file of a
 * store says how the store is repaired.
 */
export function withRecovery(e: unknown, recovery: string): unknown {
  if (!(e instanceof InputError)) return e;
  const at = e.line !== undefined ? `:${e.line}` : "";
  const field = e.field !== undefined ? ` (field '${e.field}')` : "";
  const prefix = `${e.file}${at}${field}: `;
  const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  return new InputError(e.file, `${detail}; ${recovery}`, { line: e.line, field: e.field });
}
