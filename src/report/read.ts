import { z } from "zod";
import { InputError } from "../util/errors.js";
import { checkJson, fieldPath, readJsonFile, readVersioned } from "../util/json.js";
import {
  type InterventionSection,
  REPORT_DATA_SCHEMA,
  REPORT_FORMAT,
  REPORT_LEGACY_NAME,
  REPORT_SECTIONS,
  REPORT_VERSION,
  type ReportData,
} from "./types.js";

/** Reads and checks report-data.json; every problem names the file and the field. */
export async function readReportData(file: string): Promise<ReportData> {
  return readJsonFile(
    file,
    parseReportData,
    "not found: the pipeline writes it (its schema is docs/schemas/codeneurons-report-data.schema.json)",
  );
}

const LEGACY_SCHEMA = z.object({
  schema: z.literal(REPORT_LEGACY_NAME),
  version: z.union([z.literal(1), z.literal(2)]),
  ...REPORT_SECTIONS,
});

/** Version 3: the sections of version 4 but the baseline, class metrics and populations (all optional). */
const V3_SCHEMA = z.object({ format: z.literal(REPORT_FORMAT), version: z.literal(3), ...REPORT_SECTIONS });

/** Any version of report-data.json, as the current version (version 1 has no site: the residual stream). */
export function parseReportData(value: unknown, file: string): ReportData {
  const current = { format: REPORT_FORMAT, version: REPORT_VERSION } as const;
  const legacy = (v: unknown): ReportData => {
    const { schema: _s, version: _v, ...rest } = checkJson(LEGACY_SCHEMA, v, file);
    return { ...current, ...rest, site: rest.site ?? "hidden" };
  };
  const data = readVersioned(
    value,
    file,
    { ...current, legacyName: REPORT_LEGACY_NAME },
    {
      1: legacy,
      2: legacy,
      3: (v) => {
        const { version: _v, ...rest } = checkJson(V3_SCHEMA, v, file);
        return { ...rest, ...current };
      },
      4: (v) => checkJson(REPORT_DATA_SCHEMA, v, file),
    },
  );
  checkLengths(data, file);
  return { ...data, site: data.site ?? "hidden" };
}

/** What the schema cannot say: lists that run along `layers` have one entry per layer. */
function checkLengths(d: ReportData, file: string): void {
  const issues: { path: (string | number)[]; expected: number; got: number }[] = [];
  const along = (list: unknown[] | undefined, n: number, path: (string | number)[]) => {
    if (list && list.length !== n) issues.push({ path, expected: n, got: list.length });
  };
  if (d.layerAccuracy) {
    const n = d.layerAccuracy.layers.length;
    along(d.layerAccuracy.independent, n, ["layerAccuracy", "independent"]);
    along(d.layerAccuracy.incremental, n, ["layerAccuracy", "incremental"]);
    along(d.layerAccuracy.control, n, ["layerAccuracy", "control"]);
  }
  if (d.cka) {
    const n = d.cka.layers.length;
    along(d.cka.matrix, n, ["cka", "matrix"]);
    for (const [i, row] of d.cka.matrix.entries()) along(row, n, ["cka", "matrix", i]);
  }
  if (d.layerDistribution) {
    const n = d.layerDistribution.layers.length;
    for (const [i, c] of d.layerDistribution.classes.entries())
      along(c.counts, n, ["layerDistribution", "classes", i, "counts"]);
  }
  if (d.conceptNeurons) {
    const n = d.conceptNeurons.layers.length;
    for (const [i, c] of d.conceptNeurons.concepts.entries())
      along(c.byLayer, n, ["conceptNeurons", "concepts", i, "byLayer"]);
  }
  for (const [i, h] of (d.heatmaps ?? []).entries())
    for (const [j, l] of h.lines.entries()) {
      along(l.activations, h.neurons.length, ["heatmaps", i, "lines", j, "activations"]);
      for (const [k, a] of l.activations.entries())
        along(a, l.words.length, ["heatmaps", i, "lines", j, "activations", k]);
    }
  for (const [i, c] of (d.latent?.samples ?? []).entries())
    for (const [j, x] of c.contexts.entries())
      if (x.position >= x.words.length)
        throw new InputError(file, `word ${x.position} of a ${x.words.length}-word line`, {
          field: fieldPath(["latent", "samples", i, "contexts", j, "position"]),
        });
  const [first] = issues;
  if (first)
    throw new InputError(file, `expected ${first.expected} entries, got ${first.got}`, {
      field: fieldPath(first.path),
    });
  if (d.intervention) checkIntervention(d.intervention, file);
}

/** Experiment indices point at experiments; every class has a score everywhere the tables look. */
function checkIntervention(iv: InterventionSection, file: string): void {
  const fail = (path: (string | number)[], message: string) => {
    throw new InputError(file, message, { field: fieldPath(["intervention", ...path]) });
  };
  const n = iv.experiments.length;
  if (iv.featured >= n) fail(["featured"], `expected an experiment index below ${n}, got ${iv.featured}`);
  for (const [i, p] of (iv.sweep?.points ?? []).entries())
    if (p.experiment >= n)
      fail(
        ["sweep", "points", i, "experiment"],
        `expected an experiment index below ${n}, got ${p.experiment}`,
      );
  const covered = (scores: Record<string, unknown>, path: (string | number)[]) => {
    const missing = iv.classes.find((c) => !Object.hasOwn(scores, c));
    if (missing !== undefined) fail(path, `no score for class '${missing}'`);
  };
  covered(iv.baseline.perClass, ["baseline", "perClass"]);
  for (const [i, e] of iv.experiments.entries()) {
    covered(e.after.perClass, ["experiments", i, "after", "perClass"]);
    covered(e.controls.perClass, ["experiments", i, "controls", "perClass"]);
  }
}
