import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseMode } from "../intervene/stage.js";
import { InputError, UserError } from "../util/errors.js";
import { readJsonFileSync } from "../util/json.js";
import { SITES, type Site } from "../util/neurons.js";

/**
 * Settings of `codeneurons run`: the paper's whole analysis for one model and one code corpus. Every
 * field is optional in the file (RUN_CONFIG_FILE_SCHEMA, published as
 * docs/schemas/codeneurons-run-config.schema.json); paths are relative to the config file. DEFAULTS are
 * the paper's settings (12000/1620/2040-token task, all layers, average aggregation, the 6×6 λ grid).
 * RunConfig is the config with every default filled in, as run.json records it.
 */

/** The package root (…/dist/run/config.js or …/src/run/config.ts → …). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** `codeneurons run --demo`: the bundled model on the bundled Java slice. */
export const DEMO_CONFIG = join(ROOT, "demo", "config.json");

const nonNegative = z
  .number()
  .int({ error: "must be a non-negative integer" })
  .min(0, "must be a non-negative integer");
const positive = z.number().int({ error: "must be a positive integer" }).min(1, "must be a positive integer");
const openFraction = z.number().gt(0, "must be in (0, 1)").lt(1, "must be in (0, 1)");
const site = z.enum(SITES, { error: `must be one of ${SITES.join(", ")}` });
const text = z.string({ error: "must be a non-empty string" }).min(1, "must be a non-empty string");

export const RUN_CONFIG_SCHEMA = z.object({
  /** Hugging Face model directory or hub id. */
  model: z.string(),
  /**
   * The neurons the analysis (probe, redundancy, concepts, report) is about: the residual stream
   * ("hidden", the paper's) or every block's MLP neurons ("mlp"). Extraction keeps this site.
   */
  site,
  data: z.object({
    /** Language of the code (java, python, javascript, …; see `codeneurons label --help`). */
    language: z.string(),
    /** Lines are already tokenized (tokens separated by spaces), as in the paper's Java data. */
    pretokenized: z.boolean(),
    train: z.string(),
    valid: z.string(),
    test: z.string(),
  }),
  task: z.object({
    seed: nonNegative,
    /** Tokens per class in train, valid, test. */
    caps: z.tuple([positive, positive, positive]),
    control: z.enum(["distribution", "uniform"]),
  }),
  extract: z.object({
    /** Hidden-state layers (null = all). */
    layers: z.array(nonNegative).nullable(),
    /** Sites to store (default: the residual stream, plus the MLP neurons when `site` is "mlp"). */
    sites: z.array(site),
    aggregation: z.enum(["first", "last", "average"]),
    dtype: z.enum(["float32", "float16"]),
    batchTokens: positive,
  }),
  redundancy: z.object({
    seed: nonNegative,
    deltas: z.array(openFraction),
    thresholds: z.array(openFraction),
    /** Steps to run (null = all). */
    steps: z.array(z.string()).nullable(),
    /** "all": accuracy at every percentage (full curves for the report); "until-target": stop at the minimal set. */
    curves: z.enum(["all", "until-target"]),
  }),
  concepts: z.object({
    /** LCA weight mass for the top neurons of each class. */
    percentage: z.number().gt(0, "must be in (0, 1]").max(1, "must be in (0, 1]"),
  }),
  /**
   * The causal check of the concept analysis (src/intervene/): change the top-K neurons of one class
   * inside the model's forward pass for each K of `ks`, and the class's concept neurons, and measure
   * the model's own predictions per class against `controls` random sets of the same size and layers.
   * Off by default: it runs the model over the test split 1 + (|ks| + 1) × (1 + controls) times.
   */
  intervene: z.object({
    enabled: z.boolean(),
    /** The class whose neurons are changed; null: the concept with the most concept neurons. */
    class: z.string().nullable(),
    /** The experiment the headline quotes: the top-k neurons (k is added to `ks`). */
    k: positive,
    /** Sweep sizes; those beyond the class's ranking are left out. */
    ks: z.array(positive),
    /** zero | mean | scale:K | set:V. */
    mode: z.string(),
    controls: nonNegative,
    seed: nonNegative,
  }),
  report: z.object({ png: z.boolean() }),
});
export type RunConfig = z.infer<typeof RUN_CONFIG_SCHEMA>;

