import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../util/atomic.js";
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

/** JSON with object keys sorted and `seconds` fields left out, so that equal content hashes equally. */
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

interface CacheFile<T> {
  format: "codeneurons-redundancy-cache";
  name: string;
  key: string;
  value: T;
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
      const file = JSON.parse(await readFile(path, "utf8")) as CacheFile<T>;
      if (file.format === "codeneurons-redundancy-cache" && file.name === name && file.key === key)
        return file.value;
    } catch {
      // Not ours or unreadable: recompute below.
    }
    log(`redundancy: ignoring unreadable cache file ${path}`);
    return undefined;
  }

  private async write<T>(path: string, name: string, key: string, value: T): Promise<void> {
    const file: CacheFile<T> = { format: "codeneurons-redundancy-cache", name, key, value };
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
