import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { SITES, type Site } from "../store/format.js";
import { InputError } from "../util/errors.js";

/**
 * Settings of `codeneurons run`: the paper's whole analysis for one model and one code corpus. Every
 * field is optional in the file; paths are relative to the config file. DEFAULTS are the paper's
 * settings (12000/1620/2040-token task, all layers, average aggregation, the 6×6 λ grid).
 */
export interface RunConfig {
  /** Hugging Face model directory or hub id. */
  model: string;
  /**
   * The neurons the analysis (probe, redundancy, concepts, report) is about: the residual stream
   * ("hidden", the paper's) or every block's MLP neurons ("mlp"). Extraction keeps this site.
   */
  site: Site;
  data: {
    /** Language of the code (java, python, javascript, …; see `codeneurons label --help`). */
    language: string;
    /** Lines are already tokenized (tokens separated by spaces), as in the paper's Java data. */
    pretokenized: boolean;
    train: string;
    valid: string;
    test: string;
  };
  task: {
    seed: number;
    /** Tokens per class in train, valid, test. */
    caps: [number, number, number];
    control: "distribution" | "uniform";
  };
  extract: {
    /** Hidden-state layers (null = all). */
    layers: number[] | null;
    /** Sites to store (default: the residual stream, plus the MLP neurons when `site` is "mlp"). */
    sites: Site[];
    aggregation: "first" | "last" | "average";
    dtype: "float32" | "float16";
    batchTokens: number;
  };
  redundancy: {
    seed: number;
    deltas: number[];
    thresholds: number[];
    /** Steps to run (null = all). */
    steps: string[] | null;
    /** "all": accuracy at every percentage (full curves for the report); "until-target": stop at the minimal set. */
    curves: "all" | "until-target";
  };
  concepts: {
    /** LCA weight mass for the top neurons of each class. */
    percentage: number;
  };
  report: { png: boolean };
}

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
  report: { png: true },
};

type Json = Record<string, unknown>;

class ConfigReader {
  constructor(
    private readonly file: string,
    private readonly dir: string,
  ) {}

  private fail(field: string, why: string): never {
    throw new InputError(this.file, why, { field });
  }

  section(obj: Json, key: string): Json {
    const v = obj[key];
    if (v === undefined) return {};
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(key, "must be an object");
    return v as Json;
  }

  string(obj: Json, key: string, path: string, fallback?: string): string {
    const v = obj[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string" || v === "") this.fail(path, "must be a non-empty string");
    return v;
  }

  path(obj: Json, key: string, path: string, fallback?: string): string {
    const v = this.string(obj, key, path, fallback);
    return isAbsolute(v) ? v : resolve(this.dir, v);
  }

  bool(obj: Json, key: string, path: string, fallback: boolean): boolean {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") this.fail(path, "must be true or false");
    return v;
  }

  number(
    obj: Json,
    key: string,
    path: string,
    fallback: number,
    check: (n: number) => boolean,
    what: string,
  ): number {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || !check(v)) this.fail(path, `must be ${what}`);
    return v;
  }

  numbers(
    obj: Json,
    key: string,
    path: string,
    fallback: number[] | null,
    check: (n: number) => boolean,
    what: string,
  ): number[] | null {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (v === null) return null;
    if (!Array.isArray(v) || !v.every((n) => typeof n === "number" && check(n)))
      this.fail(path, `must be a list of ${what}`);
    return v as number[];
  }

  /** A list of distinct values from `allowed`; absent: `fallback`. */
  someOf<T extends string>(obj: Json, key: string, path: string, fallback: T[], allowed: readonly T[]): T[] {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (
      !Array.isArray(v) ||
      v.length === 0 ||
      !v.every((x) => typeof x === "string" && (allowed as readonly string[]).includes(x)) ||
      new Set(v).size !== v.length
    )
      this.fail(path, `must be a list of distinct values from ${allowed.join(", ")}`);
    return v as T[];
  }

  oneOf<T extends string>(obj: Json, key: string, path: string, fallback: T, allowed: readonly T[]): T {
    const v = obj[key];
    if (v === undefined) return fallback;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v))
      this.fail(path, `must be one of ${allowed.join(", ")}`);
    return v as T;
  }
}

const isInt = (n: number) => Number.isInteger(n) && n >= 0;

