/**
 * The store of the NeuroX export fixture (test/fixtures/neurox-export): the tiny RoBERTa over five
 * labelled lines, one of them empty and one not extracted (as `codeneurons run` extracts only the
 * task's sentences), one token holding a space. write-neurox-fixture.ts exports it for NeuroX's
 * loaders; neurox-export.test.ts exports it again and compares.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeToken } from "../../src/data/escape.js";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";

const ROOT = join(import.meta.dirname, "..", "..");
export const FIXTURE = join(ROOT, "test", "fixtures", "neurox-export");

const LINES: [string, string][][] = [
  [
    ["int", "TYPE"],
    ["x", "IDENT"],
    ["=", "EQUAL"],
    ["1", "NUMBER"],
    [";", "SEMI"],
  ],
  [],
  [
    ["String", "IDENT"],
    ["s", "IDENT"],
    ["=", "EQUAL"],
    ['"a b"', "STRING"],
    [";", "SEMI"],
  ],
  [
    ["return", "KEYWORD"],
    ["x", "IDENT"],
    [";", "SEMI"],
  ],
  [
    ["foo", "IDENT"],
    ["(", "LPAR"],
    ["2", "NUMBER"],
    [")", "RPAR"],
    [";", "SEMI"],
  ],
];
/** Line 3 (0-based) is not extracted. */
export const EXTRACTED = new Set([0, 1, 2, 4]);

export async function buildExportStore(dir: string, opts: { labels?: boolean } = {}): Promise<string> {
  const input = join(dir, "in.in");
  const labels = join(dir, "in.label");
  writeFileSync(input, `${LINES.map((l) => l.map(([w]) => encodeToken(w)).join(" ")).join("\n")}\n`);
  writeFileSync(labels, `${LINES.map((l) => l.map(([, t]) => t).join(" ")).join("\n")}\n`);
  const model = await openActivationModel(join(ROOT, "test", "fixtures", "models", "tiny-roberta"));
  const out = join(dir, "store");
  try {
    await extractActivations(model, {
      input,
      ...(opts.labels === false ? {} : { labels }),
      out,
      onlyLines: EXTRACTED,
      quiet: true,
    });
  } finally {
    await model.release();
  }
  return out;
}
