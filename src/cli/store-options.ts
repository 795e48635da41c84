import { readFile } from "node:fs/promises";
import { SITES, type Site } from "../store/format.js";
import { InputError, UserError } from "../util/errors.js";
import { parseIntList } from "./options.js";

/** Parsers of the options that say which activations to store or read: sites, dtype, parts, lines. */

export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UserError(`--${name}: one of ${allowed.join(", ")}; got '${value}'`);
  return value as T;
}

/** `--sites hidden,mlp`; `--ffn` is the older spelling of adding the MLP site. */
export function parseSites(spec: string | undefined, ffn?: boolean): Site[] {
  const names = (spec ?? "hidden").split(",").map((s) => s.trim());
  const sites = names.map((n) => oneOf("sites", n, SITES));
  if (ffn && !sites.includes("mlp")) sites.push("mlp");
  return SITES.filter((s) => sites.includes(s));
}

export function parseDType(d: string): "float16" | "float32" {
  if (d !== "float16" && d !== "float32") throw new UserError(`--dtype: float16 or float32, got '${d}'`);
  return d;
}

/** `--shard K/N`: part K (0-based) of N. */
export function parsePart(spec: string | undefined): { index: number; count: number } | undefined {
  if (spec === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  if (!m) throw new UserError(`--shard: expected K/N (e.g. 0/8), got '${spec}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new UserError(`--shard: need 0 <= K < N, got ${spec}`);
  return { index, count };
}

/**
 * `--lines`: a list like 0-99,200, or @FILE with such a list (commas, spaces or newlines). Long lists
 * belong in a file: onnxruntime's native code crashed (SIGSEGV) here when the process had a single
 * 60 KB command-line argument.
 */
export async function readLineList(spec: string): Promise<number[]> {
  if (!spec.startsWith("@")) return parseIntList("lines")(spec);
  const file = spec.slice(1);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const list = text
    .split(/[\s,]+/)
    .filter(Boolean)
    .join(",");
  try {
    return list === "" ? [] : parseIntList("lines")(list);
  } catch (e) {
    throw new InputError(file, `not a list of line numbers and ranges (${(e as Error).message})`);
  }
}
