import { InputError } from "../../util/errors.js";

/**
 * Typed reads of config.json fields. Every error names the file and the field, and says what was
 * expected and what was found, so that a user can fix the config (or see it is not a model we run).
 */
export type Json = Record<string, unknown>;

export function int(cfg: Json, key: string, file: string, opts: { min: number; fallback?: number }): number {
  const v = cfg[key];
  if ((v === undefined || v === null) && opts.fallback !== undefined) return opts.fallback;
  if (v === undefined || v === null) throw new InputError(file, "missing", { field: key });
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new InputError(file, `expected an integer, got ${JSON.stringify(v)}`, { field: key });
  }
  if (v < opts.min)
    throw new InputError(file, `expected an integer >= ${opts.min}, got ${v}`, { field: key });
  return v;
}

export function optionalInt(cfg: Json, key: string, file: string, fallback: number | null): number | null {
  const v = cfg[key];
  if (v === undefined) return fallback;
  if (v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InputError(file, `expected a non-negative integer or null, got ${JSON.stringify(v)}`, {
      field: key,
    });
  }
  return v;
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
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new InputError(file, `expected a non-negative number, got ${JSON.stringify(v)}`, { field: key });
  }
  return v;
}

export function positiveFloat(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (v === undefined || v === null) throw new InputError(file, "missing", { field: key });
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new InputError(file, `expected a positive number, got ${JSON.stringify(v)}`, { field: key });
  }
  return v;
}

export function bool(cfg: Json, key: string, file: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new InputError(file, `expected true or false`, { field: key });
  return v;
}

export function stringList(cfg: Json, key: string, file: string): string[] {
  const v = cfg[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw new InputError(file, "expected a list of strings", { field: key });
  }
  return v as string[];
}

export function optionalString(cfg: Json, key: string, file: string): string | null {
  const v = cfg[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string")
    throw new InputError(file, `expected a string, got ${JSON.stringify(v)}`, { field: key });
  return v;
}

/** A nested object (rope_parameters, rope_scaling); null when absent. */
export function optionalObject(cfg: Json, key: string, file: string): Json | null {
  const v = cfg[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new InputError(file, `expected an object, got ${JSON.stringify(v)}`, { field: key });
  }
  return v as Json;
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
