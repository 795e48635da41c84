import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { COMPRESSED_CARD_SCHEMA } from "../../src/compress/format.js";
import { FILE_FORMATS, type RedundancyResults } from "../../src/index.js";
import { readRunConfig } from "../../src/run/config.js";
import { RUN_FILE_SCHEMA } from "../../src/run/format.js";
import { runAnalysis } from "../../src/run/run.js";
import { NEW_FILES, normalizeResults, upgradeFixture } from "./demo-results.js";

const ROOT = join(import.meta.dirname, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "demo-results");

function fixtureJson(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".json") && path !== join(FIXTURE, "sha256.json"))
        out[relative(FIXTURE, path).split(sep).join("/")] = JSON.parse(readFileSync(path, "utf8"));
    }
  };
  walk(FIXTURE);
  return out;
}

/** The first few places where two JSON values differ, as `path: expected → actual`. */
function differences(expected: unknown, actual: unknown, path = "", found: string[] = []): string[] {
  if (found.length >= 10) return found;
  if (
    typeof expected !== "object" ||
    typeof actual !== "object" ||
    expected === null ||
    actual === null ||
    Array.isArray(expected) !== Array.isArray(actual)
  ) {
    if (!Object.is(expected, actual))
      found.push(
        `${path || "(root)"}: ${JSON.stringify(expected)?.slice(0, 80)} → ${JSON.stringify(actual)?.slice(0, 80)}`,
      );
    return found;
  }
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  for (const key of new Set([...Object.keys(e), ...Object.keys(a)]))
    differences(e[key], a[key], `${path}.${key}`, found);
  return found;
}

/**
 * Every JSON file the demo wrote names a known format and satisfies its schema exactly: the schema
 * keeps every field (zod drops fields it does not know, so a field missing from a schema shows here).
 */
function checkFormats(out: string): void {
  const formats = [
    ...FILE_FORMATS,
    { name: "codeneurons-run", format: "codeneurons-run", schema: RUN_FILE_SCHEMA },
  ];
  for (const file of jsonFiles(out)) {
    const rel = relative(out, file).split(sep).join("/");
    // Vega-Lite specs are not ours; the redundancy cache is internal (checked by its content keys); a
    // compressed model's tokenizer files are the model's.
    if (rel.startsWith("report/figures/") || rel.startsWith("redundancy/cache/")) continue;
    if (rel.startsWith("compressed/") && !/\/(card|run-record)\.json$/.test(rel)) continue;
    const value = JSON.parse(readFileSync(file, "utf8")) as { format?: string };
    const name = rel.endsWith("plan.json") ? `${value.format}-plan` : value.format;
    const format = formats.find((f) => f.name === name);
    expect(format, `${rel}: format ${value.format}`).toBeDefined();
    expect(format!.schema.parse(value), rel).toEqual(value);
  }
}

/**
 * Issue 14: the model `npm start` compresses labels the run's test rows, from their words, with the
 * accuracy the redundancy run reported for its set (LS+CC+LCA), to 4 decimals, agreeing with the run's
 * probe on every row.
 */
function checkCompressed(out: string): void {
  const card = COMPRESSED_CARD_SCHEMA.parse(
    JSON.parse(readFileSync(join(out, "compressed", "ls-cc-lca", "card.json"), "utf8")),
  );
  const r = JSON.parse(readFileSync(join(out, "redundancy", "redundancy.json"), "utf8")) as RedundancyResults;
  const row = r.summary.find((s) => s.name === "LS+CC+LCA")!;
  expect(card.accuracy.measured.rows).toBe(r.input.rows.test);
  expect(card.accuracy.measured.accuracy.toFixed(4)).toBe(row.accuracy.toFixed(4));
  expect(card.accuracy.measured.agreement).toBe(r.input.rows.test);
  expect(card.set.ids.length).toBe(row.neurons);
  expect(card.layers.blocks).toBe(Math.max(...card.set.ids.map((id) => Math.floor(id / r.input.width))));
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith(".json") ? [path] : [];
  });
}

describe("the demo's results (issue 16: the redesign keeps them bit-identical)", () => {
  it("codeneurons run --demo writes the numbers of test/fixtures/demo-results", async () => {
    const out = mkdtempSync(join(tmpdir(), "cn-demo-"));
    try {
      await runAnalysis(readRunConfig(join(ROOT, "demo", "config.json")), out, { quiet: true });
      const actual = normalizeResults(out, ROOT);
      const expected = upgradeFixture(fixtureJson());
      expect(Object.keys(actual.json).sort()).toEqual([...Object.keys(expected), ...NEW_FILES].sort());
      const report: string[] = [];
      for (const [file, value] of Object.entries(expected)) {
        for (const d of differences(value, actual.json[file])) report.push(`${file} ${d}`);
      }
      expect(report).toEqual([]);
      expect(actual.sha256).toEqual(JSON.parse(readFileSync(join(FIXTURE, "sha256.json"), "utf8")));
      checkFormats(out);
      checkCompressed(out);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    // About 1 min alone; several minutes when other suites share the 2 cores (as on the dev machine).
  }, 600_000);
});
