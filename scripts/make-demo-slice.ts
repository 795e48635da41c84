/**
 * Writes the demo's slice of the paper authors' Java token lines (../shared/data/java-token-lines):
 * a seeded random sample of lines from each split, kept in corpus order, so that `npm start` runs
 * offline on a fresh clone. Regenerate with:  npx tsx scripts/make-demo-slice.ts [SHARED_DATA_DIR]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../src/util/rng.js";

const SIZES = { train: 2400, valid: 800, test: 800 } as const;
const SEED = 7;
const source = process.argv[2] ?? join(import.meta.dirname, "..", "..", "shared", "data", "java-token-lines");
const out = join(import.meta.dirname, "..", "demo", "java");

for (const [split, n] of Object.entries(SIZES)) {
  const lines = readFileSync(join(source, `${split}.in`), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const picked = new Rng(SEED).permutation(lines.length).slice(0, n).sort((a, b) => a - b);
  writeFileSync(join(out, `${split}.in`), picked.map((i) => `${lines[i].trim()}\n`).join(""));
  process.stderr.write(`${split}: ${n} of ${lines.length} lines\n`);
}
