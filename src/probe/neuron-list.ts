import { readFile } from "node:fs/promises";
import { errorMessage, InputError } from "../util/errors.js";
import {
  checkSite,
  namePattern,
  neuronLayer,
  neuronName,
  parseNeuronName,
  recordedSite,
  type SpaceLike,
  spaceOf,
} from "../util/neurons.js";

/**
 * A neuron list file (`probe --neurons`): a JSON array of ids or names, or an object `{neurons: [...],
 * site?}`, or whitespace/comma-separated text. Ids and names are of `space` (`L3:17`, or `L3.mlp:17`
 * for the MLP site); every neuron must sit in one of `layers` (the stored layers of the site).
 */
export async function readNeuronList(file: string, space: SpaceLike, layers: number[]): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(file, `cannot read (${errorMessage(e)})`);
  }
  return parseNeuronList(text, file, space, layers);
}

export function parseNeuronList(
  text: string,
  file: string,
  spaceLike: SpaceLike,
  layers: number[],
): number[] {
  const space = spaceOf(spaceLike);
  let items: { value: unknown; where: { line?: number; field?: string } }[];
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new InputError(file, `not valid JSON: ${errorMessage(e)}`);
    }
    const object = Array.isArray(value) ? null : (value as { neurons?: unknown; site?: unknown } | null);
    // A list that says its site (as probe and rankings files do) must be of the analysis' site: bare ids
    // of two sites look alike.
    if (object?.site !== undefined) checkSite(recordedSite(object.site, file), space.site, file);
    const list = Array.isArray(value) ? value : object?.neurons;
    if (!Array.isArray(list))
      throw new InputError(file, "expected a JSON list of neurons", { field: "neurons" });
    items = list.map((v, i) => ({ value: v, where: { field: `neurons[${i}]` } }));
  } else {
    items = [];
    text.split("\n").forEach((line, i) => {
      for (const tok of line.split(/[\s,]+/).filter(Boolean))
        items.push({ value: tok, where: { line: i + 1 } });
    });
  }
  const seen = new Set<number>();
  const out: number[] = [];
  for (const { value, where } of items) {
    const id = neuronOf(value, space, file, where);
    if (!layers.includes(neuronLayer(id, space))) {
      const site = space.site === "hidden" ? "" : ` ${space.site}`;
      throw new InputError(
        file,
        `neuron ${neuronName(id, space)} is in a layer the store does not hold (stored${site} layers ${layers.join(",")})`,
        where,
      );
    }
    if (!seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  if (out.length === 0) throw new InputError(file, "the neuron list is empty");
  return out;
}

function neuronOf(
  value: unknown,
  space: SpaceLike,
  file: string,
  where: { line?: number; field?: string },
): number {
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
    const id = Number(value);
    if (Number.isSafeInteger(id) && id >= 0) return id;
  } else if (typeof value === "string") {
    try {
      return parseNeuronName(value, space);
    } catch (e) {
      throw new InputError(file, errorMessage(e), where);
    }
  }
  throw new InputError(
    file,
    `'${String(value)}' is not a neuron id or ${namePattern(spaceOf(space).site)} name`,
    where,
  );
}
