import { readFileSync } from "node:fs";
import { InputError } from "../../util/errors.js";

/** Reads a JSON file; a syntax error names the file and the line where parsing failed. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseJson(path, text);
}

export function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const offset = errorOffset(text);
    const line = text.slice(0, offset).split("\n").length;
    throw new InputError(path, `not valid JSON (${(e as Error).message.slice(0, 120)})`, { line });
  }
}

/** The field of an object, for messages; null when `value` is not an object or lacks it. */
export function field(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : null;
}

/**
 * Where a JSON text stops being valid: V8's messages do not always give a position, so a small scanner
 * walks the grammar and returns the offset of the first character it cannot accept.
 */
export function errorOffset(text: string): number {
  let p = 0;
  const ws = () => {
    while (p < text.length && " \t\n\r".includes(text[p])) p++;
  };
  const fail = (): never => {
    throw p;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, p)) p += word.length;
    else fail();
  };
  const string = () => {
    if (text[p] !== '"') fail();
    p++;
    while (p < text.length && text[p] !== '"') {
      if (text.charCodeAt(p) < 0x20) fail();
      p += text[p] === "\\" ? 2 : 1;
    }
    if (p >= text.length) fail();
    p++;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(p, p + 400));
    if (!m || m[0].length === 0) fail();
    p += (m as RegExpExecArray)[0].length;
  };
  const member = (depth: number) => {
    ws();
    string();
    ws();
    if (text[p] !== ":") fail();
    p++;
    value(depth + 1);
  };
  const value = (depth: number): void => {
    if (depth > 1000) fail();
    ws();
    const c = text[p];
    if (c === "{") container("}", () => member(depth));
    else if (c === "[") container("]", () => value(depth + 1));
    else if (c === '"') string();
    else if (c === "t") literal("true");
    else if (c === "f") literal("false");
    else if (c === "n") literal("null");
    else number();
  };
  const container = (close: string, item: () => void) => {
    p++;
    ws();
    if (text[p] === close) {
      p++;
      return;
    }
    for (;;) {
      item();
      ws();
      if (text[p] === ",") p++;
      else if (text[p] === close) {
        p++;
        return;
      } else fail();
    }
  };
  try {
    value(0);
    ws();
    return Math.min(p, text.length);
  } catch (at) {
    return typeof at === "number" ? at : 0;
  }
}
