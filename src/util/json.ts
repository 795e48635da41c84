import { InputError } from "./errors.js";

/**
 * A small checker for JSON read from files: every failure is an InputError naming the file and the
 * field path (e.g. `cka.matrix[2][5]`), so that a user can find the bad value.
 */
export class JsonChecker {
  constructor(readonly file: string) {}

  fail(path: string, detail: string): never {
    throw new InputError(this.file, detail, { field: path || "(top level)" });
  }

  object(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(path, `expected an object, got ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  array(value: unknown, path: string, length?: number): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `expected an array, got ${describe(value)}`);
    if (length !== undefined && value.length !== length) {
      this.fail(path, `expected ${length} entries, got ${value.length}`);
    }
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== "string") this.fail(path, `expected a string, got ${describe(value)}`);
    return value;
  }

  number(value: unknown, path: string, range?: { min?: number; max?: number }): number {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.fail(path, `expected a finite number, got ${describe(value)}`);
    }
    if (range?.min !== undefined && value < range.min) this.fail(path, `${value} is below ${range.min}`);
    if (range?.max !== undefined && value > range.max) this.fail(path, `${value} is above ${range.max}`);
    return value;
  }

  integer(value: unknown, path: string, min = 0): number {
    const n = this.number(value, path, { min });
    if (!Number.isInteger(n)) this.fail(path, `expected an integer, got ${n}`);
    return n;
  }

  numbers(value: unknown, path: string, length?: number, range?: { min?: number; max?: number }): number[] {
    return this.array(value, path, length).map((v, i) => this.number(v, `${path}[${i}]`, range));
  }

  nullableNumbers(value: unknown, path: string, length?: number, range?: { min?: number; max?: number }) {
    return this.array(value, path, length).map((v, i) =>
      v === null ? null : this.number(v, `${path}[${i}]`, range),
    );
  }

  integers(value: unknown, path: string, length?: number, min = 0): number[] {
    return this.array(value, path, length).map((v, i) => this.integer(v, `${path}[${i}]`, min));
  }

  strings(value: unknown, path: string, length?: number): string[] {
    return this.array(value, path, length).map((v, i) => this.string(v, `${path}[${i}]`));
  }

  optional<T>(
    obj: Record<string, unknown>,
    key: string,
    path: string,
    read: (v: unknown, p: string) => T,
  ): T | undefined {
    const v = obj[key];
    return v === undefined || v === null ? undefined : read(v, join(path, key));
  }
}

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
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
    throw new InputError(file, `invalid JSON: ${detail}`, { line });
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
