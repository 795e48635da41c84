/**
 * Writes the demo's CoSQA sample (demo/cosqa/{train,valid,test}.json) from the 604 CoSQA pairs of
 * ../shared/data/cosqa/cosqa-dev.json (CodeXGLUE's NL-code-search-WebQuery dev set, as the paper uses
 * it): a seeded shuffle split 404 / 100 / 100, records unchanged, so that `codeneurons run --demo cosqa`
 * (pairs of query and code) and `--demo python` (Python token tagging on the code field) run offline.
 * Regenerate with:  npx tsx scripts/make-demo-cosqa.ts [path/to/cosqa-dev.json]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../src/util/rng.js";

const SIZES = { train: 404, valid: 100, test: 100 } as const;
const SEED = 7;
const source =
  process.argv[2] ?? join(import.meta.dirname, "..", "..", "shared", "data", "cosqa", "cosqa-dev.json");
const out = join(import.meta.dirname, "..", "demo", "cosqa");

const records = JSON.parse(readFileSync(source, "utf8")) as unknown[];
const total = Object.values(SIZES).reduce((a, b) => a + b, 0);
if (records.length !== total) throw new Error(`${source}: expected ${total} records, found ${records.length}`);
const order = new Rng(SEED).permutation(records.length);
mkdirSync(out, { recursive: true });
let at = 0;
for (const [split, n] of Object.entries(SIZES)) {
  // Kept in file order within a split.
  const picked = order.slice(at, at + n).sort((a, b) => a - b);
  at += n;
  writeFileSync(join(out, `${split}.json`), `${JSON.stringify(picked.map((i) => records[i]), null, 1)}\n`);
  process.stderr.write(`${split}: ${n} records\n`);
}
