import { z } from "zod";
import { readJsonFileSync } from "../../util/json.js";

/** Reads a JSON file of a model's tokenizer; a syntax error names the file and the line (util/json.ts). */
export function readJsonFile(path: string): unknown {
  return readJsonFileSync(path, z.unknown());
}

/** The field of an object, for messages; null when `value` is not an object or lacks it. */
export function field(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : null;
}
