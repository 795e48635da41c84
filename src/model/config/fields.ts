import { z } from "zod";
import { InputError } from "../../util/errors.js";
import { checkJson } from "../../util/json.js";

/**
 * Typed reads of config.json fields through the one JSON checker (util/json.ts). Every error names the
 * file and the field, and says what was expected and what was found, so that a user can fix the
 * config (or see it is not a model we run). Hugging Face configs are foreign files with many optional
 * fields and family-specific fallbacks, so they are read field by field rather than by one schema.
 */
export type Json = Record<string, unknown>;

const shown = (v: unknown) => JSON.stringify(v);

/** A zod check whose failure message is `expected <what>, got <value>`. */
function expecting<T>(what: string, test: (v: unknown) => v is T): z.ZodType<T> {
  return z.custom<T>(test, { error: (issue) => `expected ${what}, got ${shown(issue.input)}` });
}

const isSafeInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

function read<T>(schema: z.ZodType<T>, cfg: Json, key: string, file: string): T {
  return checkJson(schema, cfg[key], file, key);
}

export function int(cfg: Json, key: string, file: string, opts: { min: number; fallback?: number }): number {
  const v = cfg[key];
  if ((v === undefined || v === null) && opts.fallback !== undefined) return opts.fallback;
  if (v === undefined || v === null) return read(z.never({ error: "missing" }), cfg, key, file);
  const n = read(expecting("an integer", isSafeInt), cfg, key, file);
  return read(
    expecting(`an integer >= ${opts.min}`, (x): x is number => x === n && n >= opts.min),
    cfg,
    key,
    file,
  );
}

export function optionalInt(cfg: Json, key: string, file: string, fallback: number | null): number | null {
  const v = cfg[key];
  if (v === undefined) return fallback;
  if (v === null) return null;
  return read(
    expecting("a non-negative integer or null", (x): x is number => isSafeInt(x) && x >= 0),
    cfg,
    key,
    file,
  );
}

/** bos/eos ids: an integer, null, or (Llama 3 style) a list whose first entry is used. */
export function optionalTokenId(
  cfg: Json,
  key: string,
  file: string,
  fallback: number | null,
): number | null {
  const v = cfg[key];
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    return optionalInt({ [key]: v[0] }, key, file, fallback);
  }
  return optionalInt(cfg, key, file, fallback);
}

export function float(cfg: Json, key: string, file: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  return read(
    expecting(
      "a non-negative number",
      (x): x is number => typeof x === "number" && Number.isFinite(x) && x >= 0,
    ),
    cfg,
    key,
    file,
  );
}

export function positiveFloat(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (v === undefined || v === null) return read(z.never({ error: "missing" }), cfg, key, file);
  return read(
    expecting("a positive number", (x): x is number => typeof x === "number" && Number.isFinite(x) && x > 0),
    cfg,
    key,
    file,
  );
}

export function bool(cfg: Json, key: string, file: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  return read(z.boolean({ error: "expected true or false" }), cfg, key, file);
}

export function stringList(cfg: Json, key: string, file: string): string[] {
  const v = cfg[key];
  if (v === undefined || v === null) return [];
  return read(z.array(z.string(), { error: "expected a list of strings" }), cfg, key, file);
}

export function optionalString(cfg: Json, key: string, file: string): string | null {
  const v = cfg[key];
  if (v === undefined || v === null) return null;
  return read(
    expecting("a string", (x): x is string => typeof x === "string"),
    cfg,
    key,
    file,
  );
}

/** A nested object (rope_parameters, rope_scaling); null when absent. */
export function optionalObject(cfg: Json, key: string, file: string): Json | null {
  const v = cfg[key];
  if (v === undefined || v === null) return null;
  return read(
    expecting("an object", (x): x is Json => typeof x === "object" && x !== null && !Array.isArray(x)),
    cfg,
    key,
    file,
  );
}

/** `value` must be one of `allowed`; the error lists them. */
export function oneOf<T extends string>(
  value: string,
  allowed: readonly T[],
  file: string,
  field: string,
  what: string,
): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError(
    file,
    `unsupported ${what} ${JSON.stringify(value)} (supported: ${allowed.join(", ")})`,
    { field },
  );
}