const bool = z.boolean({ error: "must be true or false" });

/** A config file: every section and field optional (the defaults fill them in). */
export const RUN_CONFIG_FILE_SCHEMA = z
  .object({
    model: text.optional(),
    site: site.optional(),
    data: z
      .object({
        language: text.optional(),
        pretokenized: bool.optional(),
        train: text.optional(),
        valid: text.optional(),
        test: text.optional(),
      })
      .optional(),
    task: z
      .object({
        seed: nonNegative.optional(),
        caps: z
          .array(positive, { error: "must be [train, valid, test]" })
          .length(3, "must be [train, valid, test]")
          .optional(),
        control: z
          .enum(["distribution", "uniform"], { error: "must be one of distribution, uniform" })
          .optional(),
      })
      .optional(),
    extract: z
      .object({
        layers: z.array(nonNegative, { error: "must be a list of layer numbers" }).nullable().optional(),
        sites: z
          .array(site, { error: `must be a list of distinct values from ${SITES.join(", ")}` })
          .min(1, `must be a list of distinct values from ${SITES.join(", ")}`)
          .refine(
            (s) => new Set(s).size === s.length,
            `must be a list of distinct values from ${SITES.join(", ")}`,
          )
          .optional(),
        aggregation: z
          .enum(["first", "last", "average"], { error: "must be one of first, last, average" })
          .optional(),
        dtype: z.enum(["float32", "float16"], { error: "must be one of float32, float16" }).optional(),
        batchTokens: positive.optional(),
      })
      .optional(),
    redundancy: z
      .object({
        seed: nonNegative.optional(),
        deltas: z.array(openFraction, { error: "must be a list of numbers in (0, 1)" }).optional(),
        thresholds: z.array(openFraction, { error: "must be a list of numbers in (0, 1)" }).optional(),
        steps: z.array(z.string(), { error: "must be a list of step names" }).nullable().optional(),
        curves: z.enum(["all", "until-target"], { error: "must be one of all, until-target" }).optional(),
      })
      .optional(),
    concepts: z
      .object({ percentage: z.number().gt(0, "must be in (0, 1]").max(1, "must be in (0, 1]").optional() })
      .optional(),
    intervene: z
      .object({
        enabled: bool.optional(),
        class: text.nullable().optional(),
        k: positive.optional(),
        ks: z
          .array(positive, { error: "must be a list of positive integers" })
          .min(1, "must be a list of positive integers")
          .optional(),
        mode: text.optional(),
        controls: nonNegative.optional(),
        seed: nonNegative.optional(),
      })
      .optional(),
    report: z.object({ png: bool.optional() }).optional(),
  })
  .describe("codeneurons run --config FILE: the analysis settings (every field optional)");
export type RunConfigFile = z.infer<typeof RUN_CONFIG_FILE_SCHEMA>;

export const DEFAULT_CONFIG: Omit<RunConfig, "model" | "data"> & {
  data: Pick<RunConfig["data"], "language" | "pretokenized">;
} = {
  site: "hidden",
  data: { language: "java", pretokenized: true },
  task: { seed: 1, caps: [2000, 270, 340], control: "distribution" },
  extract: { layers: null, sites: ["hidden"], aggregation: "average", dtype: "float32", batchTokens: 1024 },
  redundancy: {
    seed: 1,
    deltas: [0.03, 0.02, 0.01],
    thresholds: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    steps: null,
    curves: "until-target",
  },
  concepts: { percentage: 0.05 },
  intervene: {
    enabled: false,
    class: null,
    k: 10,
    ks: [1, 2, 5, 10, 20, 50],
    mode: "zero",
    controls: 10,
    seed: 1,
  },
  report: { png: true },
};