/** Reads a config file; `overrides` (from the command line) win over the file. */
export function readRunConfig(
  file: string | undefined,
  overrides: { model?: string; data?: string; site?: Site } = {},
): RunConfig {
  let json: Json = {};
  let dir = process.cwd();
  if (file) {
    dir = dirname(resolve(file));
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new InputError(
        file,
        `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    try {
      json = JSON.parse(text) as Json;
    } catch (e) {
      throw new InputError(file, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw new InputError(file, "must hold a JSON object");
  }
  const r = new ConfigReader(file ?? "(command line)", dir);
  const d = DEFAULT_CONFIG;
  const data = r.section(json, "data");
  const dataDir = overrides.data ? resolve(overrides.data) : undefined;
  const split = (name: string) =>
    dataDir ? resolve(dataDir, `${name}.in`) : r.path(data, name, `data.${name}`, undefined);
  if (!overrides.model && json.model === undefined)
    throw new InputError(file ?? "(command line)", 'no model: give --model or a "model" field', {
      field: "model",
    });
  const task = r.section(json, "task");
  const extract = r.section(json, "extract");
  const red = r.section(json, "redundancy");
  const concepts = r.section(json, "concepts");
  const report = r.section(json, "report");
  const caps = r.numbers(
    task,
    "caps",
    "task.caps",
    [...d.task.caps],
    (n) => isInt(n) && n > 0,
    "positive integers",
  );
  if (caps?.length !== 3)
    throw new InputError(file ?? "(command line)", "must be [train, valid, test]", { field: "task.caps" });
  const steps = red.steps;
  if (
    steps !== undefined &&
    steps !== null &&
    !(Array.isArray(steps) && steps.every((s) => typeof s === "string"))
  ) {
    throw new InputError(file ?? "(command line)", "must be a list of step names", {
      field: "redundancy.steps",
    });
  }
  const site = overrides.site ?? r.oneOf(json, "site", "site", d.site, SITES);
  // The analysed site must be extracted; by default it is, besides the residual stream.
  const sites = r.someOf(
    extract,
    "sites",
    "extract.sites",
    site === "hidden" ? [...d.extract.sites] : ["hidden", site],
    SITES,
  );
  if (!sites.includes(site))
    throw new InputError(
      file ?? "(command line)",
      `the analysis is on the ${site} site, which extract.sites (${sites.join(", ")}) leaves out`,
      { field: "site" },
    );
  return {
    model:
      overrides.model ??
      (looksLikePath(String(json.model)) ? r.path(json, "model", "model") : r.string(json, "model", "model")),
    site,
    data: {
      language: r.string(data, "language", "data.language", d.data.language),
      pretokenized: r.bool(data, "pretokenized", "data.pretokenized", d.data.pretokenized),
      train: split("train"),
      valid: split("valid"),
      test: split("test"),
    },
    task: {
      seed: r.number(task, "seed", "task.seed", d.task.seed, isInt, "a non-negative integer"),
      caps: caps as [number, number, number],
      control: r.oneOf(task, "control", "task.control", d.task.control, ["distribution", "uniform"] as const),
    },
    extract: {
      layers: r.numbers(extract, "layers", "extract.layers", d.extract.layers, isInt, "layer numbers"),
      // In the order extraction writes them.
      sites: SITES.filter((s) => sites.includes(s)),
      aggregation: r.oneOf(extract, "aggregation", "extract.aggregation", d.extract.aggregation, [
        "first",
        "last",
        "average",
      ] as const),
      dtype: r.oneOf(extract, "dtype", "extract.dtype", d.extract.dtype, ["float32", "float16"] as const),
      batchTokens: r.number(
        extract,
        "batchTokens",
        "extract.batchTokens",
        d.extract.batchTokens,
        (n) => isInt(n) && n > 0,
        "a positive integer",
      ),
    },
    redundancy: {
      seed: r.number(red, "seed", "redundancy.seed", d.redundancy.seed, isInt, "a non-negative integer"),
      deltas:
        r.numbers(
          red,
          "deltas",
          "redundancy.deltas",
          d.redundancy.deltas,
          (n) => n > 0 && n < 1,
          "numbers in (0, 1)",
        ) ?? d.redundancy.deltas,
      thresholds:
        r.numbers(
          red,
          "thresholds",
          "redundancy.thresholds",
          d.redundancy.thresholds,
          (n) => n > 0 && n < 1,
          "numbers in (0, 1)",
        ) ?? d.redundancy.thresholds,
      steps: (steps as string[] | null | undefined) ?? null,
      curves: r.oneOf(red, "curves", "redundancy.curves", d.redundancy.curves, [
        "all",
        "until-target",
      ] as const),
    },
    concepts: {
      percentage: r.number(
        concepts,
        "percentage",
        "concepts.percentage",
        d.concepts.percentage,
        (n) => n > 0 && n <= 1,
        "in (0, 1]",
      ),
    },
    report: { png: r.bool(report, "png", "report.png", d.report.png) },
  };
}

/** A hub id is `org/name`; anything starting with . or / or holding a backslash is a path. */
function looksLikePath(model: string): boolean {
  return (
    model.startsWith(".") || model.startsWith("/") || model.includes("\\") || model.split("/").length > 2
  );
}
