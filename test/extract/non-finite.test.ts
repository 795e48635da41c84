import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import { SafetensorsFile } from "../../src/model/weights/safetensors.js";
import { UserError } from "../../src/util/errors.js";

const TINY = "test/fixtures/models/tiny-bert";
const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), "cn-nonfinite-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A copy of tiny-bert whose safetensors weights are edited in place: `edit(name)` gives the values
 * to write at the start of tensor `name` (float32). Only the files a model directory needs are copied.
 */
function editedModel(edits: Record<string, (old: Float32Array) => void>): string {
  const dir = tmp();
  for (const f of ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"])
    copyFileSync(join(TINY, f), join(dir, f));
  const bytes = new Uint8Array(readFileSync(join(TINY, "model.safetensors")));
  const file = SafetensorsFile.open(join(TINY, "model.safetensors"));
  for (const [name, edit] of Object.entries(edits)) {
    const at = file.locate(name);
    const values = new Float32Array(bytes.buffer, at.offset, at.count);
    edit(values);
  }
  file.close();
  writeFileSync(join(dir, "model.safetensors"), bytes);
  return dir;
}

const vocabId = (word: string) => readFileSync(join(TINY, "vocab.txt"), "utf8").split("\n").indexOf(word);

async function extractError(
  modelDir: string,
  lines: string[],
  opts: { dtype?: "float16"; level?: "sentence" } = {},
) {
  const dir = tmp();
  writeFileSync(join(dir, "in.txt"), `${lines.join("\n")}\n`);
  const model = await openActivationModel(modelDir);
  try {
    await extractActivations(model, {
      input: join(dir, "in.txt"),
      out: join(dir, "store"),
      quiet: true,
      ...opts,
    });
  } catch (e) {
    return { error: e, dir };
  } finally {
    await model.release();
  }
  return { error: null, dir };
}

/**
 * Issue 17: non-finite values are refused where they enter. A checkpoint that computes NaN, or a value
 * the storage dtype cannot hold, is an error naming the input line, the word, the layer and neuron and
 * the value; nothing of the store is marked complete.
 */
describe("extract refuses model outputs a store cannot hold", () => {
  it("a NaN in a word's embedding row: the line, the word, the neuron and the value are named", async () => {
    const x = vocabId("x");
    expect(x).toBeGreaterThan(0);
    const model = editedModel({
      "bert.embeddings.word_embeddings.weight": (w) => {
        w[x * 16 + 3] = Number.NaN;
      },
    });
    const { error, dir } = await extractError(model, ["a = b ;", "", "int x = 1 ;", "return x ;"]);
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain(`${join(dir, "in.txt")}:3:`);
    expect(message).toMatch(/neuron L0:\d+ \(residual stream, layer 0, unit \d+\) for word 2 'x' is NaN/);
    expect(message).toMatch(/checkpoint damaged/);
    expect(existsSync(join(dir, "store", "index.json"))).toBe(false);
  });

  it("sentence-level stores name the sentence", async () => {
    const model = editedModel({
      "bert.embeddings.word_embeddings.weight": (w) => {
        w[vocabId("x") * 16] = Number.POSITIVE_INFINITY;
      },
    });
    const { error, dir } = await extractError(model, ["a = b ;", "int x ;"], { level: "sentence" });
    expect((error as Error).message).toContain(`${join(dir, "in.txt")}:2:`);
    expect((error as Error).message).toMatch(/for the sentence is (NaN|-?Infinity)/);
  });

  it("a value beyond float16 is an error with --dtype float16 and stored as it is in float32", async () => {
    // The embeddings' LayerNorm bias moves every layer-0 value by 1e5.
    const model = editedModel({
      "bert.embeddings.LayerNorm.bias": (b) => {
        b.fill(1e5);
      },
    });
    const { error, dir } = await extractError(model, ["a = b ;"], { dtype: "float16" });
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(
      /in\.txt:1: the model's output at neuron L0:0 .* for word 1 'a' is 1000\d\d\.?\d*, which does not fit in float16 .*--dtype float32/,
    );
    expect(existsSync(join(dir, "store", "index.json"))).toBe(false);
    expect((await extractError(model, ["a = b ;"])).error).toBeNull();
  });
});
