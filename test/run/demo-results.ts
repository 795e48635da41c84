/**
 * The demo's results in a form that can be compared across commits: every results JSON with wall-clock
 * fields and absolute paths taken out, and a sha256 of every other file the demo writes (texts, task
 * files, activation shards, figures). The fixture under test/fixtures/demo-results/ was written by
 * `npx tsx test/run/write-demo-fixture.ts` at the commit before the redesign of issue 16; demo.test.ts
 * checks that the redesigned code still writes the same numbers.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Keys that hold wall-clock time or dates: they differ on every run and are not results. */
const TIMING_KEY = /^(seconds|createdAt|[a-z]+Seconds)$/;
/**
 * redundancy.json's input fingerprint and step keys identify cache entries; they hash the absolute
 * paths of the run, so they differ between output folders.
 */
const CACHE_KEY = /^(fingerprint|key)$/;

/**
 * Files that are not results: the redundancy cache's entries are keyed by hashes of the cache format;
 * a compressed model's graph and its copies of the model's tokenizer files (issue 14: model.onnx's
 * numbers are checked through its card's accuracy, demo.test.ts; its bytes change with any change of
 * the graph builders that computes the same).
 */
function skipped(rel: string): boolean {
  if (rel.startsWith("compressed/")) return !/^compressed\/[^/]+\/(card|run-record)\.json$/.test(rel);
  return rel.startsWith("redundancy/cache/");
}

export interface NormalizedResults {
  /** Results JSON files by path under the output folder (forward slashes), normalized. */
  json: Record<string, unknown>;
  /** sha256 of every other file by path. */
  sha256: Record<string, string>;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** Replace absolute paths by `<out>` / `<root>` and drop timing keys, recursively. */
export function normalizeValue(value: unknown, out: string, root: string): unknown {
  if (typeof value === "string") return normalizeText(value, out, root);
  if (Array.isArray(value)) return value.map((v) => normalizeValue(v, out, root));
  if (value !== null && typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (TIMING_KEY.test(key) || CACHE_KEY.test(key)) continue;
      result[key] = normalizeValue(v, out, root);
    }
    return result;
  }
  return value;
}

/** Paths of this run replaced by placeholders. */
function normalizeText(text: string, out: string, root: string): string {
  return text.split(out).join("<out>").split(root).join("<root>");
}

/** The report's HTML states when it was made. */
const ISO_DATE = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;

/** Every file the demo wrote under `out`, normalized; `root` is the repository (model and data paths). */
export function normalizeResults(out: string, root: string): NormalizedResults {
  const json: Record<string, unknown> = {};
  const sha256: Record<string, string> = {};
  for (const path of listFiles(out)) {
    const rel = relative(out, path).split(sep).join("/");
    if (skipped(rel)) continue;
    if (rel.endsWith(".json")) {
      json[rel] = normalizeValue(JSON.parse(readFileSync(path, "utf8")), out, root);
    } else if (rel.endsWith(".html")) {
      const text = normalizeText(readFileSync(path, "utf8"), out, root).replace(ISO_DATE, "<date>");
      sha256[rel] = createHash("sha256").update(text).digest("hex");
    } else {
      sha256[rel] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  }
  return { json, sha256 };
}

/**
 * JSON text with arrays of numbers or strings on one line: the fixture stays readable in a diff
 * without one line per number.
 */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/\[\n\s*([^[\]{}]*?)\n\s*\]/g, (_, body: string) => {
    return `[${body.split(/,\n\s*/).join(", ")}]`;
  });
}

type Json = Record<string, unknown>;

/**
 * The changes issue 16 made to the demo's results files on purpose, applied to the fixture of the
 * commit before it: every JSON file names its format and version in one style (`format`, hyphenated),
 * what differs between runs moved to run-record.json files, probe.json states its weights layout. No
 * number changes: every value of the fixture must be found where the redesign moved it.
 */
export function upgradeFixture(json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const envelope = (format: string, version: number, body: Json): Json => ({ format, version, ...body });
  for (const [file, value] of Object.entries(json)) {
    const v = value as Json;
    if (/^activations\/[a-z]+\/shards\/\d+\.json$/.test(file))
      out[file] = envelope("codeneurons-shard", 1, v);
    else if (file === "probe/probe.json") out[file] = { ...v, version: 3, weightsLayout: "outputs × inputs" };
    else if (file === "probe/metrics.json") out[file] = envelope("codeneurons-probe-metrics", 1, v);
    else if (file === "probe/rankings.json") out[file] = envelope("codeneurons-rankings", 1, v);
    // Version 4 of concepts.json (issue 18) names its rows (`population`), version 4 of report-data.json
    // adds the guard rails (`baseline`), per-class metrics and populations, and the heatmaps' weights:
    // new content, in the fixture's files.
    else if (file === "concepts/concepts.json") out[file] = renamed(v, "codeneurons-concepts", 4);
    else if (file === "report-data.json") out[file] = renamed(v, "codeneurons-report-data", 4);
    else if (file === "redundancy/cka.json") out[file] = envelope("codeneurons-cka", 1, v);
    else if (file === "redundancy/redundancy.json") {
      // computed / cached / probesFitted / clusterings are of the run: redundancy/run-record.json.
      const { run, ...rest } = renamed(v, "codeneurons-redundancy", 3);
      out[file] = { ...rest, skipped: (run as Json).skipped };
    }
    // Version 2 (issue 18): the headline's `baseline`; version 3 (issue 13): config.intervene and
    // headline.intervention; version 4 (issue 18): the config's task kind and fields; version 5 (issue
    // 14): config.compress and headline.compressed. New content, in the fixture's run.json.
    else if (file === "run.json") out[file] = envelope("codeneurons-run", 5, v);
    // Version 2 (issue 18) records how the task TSVs quote fields; the demo's tokens need no quoting.
    else if (file === "task/summary.json")
      out[file] = { ...envelope("codeneurons-task", 2, v), tsvQuoting: "csv" };
    else if (file === "task/wordlists.json") out[file] = envelope("codeneurons-wordlists", 1, { lists: v });
    else out[file] = v;
  }
  return out;
}

/** `schema: "codeneurons.x"` of version n−1 → `format: "codeneurons-x"` of version n. */
function renamed(v: Json, format: string, version: number): Json {
  const { schema: _schema, version: _version, ...rest } = v;
  return { format, version, ...rest };
}

/**
 * Files the redesign added: each stage's run record and the label stage's meta files; (issue 17)
 * each store's words.json, the record of its words.txt and labels.txt. The intervention stage's
 * results (issue 13: intervene/intervention.json, the sweep figure's spec) are in the fixture itself;
 * (issue 19) the latent-concept stage's latent.json and run record are new files here, their numbers
 * pinned through report-data.json's `latent` section and the figure's spec
 * (report/figures/latent-alignment.vl.json) in the fixture.
 */
export const NEW_FILES = [
  "activations/train/words.json",
  "activations/valid/words.json",
  "activations/test/words.json",
  "run-record.json",
  "probe/run-record.json",
  "redundancy/run-record.json",
  "concepts/run-record.json",
  "intervene/run-record.json",
  "data/train.meta.json",
  "data/valid.meta.json",
  "data/test.meta.json",
  // Issue 14: the LS+CC+LCA set compressed by `npm start` (its accuracy is checked in demo.test.ts).
  "compressed/ls-cc-lca/card.json",
  "compressed/ls-cc-lca/run-record.json",
  "latent/latent.json",
  "latent/run-record.json",
];
