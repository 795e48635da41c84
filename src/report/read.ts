import { readFile } from "node:fs/promises";
import { InputError } from "../util/errors.js";
import { JsonChecker, join, parseJsonText } from "../util/json.js";
import { recordedSite } from "../util/neurons.js";
import {
  type CkaMatrix,
  type ConceptNeuronCounts,
  type LayerAccuracy,
  type LayerDistribution,
  type NeuronCurves,
  type NeuronHeatmap,
  REPORT_SCHEMA,
  REPORT_VERSION,
  REPORT_VERSIONS_READ,
  type RedundancySummary,
  type ReportData,
} from "./types.js";

/** Reads and checks report-data.json; every problem names the file and the field. */
export async function readReportData(file: string): Promise<ReportData> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      file,
      code === "ENOENT"
        ? "not found: the pipeline writes it (its schema is ReportData in src/report/types.ts)"
        : `cannot read (${code})`,
    );
  }
  return parseReportData(parseJsonText(text, file), file);
}

const ACCURACY = { min: 0, max: 1 };

export function parseReportData(value: unknown, file: string): ReportData {
  const c = new JsonChecker(file);
  const o = c.object(value, "");
  if (o.schema !== REPORT_SCHEMA)
    c.fail("schema", `expected "${REPORT_SCHEMA}", got ${JSON.stringify(o.schema)}`);
  if (!REPORT_VERSIONS_READ.includes(o.version as number)) {
    c.fail(
      "version",
      `this codeneurons reads version ${REPORT_VERSIONS_READ.join(" or ")}, the file has ${JSON.stringify(o.version)}`,
    );
  }
  return {
    schema: REPORT_SCHEMA,
    version: REPORT_VERSION,
    // Version 1 had no site: its neurons are of the residual stream.
    site: recordedSite(o.site, file),
    title: c.optional(o, "title", "", (v, p) => c.string(v, p)),
    model: c.string(o.model, "model"),
    task: c.string(o.task, "task"),
    createdAt: c.optional(o, "createdAt", "", (v, p) => c.string(v, p)),
    notes: c.optional(o, "notes", "", (v, p) => c.strings(v, p)),
    layerAccuracy: c.optional(o, "layerAccuracy", "", (v, p) => layerAccuracy(c, v, p)),
    cka: c.optional(o, "cka", "", (v, p) => cka(c, v, p)),
    neuronCurves: c.optional(o, "neuronCurves", "", (v, p) => neuronCurves(c, v, p)),
    redundancy: c.optional(o, "redundancy", "", (v, p) => redundancy(c, v, p)),
    layerDistribution: c.optional(o, "layerDistribution", "", (v, p) => layerDistribution(c, v, p)),
    conceptNeurons: c.optional(o, "conceptNeurons", "", (v, p) => conceptNeurons(c, v, p)),
    heatmaps: c.optional(o, "heatmaps", "", (v, p) =>
      c.array(v, p).map((h, i) => heatmap(c, h, `${p}[${i}]`)),
    ),
  };
}

function layers(c: JsonChecker, value: unknown, path: string): number[] {
  const ls = c.integers(value, path);
  if (ls.length === 0) c.fail(path, "expected at least one layer");
  if (new Set(ls).size !== ls.length) c.fail(path, "layers repeat");
  return ls;
}

function layerAccuracy(c: JsonChecker, v: unknown, path: string): LayerAccuracy {
  const o = c.object(v, path);
  const ls = layers(c, o.layers, join(path, "layers"));
  return {
    layers: ls,
    independent: c.numbers(o.independent, join(path, "independent"), ls.length, ACCURACY),
    incremental: c.optional(o, "incremental", path, (x, p) => c.nullableNumbers(x, p, ls.length, ACCURACY)),
    control: c.optional(o, "control", path, (x, p) => c.nullableNumbers(x, p, ls.length, ACCURACY)),
    oracle: c.optional(o, "oracle", path, (x, p) => c.number(x, p, ACCURACY)),
  };
}

function cka(c: JsonChecker, v: unknown, path: string): CkaMatrix {
  const o = c.object(v, path);
  const ls = layers(c, o.layers, join(path, "layers"));
  const rows = c.array(o.matrix, join(path, "matrix"), ls.length);
  // Estimators of CKA can stray slightly outside [0, 1]; anything far outside is a wrong file.
  const range = { min: -0.5, max: 1.5 };
  return { layers: ls, matrix: rows.map((r, i) => c.numbers(r, `${path}.matrix[${i}]`, ls.length, range)) };
}

