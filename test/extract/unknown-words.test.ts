import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";

/**
 * Issue 17, finding 6: a store where most words are the unknown token used to be a silent success.
 * Extraction counts the words whose subwords are all the unknown token (counts.unknownWords) and
 * warns, in its result and in index.json, when they are more than 5% of the words.
 */
const work = mkdtempSync(join(tmpdir(), "cn-unknown-"));
let model: Awaited<ReturnType<typeof openActivationModel>>;
beforeAll(async () => {
  model = await openActivationModel("test/fixtures/models/tiny-bert");
});
afterAll(async () => {
  await model.release();
  rmSync(work, { recursive: true, force: true });
});

async function extract(name: string, lines: string[]) {
  writeFileSync(join(work, `${name}.in`), `${lines.join("\n")}\n`);
  const out = join(work, name);
  const result = await extractActivations(model, { input: join(work, `${name}.in`), out, quiet: true });
  const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
  return { result, index };
}

describe("words that are nothing but the unknown token", () => {
  it("are counted, and more than 5% of them give a warning in the result and in index.json", async () => {
    // tiny-bert's vocabulary has no emoji: each of these words is [UNK].
    const { result, index } = await extract("emoji", ["x = 😀 ;", "😁 😂 y"]);
    expect(result.counts.unknownWords).toBe(3);
    expect(index.counts.unknownWords).toBe(3);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(
      /^3 of 7 words \(42\.9%\) are nothing but the unknown token '\[UNK\]'/,
    );
    expect(index.warnings).toEqual(result.warnings);
  });

  it("a few unknown words among many are counted without a warning", async () => {
    const line = "x = y ;";
    const { result, index } = await extract("few", [...Array.from({ length: 5 }, () => line), "😀"]);
    expect(result.counts.unknownWords).toBe(1);
    expect(result.warnings).toEqual([]);
    expect(index.warnings).toBeUndefined();
  });
});
