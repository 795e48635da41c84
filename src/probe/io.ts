import { writeJsonAtomic } from "../util/atomic.js";
import { parseJsonText, readJsonFile } from "../util/json.js";
import { type ProbeFile, parseProbeFile } from "./format.js";
import { LogisticProbe } from "./logistic.js";
import { LinearRegressionProbe } from "./regression.js";

export type Probe = LogisticProbe | LinearRegressionProbe;

function probeOf(p: ProbeFile, file: string): Probe {
  return p.kind === "logistic" ? LogisticProbe.fromFile(p, file) : LinearRegressionProbe.fromFile(p, file);
}

/** Parses a saved probe (either kind, any version); malformed input raises an InputError naming `file` and the field. */
export function parseProbe(text: string, file: string): Probe {
  return probeOf(parseProbeFile(parseJsonText(text, file), file), file);
}

export async function loadProbe(path: string): Promise<Probe> {
  return probeOf(await readJsonFile(path, parseProbeFile), path);
}

/** Writes the probe as JSON atomically (a partial file never looks complete). */
export async function saveProbe(path: string, probe: Probe): Promise<void> {
  await writeJsonAtomic(path, probe.toJSON());
}