function neuronCurves(c: JsonChecker, v: unknown, path: string): NeuronCurves {
  const o = c.object(v, path);
  const total = c.integer(o.totalNeurons, join(path, "totalNeurons"), 1);
  const orderings = c.array(o.orderings, join(path, "orderings")).map((x, i) => {
    const p = `${path}.orderings[${i}]`;
    const ord = c.object(x, p);
    const points = c.array(ord.points, `${p}.points`).map((pt, j) => {
      const q = c.object(pt, `${p}.points[${j}]`);
      return {
        neurons: c.integer(q.neurons, `${p}.points[${j}].neurons`, 1),
        accuracy: c.number(q.accuracy, `${p}.points[${j}].accuracy`, ACCURACY),
      };
    });
    return { name: c.string(ord.name, `${p}.name`), points };
  });
  return {
    totalNeurons: total,
    oracle: c.optional(o, "oracle", path, (x, p) => c.number(x, p, ACCURACY)),
    orderings,
  };
}

function redundancy(c: JsonChecker, v: unknown, path: string): RedundancySummary {
  const o = c.object(v, path);
  const steps = c.array(o.steps, join(path, "steps")).map((x, i) => {
    const p = `${path}.steps[${i}]`;
    const s = c.object(x, p);
    return {
      step: c.string(s.step, `${p}.step`),
      neurons: c.integer(s.neurons, `${p}.neurons`, 0),
      accuracy: c.number(s.accuracy, `${p}.accuracy`, ACCURACY),
      reduction: c.number(s.reduction, `${p}.reduction`, { min: 0, max: 100 }),
      layers: c.optional(s, "layers", p, (y, q) => c.integers(y, q)),
      detail: c.optional(s, "detail", p, (y, q) => c.string(y, q)),
    };
  });
  return { totalNeurons: c.integer(o.totalNeurons, join(path, "totalNeurons"), 1), steps };
}

function layerDistribution(c: JsonChecker, v: unknown, path: string): LayerDistribution {
  const o = c.object(v, path);
  const ls = layers(c, o.layers, join(path, "layers"));
  const classes = c.array(o.classes, join(path, "classes")).map((x, i) => {
    const p = `${path}.classes[${i}]`;
    const k = c.object(x, p);
    return { name: c.string(k.name, `${p}.name`), counts: c.integers(k.counts, `${p}.counts`, ls.length) };
  });
  return { layers: ls, classes, description: c.optional(o, "description", path, (y, q) => c.string(y, q)) };
}

function conceptNeurons(c: JsonChecker, v: unknown, path: string): ConceptNeuronCounts {
  const o = c.object(v, path);
  const ls = layers(c, o.layers, join(path, "layers"));
  const concepts = c.array(o.concepts, join(path, "concepts")).map((x, i) => {
    const p = `${path}.concepts[${i}]`;
    const k = c.object(x, p);
    return { name: c.string(k.name, `${p}.name`), byLayer: c.integers(k.byLayer, `${p}.byLayer`, ls.length) };
  });
  const examples = c.optional(o, "examples", path, (x, p) =>
    c.array(x, p).map((e, i) => {
      const q = `${p}[${i}]`;
      const r = c.object(e, q);
      return {
        neuron: c.string(r.neuron, `${q}.neuron`),
        concept: c.string(r.concept, `${q}.concept`),
        direction: c.string(r.direction, `${q}.direction`),
        purity: c.number(r.purity, `${q}.purity`, { min: 0, max: 1 }),
        pValue: c.number(r.pValue, `${q}.pValue`, { min: 0, max: 1 }),
        words: c.strings(r.words, `${q}.words`),
      };
    }),
  );
  return { layers: ls, concepts, examples };
}

function heatmap(c: JsonChecker, v: unknown, path: string): NeuronHeatmap {
  const o = c.object(v, path);
  const neurons = c.array(o.neurons, join(path, "neurons")).map((x, i) => {
    const p = `${path}.neurons[${i}]`;
    const n = c.object(x, p);
    return { id: c.integer(n.id, `${p}.id`), name: c.string(n.name, `${p}.name`) };
  });
  const lines = c.array(o.lines, join(path, "lines")).map((x, i) => {
    const p = `${path}.lines[${i}]`;
    const l = c.object(x, p);
    const words = c.strings(l.words, `${p}.words`);
    const acts = c.array(l.activations, `${p}.activations`, neurons.length);
    return {
      sentence: c.integer(l.sentence, `${p}.sentence`),
      words,
      activations: acts.map((a, j) => c.numbers(a, `${p}.activations[${j}]`, words.length)),
    };
  });
  return { class: c.string(o.class, join(path, "class")), neurons, lines };
}
