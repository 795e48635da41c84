import { z } from "zod";
import { InputError } from "../util/errors.js";
import { checkValue } from "../util/json.js";
import { readText, splitLines } from "./io.js";

/** A JSON object read from a file, with the 1-based line where it starts (for error messages). */
export interface JsonRecord {
  value: Record<string, unknown>;
  line: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses JSONL text: one object per non-blank line. */
export function parseJsonl(text: string, file: string): JsonRecord[] {
  const lines = splitLines(text);
  const out: JsonRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim().length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (e) {
      throw new InputError(file, `not valid JSON (${(e as Error).message})`, { line: i + 1 });
    }
    if (!isObject(value)) throw new InputError(file, "expected a JSON object on this line", { line: i + 1 });
    out.push({ value, line: i + 1 });
  }
  return out;
}

/**
 * Parses a JSON array of objects. Line numbers are found by scanning for the start of each top-level
 * element, so that errors about a record can name its line.
 */
export function parseJsonArray(text: string, file: string): JsonRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(value)) throw new InputError(file, "expected a JSON array of objects");
  const lines = elementLines(text);
  return value.map((v, i) => {
    if (!isObject(v)) throw new InputError(file, `element ${i} is not an object`, { line: lines[i] });
    return { value: v, line: lines[i] ?? 1 };
  });
}

/** 1-based line where each top-level array element starts (valid JSON assumed). */
function elementLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (expectElement && !/\s/.test(c) && c !== "]") {
      out.push(line);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth === 1 && c === "[") expectElement = true;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expectElement = true;
  }
  return out;
}

/** Reads `.jsonl` (one object per line) or `.json` (an array of objects, or JSONL content). */
export async function readJsonRecords(file: string): Promise<JsonRecord[]> {
  const text = await readText(file);
  if (/\.jsonl$/i.test(file) || !text.trimStart().startsWith("[")) return parseJsonl(text, file);
  return parseJsonArray(text, file);
}

/** A field's value checked by `schema`; errors name the file, the record's line and the field. */
function requireChecked<T>(rec: JsonRecord, field: string, file: string, schema: z.ZodType<T>): T {
  if (!Object.hasOwn(rec.value, field))
    throw new InputError(file, "missing field", { line: rec.line, field });
  const r = checkValue(schema, rec.value[field]);
  if (!r.ok) throw new InputError(file, r.detail, { line: rec.line, field });
  return r.value;
}

export function requireField(rec: JsonRecord, field: string, file: string): unknown {
  return requireChecked(rec, field, file, z.unknown());
}

export function requireStringField(rec: JsonRecord, field: string, file: string): string {
  return requireChecked(rec, field, file, z.string());
}

/** An integer label (0/1 in CodeXGLUE); also accepts "0"/"1" strings and booleans. */
const INT_LABEL = z.union(
  [
    z.number().int(),
    z.boolean().transform(Number),
    z
      .string()
      .regex(/^-?\d+$/)
      .transform(Number),
  ],
  { error: "expected an integer" },
);

export function requireIntField(rec: JsonRecord, field: string, file: string): number {
  return requireChecked(rec, field, file, INT_LABEL);
}