/** Reads a config file; `overrides` (from the command line) win over the file. */
export function readRunConfig(
  file: string | undefined,
  overrides: { model?: string; data?: string; site?: Site } = {},
): RunConfig {
  const json: RunConfigFile = file ? readJsonFileSync(file, RUN_CONFIG_FILE_SCHEMA) : {};
  const where = file ?? "(command line)";
  // Paths are relative to the config file (or to the working directory without one).
  const dir = file ? dirname(resolve(file)) : process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const d = DEFAULT_CONFIG;
  const data = json.data ?? {};
  const dataDir = overrides.data ? resolve(overrides.data) : undefined;
  const split = (name: "train" | "valid" | "test") => {
    if (dataDir) return resolve(dataDir, `${name}.in`);
    const p = data[name];
    if (p === undefined) throw new InputError(where, "must be a non-empty string", { field: `data.${name}` });
    return path(p);
  };
  const model = overrides.model ?? json.model;
  if (model === undefined)
    throw new InputError(where, 'no model: give --model or a "model" field', { field: "model" });
  const analysed = overrides.site ?? json.site ?? d.site;
  // The analysed site must be extracted; by default it is, besides the residual stream.
  const sites = json.extract?.sites ?? (analysed === "hidden" ? [...d.extract.sites] : ["hidden", analysed]);
  if (!sites.includes(analysed))
    throw new InputError(
      where,
      `the analysis is on the ${analysed} site, which extract.sites (${sites.join(", ")}) leaves out`,
      { field: "site" },
    );
  const caps = json.task?.caps ?? d.task.caps;
  const iv = json.intervene ?? {};
  const mode = iv.mode ?? d.intervene.mode;
  try {
    parseMode(mode);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new InputError(where, `must be zero, mean, scale:K or set:V; got '${mode}'`, {
      field: "intervene.mode",
    });
  }
  const k = iv.k ?? d.intervene.k;
  return {
    model: overrides.model ?? (looksLikePath(model) ? path(model) : model),
    site: analysed,
    data: {
      language: data.language ?? d.data.language,
      pretokenized: data.pretokenized ?? d.data.pretokenized,
      train: split("train"),
      valid: split("valid"),
      test: split("test"),
    },
    task: {
      seed: json.task?.seed ?? d.task.seed,
      caps: [caps[0], caps[1], caps[2]],
      control: json.task?.control ?? d.task.control,
    },
    extract: {
      layers: json.extract?.layers === undefined ? d.extract.layers : json.extract.layers,
      // In the order extraction writes them.
      sites: SITES.filter((s) => sites.includes(s)),
      aggregation: json.extract?.aggregation ?? d.extract.aggregation,
      dtype: json.extract?.dtype ?? d.extract.dtype,
      batchTokens: json.extract?.batchTokens ?? d.extract.batchTokens,
    },
    redundancy: {
      seed: json.redundancy?.seed ?? d.redundancy.seed,
      deltas: json.redundancy?.deltas ?? d.redundancy.deltas,
      thresholds: json.redundancy?.thresholds ?? d.redundancy.thresholds,
      steps: json.redundancy?.steps ?? null,
      curves: json.redundancy?.curves ?? d.redundancy.curves,
    },
    concepts: { percentage: json.concepts?.percentage ?? d.concepts.percentage },
    intervene: {
      enabled: iv.enabled ?? d.intervene.enabled,
      class: iv.class ?? d.intervene.class,
      k,
      ks: [...new Set([...(iv.ks ?? d.intervene.ks), k])].sort((a, b) => a - b),
      mode: mode.trim(),
      controls: iv.controls ?? d.intervene.controls,
      seed: iv.seed ?? d.intervene.seed,
    },
    report: { png: json.report?.png ?? d.report.png },
  };
}

/** A hub id is `org/name`; anything starting with . or / or holding a backslash is a path. */
function looksLikePath(model: string): boolean {
  return (
    model.startsWith(".") || model.startsWith("/") || model.includes("\\") || model.split("/").length > 2
  );
}
