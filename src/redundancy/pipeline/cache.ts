import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../util/atomic.js";
import { checkValue } from "../../util/json.js";
import { log } from "../../util/progress.js";

/**
 * The pipeline's cache under OUT/cache/, two levels:
 *   steps/<step>-<key>.json  a finished step's results; key = hash of the data fingerprint, the settings
 *                            the step reads and the results of the steps it depends on
 *   work/<kind>-<key>.json   one probe fit or one clustering, keyed by its content (data fingerprint,
 *                            columns, λs, solver settings): an interrupted step resumes at the next fit,
 *                            and steps that need the same probe share it
 * Files are written atomically (temp name + rename), so a file that exists is complete; a file that
 * does not parse (written by something else) is ignored and recomputed.
 */

/**
 * JSON with object keys sorted and `seconds` fields left out, so that equal content hashes equally
 * (results before redundancy.json version 3 held seconds; keys made then stay valid).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (k, v: unknown) => {
    if (k === "seconds") return undefined;
    if (v && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
      return sorted;
    }
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}

/**
 * Part of every key: raise it when a change of the code changes what a cached step or fit would hold,
 * so that caches written by older code are recomputed instead of reused.
 */
export const CACHE_VERSION = 1;

/** A short content hash (24 hex digits of SHA-256) of the canonical JSON of `parts`. */
export function contentKey(...parts: unknown[]): string {
  return createHash("sha256")
    .update(canonicalJson([CACHE_VERSION, ...parts]))
    .digest("hex")
    .slice(0, 24);
}

export const CACHE_FORMAT = "codeneurons-redundancy-cache";
/** 1: the file format got its version; files without one are read the same way. */
export const CACHE_FILE_VERSION = 1;

/** One cache file. `value` is checked by its content key, not by a schema: a mismatch is a miss. */
const CACHE_FILE_SCHEMA = z.object({
  format: z.literal(CACHE_FORMAT),
  version: z.literal(CACHE_FILE_VERSION).optional(),
  name: z.string(),
  key: z.string(),
  value: z.unknown(),
});

interface CacheFile<T> {
  format: typeof CACHE_FORMAT;
  version: typeof CACHE_FILE_VERSION;
  name: string;
  key: string;
  value: T;
}

/** A cached value without the wall-clock `seconds` that results held before version 3. */
function withoutSeconds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSeconds);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== "seconds")
      .map(([k, v]) => [k, withoutSeconds(v)]),
  );
}

export interface CacheCounters {
  hits: number;
  misses: number;
}

export class PipelineCache {
  readonly counters: Record<string, CacheCounters> = {};

  constructor(readonly dir: string) {}

  private count(kind: string, hit: boolean): void {
    const c = this.counters[kind] ?? { hits: 0, misses: 0 };
    if (hit) c.hits++;
    else c.misses++;
    this.counters[kind] = c;
  }

  private path(level: "steps" | "work", name: string, key: string): string {
    return join(this.dir, level, `${name}-${key}.json`);
  }

  private async read<T>(path: string, name: string, key: string): Promise<T | undefined> {
    if (!existsSync(path)) return undefined;
    try {
      const checked = checkValue(CACHE_FILE_SCHEMA, JSON.parse(await readFile(path, "utf8")));
      if (checked.ok && checked.value.name === name && checked.value.key === key)
        return withoutSeconds(checked.value.value) as T;
    } catch {
      // Not JSON: recompute below.
    }
    log(`redundancy: ignoring unreadable cache file ${path}`);
    return undefined;
  }

  private async write<T>(path: string, name: string, key: string, value: T): Promise<void> {
    const file: CacheFile<T> = { format: CACHE_FORMAT, version: CACHE_FILE_VERSION, name, key, value };
    await writeFileAtomic(path, JSON.stringify(file));
  }

  async readStep<T>(step: string, key: string): Promise<T | undefined> {
    return this.read<T>(this.path("steps", step, key), step, key);
  }

  async writeStep<T>(step: string, key: string, value: T): Promise<void> {
    await this.write(this.path("steps", step, key), step, key, value);
  }

  /** The cached value of `kind`/`key`, or `compute()`'s, which is then cached. */
  async work<T>(kind: string, key: string, compute: () => Promise<T>): Promise<T> {
    const path = this.path("work", kind, key);
    const cached = await this.read<T>(path, kind, key);
    this.count(kind, cached !== undefined);
    if (cached !== undefined) return cached;
    const value = await compute();
    await this.write(path, kind, key, value);
    return value;
  }

  misses(kind: string): number {
    return this.counters[kind]?.misses ?? 0;
  }
}
