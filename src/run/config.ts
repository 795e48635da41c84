import { existsSync } from "node:fs";
import { dirname, extname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { SET_NAMES } from "../compress/format.js";
import { defaultTaskClasses, isLabelLanguage, LABEL_LANGUAGES, type LabelLanguage } from "../data/label.js";
import { SENTENCE_FORMATS, type SentenceFormat } from "../data/sentence/index.js";
import { SPLITS, type SplitName } from "../data/splits.js";
import { parserOf } from "../data/stage.js";
import { parseMode } from "../intervene/stage.js";
import { InputError, UserError } from "../util/errors.js";
import { readJsonFileSync } from "../util/json.js";
import { SITES, type Site } from "../util/neurons.js";

/**
 * Settings of `codeneurons run`: the paper's whole analysis for one model and one code corpus. Every
 * field is optional in the file (RUN_CONFIG_FILE_SCHEMA, published as
 * docs/schemas/codeneurons-run-config.schema.json). Paths in a config file are relative to the file
 * itself (not to the working directory), so that a config and its data travel together: the shipped
 * config/paper.json names ../data/java-token-lines and works from a clone and from an install.
 * DEFAULTS are the paper's settings (12000/1620/2040-token task, all layers, average aggregation, the
 * 6×6 λ grid). RunConfig is the config with every default filled in, as run.json records it.
 *
 * The task kinds: token tagging (any language `codeneurons label` knows, its classes chosen from the
 * language's labels) and binary concept tasks, on code the label stage tokenizes; the sentence-level
 * tasks of the paper in their CodeXGLUE formats (devign, bigclonebench and cosqa, the last two pairs).
 */

/** The package root (…/dist/run/config.js or …/src/run/config.ts → …). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const TASK_KINDS = ["token-tagging", "binary", ...SENTENCE_FORMATS] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export function isSentenceKind(kind: TaskKind): kind is SentenceFormat {
  return (SENTENCE_FORMATS as readonly string[]).includes(kind);
}

/**
 * `codeneurons run --demo [name]`: the bundled model on a bundled sample of a kind of task, offline
 * (demo/README.md says where each sample comes from). "java" is the paper's task, `npm start`. The devign
 * and bigclonebench samples are synthetic, in their datasets' formats (scripts/make-demo-devign.ts,
 * scripts/make-demo-bigclonebench.ts): run the real datasets with `--data DIR` on the CodeXGLUE files.
 */
export const DEMOS = {
  java: "config.json",
  python: "python.json",
  binary: "binary.json",
  cosqa: "cosqa.json",
  devign: "devign.json",
  bigclonebench: "bigclonebench.json",
} as const;
export type DemoName = keyof typeof DEMOS;
export const DEMO_NAMES = Object.keys(DEMOS) as DemoName[];

export function isDemoName(name: string): name is DemoName {
  return Object.hasOwn(DEMOS, name);
}

/** The config file of a demo. */
export function demoConfig(name: DemoName = "java"): string {
  return join(ROOT, "demo", DEMOS[name]);
}

/** Where a demo's results go by default: demo-results/ for the paper's Java demo, demo-results-NAME/ else. */
export function demoResultsDir(name: DemoName = "java"): string {
  return name === "java" ? "demo-results" : `demo-results-${name}`;
}

/** `codeneurons run --demo`: the bundled model on the bundled Java slice. */
export const DEMO_CONFIG = demoConfig("java");

const nonNegative = z
  .number()
  .int({ error: "must be a non-negative integer" })
  .min(0, "must be a non-negative integer");
const positive = z.number().int({ error: "must be a positive integer" }).min(1, "must be a positive integer");
const openFraction = z.number().gt(0, "must be in (0, 1)").lt(1, "must be in (0, 1)");
const site = z.enum(SITES, { error: `must be one of ${SITES.join(", ")}` });
const text = z.string({ error: "must be a non-empty string" }).min(1, "must be a non-empty string");
const names = z
  .array(text, { error: "must be a list of names" })
  .min(1, "must be a list of at least one name");
const kind = z.enum(TASK_KINDS, { error: `must be one of ${TASK_KINDS.join(", ")}` });
const parser = z.enum(["native", "tree-sitter"], { error: "must be one of native, tree-sitter" });

export const RUN_CONFIG_SCHEMA = z.object({
  /** Hugging Face model directory or hub id. */
  model: z.string(),
  /**
   * The neurons the analysis (probe, redundancy, concepts, report) is about: the residual stream
   * ("hidden", the paper's) or every block's MLP neurons ("mlp"). Extraction keeps this site.
   */
  site,
  data: z.object({
    /**
     * Language of the code. Token kinds: the labeler's (java, python, javascript, …; `codeneurons label
     * --help`). Sentence kinds: recorded only (devign: c, bigclonebench: java, cosqa: python).
     */
    language: z.string(),
    /** Token kinds: the lines are already tokenized (tokens separated by spaces), as the paper's Java data. */
    pretokenized: z.boolean(),
    /** Token kinds, Java and Python: the native lexer (the paper's labels) or tree-sitter. */
    parser,
    /** Token kinds: leave out (and record) lines that do not lex instead of failing. */
    skipBadLines: z.boolean(),
    /** Token kinds, .json / .jsonl inputs: the field that holds the code. */
    field: z.string(),
    /**
     * The splits. Token kinds: code (a source file, token lines, or .json / .jsonl records);
     * devign: .jsonl of {func, target}; cosqa: .json of {doc, code, label}; bigclonebench: the pair
     * files (idx1, idx2, label per line).
     */
    train: z.string(),
    valid: z.string(),
    test: z.string(),
    /** bigclonebench: data.jsonl with the functions by idx (null: data.jsonl beside the train pairs). */
    functions: z.string().nullable(),
  }),
  task: z.object({
    kind,
    seed: nonNegative,
    /** Token kinds: tokens per class in train, valid, test. */
    caps: z.tuple([positive, positive, positive]),
    control: z.enum(["distribution", "uniform"]),
    /** Token tagging: the classes (the language's by default), closed classes, classes taken unseen first. */
    classes: z.array(z.string()).nullable(),
    closedClasses: z.array(z.string()).nullable(),
    preferUnseen: z.array(z.string()).nullable(),
    /** Binary: tokens of these labels are positive … */
    labels: z.array(z.string()).nullable(),
    /** … or tokens whose text matches this regular expression (JavaScript, u flag). */
    regex: z.string().nullable(),
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
    /** "all": accuracy at every percentage and prefix (full curves for the report); "until-target": stop at the minimal set and at LayerSelector's layers. */
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
  /** Latent concepts (ConceptX, `codeneurons latent`) on the train store; off unless asked (the demo asks). */
  latent: z.object({
    enabled: z.boolean(),
    /** Layers to cluster (null = every extracted layer of the site). */
    layers: z.array(nonNegative).nullable(),
    clusters: positive,
    /** Tokens sampled, and occurrences kept per word type. */
    tokens: positive,
    perType: positive,
    seed: nonNegative,
    /** Alignment threshold. */
    theta: z.number().gt(0, "must be in (0, 1]").max(1, "must be in (0, 1]"),
  }),
  report: z.object({ png: z.boolean() }),
  compress: z.object({
    /** The set of the redundancy summary written as a standalone model to OUT/compressed/ (null: none). */
    set: z.enum(SET_NAMES).nullable(),
    /** Timed runs of its speed comparison with the full model + oracle probe (0: none). */
    speedRuns: nonNegative,
  }),
});
export type RunConfig = z.infer<typeof RUN_CONFIG_SCHEMA>;

const bool = z.boolean({ error: "must be true or false" });

/** A config file: every section and field optional (the defaults fill them in). */
export const RUN_CONFIG_FILE_SCHEMA = z
  .object({
    /** Free text for people (what the config is for, where its data comes from); not read. */
    comment: z.string().optional(),
    model: text.optional(),
    site: site.optional(),
    data: z
      .object({
        language: text.optional(),
        pretokenized: bool.optional(),
        parser: parser.optional(),
        skipBadLines: bool.optional(),
        field: text.optional(),
        /** Relative to this config file. */
        train: text.optional(),
        valid: text.optional(),
        test: text.optional(),
        functions: text.optional(),
      })
      .optional(),
    task: z
      .object({
        kind: kind.optional(),
        seed: nonNegative.optional(),
        caps: z
          .array(positive, { error: "must be [train, valid, test]" })
          .length(3, "must be [train, valid, test]")
          .optional(),
        control: z
          .enum(["distribution", "uniform"], { error: "must be one of distribution, uniform" })
          .optional(),
        classes: names.optional(),
        closedClasses: z.array(text, { error: "must be a list of names" }).optional(),
        preferUnseen: z.array(text, { error: "must be a list of names" }).optional(),
        labels: names.optional(),
        regex: text.optional(),
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
    latent: z
      .object({
        enabled: bool.optional(),
        layers: z.array(nonNegative, { error: "must be a list of layer numbers" }).nullable().optional(),
        clusters: positive.optional(),
        tokens: positive.optional(),
        perType: positive.optional(),
        seed: nonNegative.optional(),
        theta: z.number().gt(0, "must be in (0, 1]").max(1, "must be in (0, 1]").optional(),
      })
      .optional(),
    report: z.object({ png: bool.optional() }).optional(),
    compress: z
      .object({
        set: z
          .enum(SET_NAMES, { error: `must be one of ${SET_NAMES.join(", ")}, or null` })
          .nullable()
          .optional(),
        speedRuns: nonNegative.optional(),
      })
      .optional(),
  })
  .describe(
    "codeneurons run --config FILE: the analysis settings (every field optional; paths relative to the file)",
  );
export type RunConfigFile = z.infer<typeof RUN_CONFIG_FILE_SCHEMA>;

export const DEFAULT_CONFIG: Omit<RunConfig, "model" | "data" | "task"> & {
  data: Pick<RunConfig["data"], "language" | "parser" | "skipBadLines" | "field">;
  task: Pick<RunConfig["task"], "kind" | "seed" | "caps" | "control">;
} = {
  site: "hidden",
  data: { language: "java", parser: "native", skipBadLines: false, field: "code" },
  task: { kind: "token-tagging", seed: 1, caps: [2000, 270, 340], control: "distribution" },
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
  // ConceptX's settings; off by default: on 13 layers of a base model it adds minutes.
  latent: { enabled: false, layers: null, clusters: 500, tokens: 20000, perType: 10, seed: 1, theta: 0.9 },
  report: { png: true },
  compress: { set: "ls+cc+lca", speedRuns: 3 },
};

/** The code language of each sentence-level dataset (recorded; these tasks are not labelled by token). */
const DATASET_LANGUAGE: Record<SentenceFormat, string> = {
  devign: "c",
  bigclonebench: "java",
  cosqa: "python",
};

/** What the command line sets; it wins over the config file. */
export interface RunOverrides {
  model?: string;
  /** A directory holding the three splits (file names by task kind: see dataFilesIn). */
  data?: string;
  site?: Site;
  lang?: string;
  kind?: TaskKind;
  classes?: string[];
  labels?: string[];
  regex?: string;
  caps?: [number, number, number];
  skipBadLines?: boolean;
}

/** Reads a config file; `overrides` (from the command line) win over the file. */
export function readRunConfig(file: string | undefined, overrides: RunOverrides = {}): RunConfig {
  const json: RunConfigFile = file ? readJsonFileSync(file, RUN_CONFIG_FILE_SCHEMA) : {};
  const where = file ?? "(command line)";
  // Paths are relative to the config file (or to the working directory without one).
  const dir = file ? dirname(resolve(file)) : process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const d = DEFAULT_CONFIG;
  const data = json.data ?? {};
  const task = json.task ?? {};
  const taskKind = overrides.kind ?? task.kind ?? d.task.kind;
  const sentence = isSentenceKind(taskKind);
  const language =
    overrides.lang ?? data.language ?? (sentence ? DATASET_LANGUAGE[taskKind] : d.data.language);
  if (!sentence && !isLabelLanguage(language))
    throw new InputError(where, `unknown language '${language}' (one of ${LABEL_LANGUAGES.join(", ")})`, {
      field: "data.language",
    });
  const files = overrides.data
    ? dataFilesIn(resolve(overrides.data), taskKind, language)
    : splitFiles(data, where, path);
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
  const caps = overrides.caps ?? task.caps ?? d.task.caps;
  const parserName = parserOf(language, data.parser);
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
      language,
      pretokenized:
        data.pretokenized ??
        (language === "java" && !sentence && SPLITS.every((s) => extname(files[s]) === ".in")),
      parser: parserName,
      skipBadLines: overrides.skipBadLines ?? data.skipBadLines ?? d.data.skipBadLines,
      field: data.field ?? d.data.field,
      ...files,
    },
    task: {
      kind: taskKind,
      seed: task.seed ?? d.task.seed,
      caps: [caps[0], caps[1], caps[2]],
      control: task.control ?? d.task.control,
      ...taskClasses(taskKind, language as LabelLanguage, parserName, task, overrides, where),
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
    latent: {
      enabled: json.latent?.enabled ?? d.latent.enabled,
      layers: json.latent?.layers === undefined ? d.latent.layers : json.latent.layers,
      clusters: json.latent?.clusters ?? d.latent.clusters,
      tokens: json.latent?.tokens ?? d.latent.tokens,
      perType: json.latent?.perType ?? d.latent.perType,
      seed: json.latent?.seed ?? d.latent.seed,
      theta: json.latent?.theta ?? d.latent.theta,
    },
    report: { png: json.report?.png ?? d.report.png },
    compress: {
      set: json.compress?.set === undefined ? d.compress.set : json.compress.set,
      speedRuns: json.compress?.speedRuns ?? d.compress.speedRuns,
    },
  };
}

type SplitFiles = Pick<RunConfig["data"], SplitName | "functions">;

function splitFiles(
  data: NonNullable<RunConfigFile["data"]>,
  where: string,
  path: (p: string) => string,
): SplitFiles {
  const split = (name: SplitName) => {
    const p = data[name];
    if (p === undefined)
      throw new InputError(where, "must be a non-empty string (or give --data DIR)", {
        field: `data.${name}`,
      });
    return path(p);
  };
  return {
    train: split("train"),
    valid: split("valid"),
    test: split("test"),
    functions: data.functions === undefined ? null : path(data.functions),
  };
}

/** Source-file extensions of the label languages, for `--data DIR`. */
const EXTENSIONS: Record<LabelLanguage, string> = {
  java: ".java",
  python: ".py",
  javascript: ".js",
  typescript: ".ts",
  tsx: ".tsx",
  c: ".c",
  cpp: ".cpp",
  go: ".go",
};

/**
 * `--data DIR`: the split files in DIR, named by split. Token kinds: train.in (token lines for Java,
 * source lines otherwise), train.jsonl / train.json (records with a code field) or train with the
 * language's extension (train.py); devign: train.jsonl; cosqa: train.json; bigclonebench: train.txt
 * pairs with data.jsonl.
 */
export function dataFilesIn(dir: string, kind: TaskKind, language: string): SplitFiles {
  const candidates: string[] =
    kind === "devign"
      ? [".jsonl", ".json"]
      : kind === "cosqa"
        ? [".json", ".jsonl"]
        : kind === "bigclonebench"
          ? [".txt"]
          : [".in", ".jsonl", ".json", ...(isLabelLanguage(language) ? [EXTENSIONS[language]] : [])];
  const find = (s: SplitName) => {
    const found = candidates.map((ext) => join(dir, `${s}${ext}`)).find((f) => existsSync(f));
    if (!found)
      throw new InputError(
        dir,
        `no ${s} split for a ${kind} task: expected ${candidates.map((ext) => `${s}${ext}`).join(" or ")}`,
      );
    return found;
  };
  return {
    train: find("train"),
    valid: find("valid"),
    test: find("test"),
    functions: kind === "bigclonebench" ? join(dir, "data.jsonl") : null,
  };
}

/** The task's classes (token tagging) or positive class (binary), checked and resolved. */
function taskClasses(
  kind: TaskKind,
  language: LabelLanguage,
  parserName: "native" | "tree-sitter",
  task: NonNullable<RunConfigFile["task"]>,
  o: RunOverrides,
  where: string,
): Pick<RunConfig["task"], "classes" | "closedClasses" | "preferUnseen" | "labels" | "regex"> {
  const none = { classes: null, closedClasses: null, preferUnseen: null, labels: null, regex: null };
  if (kind === "token-tagging") {
    const defaults = defaultTaskClasses(language, parserName);
    const classes = o.classes ?? task.classes ?? [...defaults.classes];
    const keep = (list: readonly string[]) => list.filter((c) => classes.includes(c));
    return {
      ...none,
      classes,
      closedClasses: task.closedClasses ?? keep(defaults.closed),
      preferUnseen: task.preferUnseen ?? keep(defaults.preferUnseen),
    };
  }
  if (kind === "binary") {
    const labels = o.labels ?? (o.regex === undefined ? task.labels : undefined) ?? null;
    const regex = o.regex ?? (o.labels === undefined ? task.regex : undefined) ?? null;
    if ((labels === null) === (regex === null))
      throw new UserError(
        `${where}: a binary task needs exactly one of task.labels (e.g. ["NUMBER"]) and task.regex (--label / --regex)`,
      );
    return { ...none, labels, regex };
  }
  return none;
}

/** A hub id is `org/name`; anything starting with . or / or holding a backslash is a path. */
function looksLikePath(model: string): boolean {
  return (
    model.startsWith(".") || model.startsWith("/") || model.includes("\\") || model.split("/").length > 2
  );
}
