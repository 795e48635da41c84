import { readFile } from "node:fs/promises";
import { writeJsonAtomic } from "../util/atomic.js";
import { errorMessage, InputError } from "../util/errors.js";
import { asObject } from "./linear-model.js";
import { LogisticProbe } from "./logistic.js";
import { LinearRegressionProbe } from "./regression.js";

export type Probe = LogisticProbe | LinearRegressionProbe;

/** Parses a saved probe (either kind); malformed input raises an InputError naming `file` and the field. */
export function parseProbe(text: string, file: string): Probe {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not valid JSON: ${errorMessage(e)}`);
  }
  const kind = asObject(value, file).kind;
  if (kind === "logistic") return LogisticProbe.fromJSON(value, file);
  if (kind === "linear") return LinearRegressionProbe.fromJSON(value, file);
  throw new InputError(file, `unknown probe kind ${JSON.stringify(kind)}`, { field: "kind" });
}

export async function loadProbe(path: string): Promise<Probe> {
  return parseProbe(await readFile(path, "utf8"), path);
}

/** Writes the probe as JSON atomically (a partial file never looks complete). */
export async function saveProbe(path: string, probe: Probe): Promise<void> {
  await writeJsonAtomic(path, probe.toJSON());
}
