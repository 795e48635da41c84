/**
 * Writes test/fixtures/demo-results/ from a finished demo run: `npx tsx test/run/write-demo-fixture.ts
 * DEMO_OUT`. Run it only when the demo's results change on purpose, and say why in the commit.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { compactJson, normalizeResults } from "./demo-results.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "demo-results");

const out = process.argv[2];
if (!out) throw new Error("usage: write-demo-fixture.ts DEMO_OUT");
const results = normalizeResults(resolve(out), ROOT);
rmSync(FIXTURE, { recursive: true, force: true });
for (const [rel, value] of Object.entries(results.json)) {
  const path = join(FIXTURE, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${compactJson(value)}\n`);
}
writeFileSync(join(FIXTURE, "sha256.json"), `${JSON.stringify(results.sha256, null, 2)}\n`);
console.log(
  `${Object.keys(results.json).length} JSON files and ${Object.keys(results.sha256).length} hashes in ${FIXTURE}`,
);
