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
 * Files are written atomically (temp name + rename), so a file that exists is complete. Each names the
 * SHA-256 of its value: a file that does not parse, is of another step or key, or whose value does not
 * match its checksum (a damaged disk, an edit) is named on stderr and recomputed, never used.
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
/**
 * 1: the file format got its version; files without one are read the same way. 2: `sha256` of the
 * value (valueChecksum), checked on every read. Files of version 1 and before have none and are read
 * as they are, so that caches written by older versions stay valid.
 */
export const CACHE_FILE_VERSION = 2;

/** One cache file: its name and key must be the ones asked for, its value must match its checksum. */
const CACHE_FILE_SCHEMA = z.union([
  z.object({
    format: z.literal(CACHE_FORMAT),
    version: z.literal(2),
    name: z.string(),
    key: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    value: z.unknown(),
  }),
  z.object({
    format: z.literal(CACHE_FORMAT),
    version: z.literal(1).optional(),
    name: z.string(),
    key: z.string(),
    value: z.unknown(),
  }),
]);

interface CacheFile<T> {
  format: typeof CACHE_FORMAT;
  version: typeof CACHE_FILE_VERSION;
  name: string;
  key: string;
  sha256: string;
  value: T;
}

/**
 * SHA-256 of a cached value as JSON reads it back (canonical: keys sorted, typed arrays as the
 * objects JSON.stringify makes of them), so that the writer and a reader hash the same thing.
 */
function valueChecksum(parsed: unknown): string {
  return createHash("sha256").update(canonicalJson(parsed)).digest("hex");
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
    const problem = await (async (): Promise<string | T> => {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path, "utf8"));
      } catch (e) {
        return `not readable as JSON (${(e as Error).message})`;
      }
      const checked = checkValue(CACHE_FILE_SCHEMA, json);
      if (!checked.ok) return `not a cache file (field '${checked.field ?? "(root)"}': ${checked.detail})`;
      const file = checked.value;
      if (file.name !== name || file.key !== key) return `holds ${file.name}-${file.key}, not ${name}-${key}`;
      if ("sha256" in file && valueChecksum(file.value) !== file.sha256)
        return "damaged (its value does not match its SHA-256)";
      return withoutSeconds(file.value) as T;
    })();
    if (typeof problem !== "string") return problem;
    log(`redundancy: cache file ${path}: ${problem}; recomputing it`);
    return undefined;
  }

  private async write<T>(path: string, name: string, key: string, value: T): Promise<void> {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new Error(`redundancy cache: ${name} has no JSON value`);
    const file: Omit<CacheFile<T>, "value"> = {
      format: CACHE_FORMAT,
      version: CACHE_FILE_VERSION,
      name,
      key,
      sha256: valueChecksum(JSON.parse(text)),
    };
    // The value's text as hashed, after the envelope.
    await writeFileAtomic(path, `${JSON.stringify(file).slice(0, -1)},"value":${text}}`);
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
