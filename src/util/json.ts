import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type ZodType, z } from "zod";
import { errorMessage, InputError } from "./errors.js";

/**
 * The one JSON checker: every JSON file codeneurons reads back goes through a zod schema here, and
 * every failure is an InputError naming the file and the field path (e.g. `cka.matrix[2][5]`), so that a
 * user can find the bad value. The schemas live beside the stage that writes each file (store/format.ts,
 * probe/format.ts, concepts/format.ts, …) and are published as JSON Schema in docs/schemas/.
 */

/** `a.b[2].c` for zod's path ["a", "b", 2, "c"]. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** A short description of a value for messages: `the string "abc"`, `null`, `an array`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}

const TYPE_NAMES: Record<string, string> = {
  object: "an object",
  array: "an array",
  string: "a string",
  number: "a finite number",
  int: "an integer",
  boolean: "true or false",
  null: "null",
};

/** zod's own messages begin so; a schema's own message (`{ error: "must be …" }`) is used as written. */
const ZOD_DEFAULT = /^(Invalid|Too (small|big)|Unrecognized)/;

function issueText(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return `missing (expected ${TYPE_NAMES[issue.expected] ?? issue.expected})`;
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describeValue(input)}`;
    case "invalid_value":
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${describeValue(input)}`;
    case "too_small":
      return issue.origin === "array"
        ? `expected ${issue.exact ? "" : "at least "}${issue.minimum} entries, got ${Array.isArray(input) ? input.length : "fewer"}`
        : issue.origin === "string"
          ? "must not be empty"
          : `${describeValue(input)} is below ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array"
        ? `expected ${issue.exact ? "" : "at most "}${issue.maximum} entries, got ${Array.isArray(input) ? input.length : "more"}`
        : `${describeValue(input)} is above ${issue.maximum}`;
    case "invalid_union": {
      // The branch that got furthest says most: its first issue.
      const deepest = issue.errors
        .map((branch) => branch[0])
        .filter((i): i is z.core.$ZodIssue => i !== undefined)
        .sort((a, b) => b.path.length - a.path.length)[0];
      return deepest ? issueText(deepest) : "matches none of the allowed shapes";
    }
    default:
      return issue.message;
  }
}

/** The path of an issue, following a union into its deepest branch (as issueText does). */
function issuePath(issue: z.core.$ZodIssue): PropertyKey[] {
  if (issue.code !== "invalid_union" || !ZOD_DEFAULT.test(issue.message)) return issue.path;
  const deepest = issue.errors
    .map((branch) => branch[0])
    .filter((i): i is z.core.$ZodIssue => i !== undefined)
    .sort((a, b) => b.path.length - a.path.length)[0];
  return deepest ? [...issue.path, ...issuePath(deepest)] : issue.path;
}

/** The first problem of `value` under `schema` (its field path and what is wrong), or the typed value. */
export function checkValue<T>(
  schema: ZodType<T>,
  value: unknown,
): { ok: true; value: T } | { ok: false; field: string; detail: string } {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return { ok: false, field: fieldPath(issuePath(issue)), detail: issueText(issue) };
}

/**
 * Checks `value` against `schema`; the result is typed. A failure is an InputError naming `file` and
 * the field of the first problem (prefixed with `field` when the value sits inside a larger file).
 */
export function checkJson<T>(schema: ZodType<T>, value: unknown, file: string, field = ""): T {
  const r = checkValue(schema, value);
  if (r.ok) return r.value;
  const at = field && r.field ? `${field}${r.field.startsWith("[") ? "" : "."}${r.field}` : field || r.field;
  throw new InputError(file, r.detail, { field: at || "(top level)" });
}

function readFailure(file: string, e: unknown, missing?: string): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new InputError(file, missing ?? "not found");
  return new InputError(file, `cannot read (${code ?? errorMessage(e)})`);
}

/** How a file's JSON is checked: a schema, or a reader of several versions (see readVersioned). */
export type JsonReader<T> = ZodType<T> | ((value: unknown, file: string) => T);

function check<T>(reader: JsonReader<T>, value: unknown, file: string): T {
  return typeof reader === "function" ? reader(value, file) : checkJson(reader, value, file);
}

/** Reads, parses and checks a JSON file. `missing`: what to say when it does not exist. */
export async function readJsonFile<T>(file: string, reader: JsonReader<T>, missing?: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw readFailure(file, e, missing);
  }
  return check(reader, parseJsonText(text, file), file);
}

export function readJsonFileSync<T>(file: string, reader: JsonReader<T>, missing?: string): T {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw readFailure(file, e, missing);
  }
  return check(reader, parseJsonText(text, file), file);
}

/**
 * A versioned file format: `format` names it (one style for every file: `codeneurons-<what>`) and
 * `version` counts its changes. Files written before the names were unified carry the name under
 * `schema` (`codeneurons.concepts`); `legacyName` recognises them.
 */
export interface FormatName {
  format: string;
  /** The current version (what the tool writes). */
  version: number;
  legacyName?: string;
}

/** The `format` and `version` fields of a file of the current version, for its schema. */
export function envelope<F extends string, V extends number>(format: F, version: V) {
  return { format: z.literal(format), version: z.literal(version) };
}

/**
 * Reads a file of any supported version of a format: the version decides which reader runs
 * (`readers[version]` checks that version's schema and upgrades the value to the current type).
 */
export function readVersioned<T>(
  value: unknown,
  file: string,
  name: FormatName,
  readers: Record<number, (value: unknown) => T>,
): T {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InputError(file, `expected a ${name.format} object, got ${describeValue(value)}`, {
      field: "(top level)",
    });
  const o = value as Record<string, unknown>;
  const named = o.format === name.format || (name.legacyName !== undefined && o.schema === name.legacyName);
  if (!named) {
    const found = o.format ?? o.schema;
    throw new InputError(file, `not a ${name.format} file (its format is ${describeValue(found)})`, {
      field: o.format === undefined && o.schema !== undefined ? "schema" : "format",
    });
  }
  const versions = Object.keys(readers).map(Number);
  const reader = typeof o.version === "number" ? readers[o.version] : undefined;
  if (!reader) {
    const newer = typeof o.version === "number" && o.version > Math.max(...versions);
    throw new InputError(
      file,
      `${newer ? "a newer version than this codeneurons reads" : "unsupported version"}: ${describeValue(o.version)} (this codeneurons reads version ${versions.slice(0, -1).join(", ")}${versions.length > 1 ? " or " : ""}${versions[versions.length - 1]})`,
      { field: "version" },
    );
  }
  return reader(value);
}

/** JSON.parse with an InputError naming the line of a syntax error. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // V8 names the position only for some errors ("Unexpected token … is not valid JSON" has none).
    const pos = /position (\d+)/.exec(message);
    const at = pos ? Number(pos[1]) : jsonErrorPosition(text);
    const line = text.slice(0, at).split("\n").length;
    const detail = message.length > 120 ? `${message.slice(0, 120)}…` : message;
    throw new InputError(file, `not valid JSON (${detail})`, { line });
  }
}

/**
 * Offset of the first syntax error of a text that JSON.parse rejected: a plain recursive-descent
 * scan that checks structure only (run on the error path, never on valid files).
 */
export function jsonErrorPosition(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "")) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 10000) fail();
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') string();
    else if (c === "t") literal("true");
    else if (c === "f") literal("false");
    else if (c === "n") literal("null");
    else number();
  };
  try {
    value(0);
    ws();
    return Math.min(i, text.length);
  } catch (at) {
    return typeof at === "number" ? Math.min(at, text.length) : 0;
  }
}
