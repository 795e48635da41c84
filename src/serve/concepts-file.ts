import { readFile } from "node:fs/promises";
import { CONCEPTS_SCHEMA, CONCEPTS_VERSION, type ConceptsResult } from "../concepts/result.js";
import { JsonChecker, parseJsonText } from "../util/json.js";
import { recordedSite } from "../util/neurons.js";

/**
 * Reads concepts.json for the explorer. The parts the explorer indexes (ids, class lists, concept
 * matches) are checked so that a damaged file fails at start-up with the field named, not mid-request.
 * A version 1 file (before sites) comes back as version 2 of the hidden site, its `hidden` the width.
 */
export async function readConceptsFile(file: string): Promise<ConceptsResult> {
  const value = parseJsonText(await readFile(file, "utf8"), file);
  const c = new JsonChecker(file);
  const o = c.object(value, "");
  if (o.schema !== CONCEPTS_SCHEMA)
    c.fail("schema", `expected "${CONCEPTS_SCHEMA}", got ${JSON.stringify(o.schema)}`);
  if (o.version !== 1 && o.version !== CONCEPTS_VERSION)
    c.fail("version", `expected 1 or ${CONCEPTS_VERSION}, got ${JSON.stringify(o.version)}`);
  const v1 = o.version === 1;
  const site = v1 ? "hidden" : recordedSite(o.site ?? null, file);
  const width = v1 ? c.integer(o.hidden, "hidden", 1) : c.integer(o.width, "width", 1);
  c.integers(o.layers, "layers");
  c.strings(o.classes, "classes");
  const top = c.object(o.topNeurons, "topNeurons");
  const perClass = c.object(top.perClass, "topNeurons.perClass");
  for (const [k, v] of Object.entries(perClass)) c.integers(v, `topNeurons.perClass.${k}`);
  c.array(o.neurons, "neurons").forEach((n, i) => {
    const r = c.object(n, `neurons[${i}]`);
    c.integer(r.id, `neurons[${i}].id`);
    c.strings(r.topFor, `neurons[${i}].topFor`);
    const words = c.object(r.topWords, `neurons[${i}].topWords`);
    c.array(words.positive, `neurons[${i}].topWords.positive`);
    c.array(words.negative, `neurons[${i}].topWords.negative`);
  });
  c.array(o.conceptNeurons, "conceptNeurons").forEach((m, i) => {
    const r = c.object(m, `conceptNeurons[${i}]`);
    c.integer(r.neuron, `conceptNeurons[${i}].neuron`);
    c.string(r.concept, `conceptNeurons[${i}].concept`);
    c.number(r.purity, `conceptNeurons[${i}].purity`);
    c.number(r.pValue, `conceptNeurons[${i}].pValue`);
  });
  c.array(o.concepts, "concepts").forEach((k, i) => {
    const r = c.object(k, `concepts[${i}]`);
    c.string(r.concept, `concepts[${i}].concept`);
    c.integer(r.count, `concepts[${i}].count`);
  });
  c.array(o.heatmaps, "heatmaps");
  const { hidden: _v1Width, ...rest } = o;
  return { ...rest, version: CONCEPTS_VERSION, site, width } as unknown as ConceptsResult;
}
