import { readFile } from "node:fs/promises";
import { z } from "zod";
import { errorMessage, InputError } from "../util/errors.js";
import { checkJson, parseJsonText } from "../util/json.js";
import {
  checkSite,
  NeuronRefError,
  type NeuronSpace,
  namePattern,
  neuronLayer,
  neuronName,
  parseNeuronRef,
  SITES,
  type SpaceLike,
  spaceOf,
} from "../util/neurons.js";

const NEURON_REFS_SCHEMA = z.array(z.union([z.number(), z.string()]), {
  error: "expected a JSON list of neurons",
});

/** A JSON neuron list: the list itself, or an object holding it (probe.json, another tool's file). */
const NEURON_LIST_SCHEMA = z.object({
  neurons: NEURON_REFS_SCHEMA,
  site: z.enum(SITES).optional(),
});

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
    const json = parseJsonText(trimmed, file);
    const value = Array.isArray(json)
      ? { neurons: checkJson(NEURON_REFS_SCHEMA, json, file, "neurons") }
      : checkJson(NEURON_LIST_SCHEMA, json, file);
    // A list that says its site (as probe and rankings files do) must be of the analysis' site: bare ids
    // of two sites look alike.
    if (value.site !== undefined) checkSite(value.site, space.site, file);
    items = value.neurons.map((v, i) => ({ value: v, where: { field: `neurons[${i}]` } }));
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
  space: NeuronSpace,
  file: string,
  where: { line?: number; field?: string },
): number {
  if (typeof value === "number" || typeof value === "string") {
    try {
      // A name of the other site is refused in this list's space: ids of two sites look alike.
      return parseNeuronRef(value, space.site, () => space).id;
    } catch (e) {
      if (!(e instanceof NeuronRefError)) throw e;
      if (e.reason === "out-of-range" || typeof value === "number")
        throw new InputError(file, e.message, where);
    }
  }
  throw new InputError(
    file,
    `'${String(value)}' is not a neuron id or ${namePattern(space.site)} name`,
    where,
  );
}
