import { describe, expect, it } from "vitest";
import { readModelConfig } from "../../../src/model/config.js";
import { createRunnerFromDir, loadModel } from "../../../src/model/load.js";
import { positionIds, TransformerRunner } from "../../../src/model/runner.js";
import { loadCheckpointWeights } from "../../../src/model/weights/index.js";
import type { TensorMap } from "../../../src/model/weights/tensor.js";
import { UserError } from "../../../src/util/errors.js";
import { maxDifference, modelDir, referenceBatches } from "./reference.js";

const SOURCE = "ckpt/model.safetensors";

async function createError(name: string, edit: (w: TensorMap) => void): Promise<UserError> {
  const weights = new Map(loadCheckpointWeights(modelDir(name)));
  edit(weights);
  try {
    await TransformerRunner.create(readModelConfig(modelDir(name)), weights, { source: SOURCE });
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected an error");
}

describe("checkpoint errors name the tensor and the file", () => {
  it("missing tensor", async () => {
    const e = await createError("tiny-bert", (w) => w.delete("bert.encoder.layer.1.output.dense.weight"));
    expect(e.message).toBe(`${SOURCE}: missing tensor 'bert.encoder.layer.1.output.dense.weight'`);
  });

  it("shape mismatch, expected vs got", async () => {
    const e = await createError("tiny-gpt2", (w) => {
      const t = w.get("transformer.h.0.mlp.c_fc.weight")!;
      w.set("transformer.h.0.mlp.c_fc.weight", { ...t, shape: [t.shape[1], t.shape[0]] });
    });
    expect(e.message).toBe(
      `${SOURCE}: tensor 'transformer.h.0.mlp.c_fc.weight' has shape [32, 16], expected [16, 32] from config.json`,
    );
  });

  it("a checkpoint of another architecture", async () => {
    const gpt2 = loadCheckpointWeights(modelDir("tiny-gpt2"));
    const bertConfig = readModelConfig(modelDir("tiny-bert"));
    const e = await TransformerRunner.create(bertConfig, gpt2, { source: SOURCE }).catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain(
      "no tensor 'embeddings.word_embeddings.weight', 'bert.embeddings.word_embeddings.weight'",
    );
    expect(e.message).toContain("transformer.");
  });

  it("TensorFlow-style LayerNorm gamma/beta names are accepted", async () => {
    const weights = new Map(loadCheckpointWeights(modelDir("tiny-bert")));
    for (const [name, t] of [...weights]) {
      if (name.includes("LayerNorm.")) {
        weights.delete(name);
        weights.set(name.replace(/weight$/, "gamma").replace(/bias$/, "beta"), t);
      }
    }
    const runner = await TransformerRunner.create(readModelConfig(modelDir("tiny-bert")), weights);
    const [batch] = referenceBatches("tiny-bert");
    // Same 1e-4 absolute tolerance as parity.test.ts.
    expect(maxDifference(await runner.run(batch.input), batch).diff).toBeLessThan(1e-4);
    await runner.release();
  });
});

describe("run() input checks", () => {
  it("rejects ids outside the vocabulary, bad masks, long sequences and wrong lengths", async () => {
    const config = readModelConfig(modelDir("tiny-roberta"));
    const runner = await createRunnerFromDir(modelDir("tiny-roberta"), config);
    const message = (input: Parameters<TransformerRunner["run"]>[0]) =>
      runner.run(input).then(
        () => "no error",
        (e: Error) => e.message,
      );
    expect(await message({ batch: 1, seq: 3, inputIds: [0, config.vocabSize, 2] })).toBe(
      `run: token id ${config.vocabSize} at [0, 1] is outside the vocabulary (0 … ${config.vocabSize - 1})`,
    );
    expect(await message({ batch: 1, seq: 3, inputIds: [0, -1, 2] })).toContain("token id -1 at [0, 1]");
    expect(await message({ batch: 1, seq: 2, inputIds: [0, 2], attentionMask: [1, 2] })).toContain(
      "attention mask value 2 at [0, 1]",
    );
    expect(await message({ batch: 2, seq: 2, inputIds: [0, 2, 0] })).toBe(
      "run: inputIds has 3 values, expected 4",
    );
    const long = config.maxSequenceLength + 1;
    expect(await message({ batch: 1, seq: long, inputIds: new Array(long).fill(5) })).toBe(
      `run: sequence of ${long} tokens is longer than the model's ${config.maxSequenceLength} positions`,
    );
    expect(await message({ batch: 1, seq: long - 1, inputIds: new Array(long - 1).fill(5) })).toBe(
      "no error",
    );
    await runner.release();
  });
});

describe("position ids", () => {
  it("RoBERTa counts from padding_idx + 1 and gives padding padding_idx; BERT and GPT-2 count from 0", () => {
    const roberta = readModelConfig(modelDir("tiny-roberta"));
    const ids = BigInt64Array.from([0n, 7n, 9n, 2n, 1n, 1n, 0n, 2n, 1n, 1n, 1n, 1n]);
    expect([...positionIds(roberta, ids, 2, 6)]).toEqual([2n, 3n, 4n, 5n, 1n, 1n, 2n, 3n, 1n, 1n, 1n, 1n]);
    const gpt2 = readModelConfig(modelDir("tiny-gpt2"));
    expect([...positionIds(gpt2, ids, 2, 6)]).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 0n, 1n, 2n, 3n, 4n, 5n]);
  });
});

describe("loadModel", () => {
  it("puts config, tokenizer and weights together for each architecture", async () => {
    for (const name of [
      "tiny-bert",
      "tiny-roberta",
      "tiny-gpt2",
      "tiny-roberta-sharded",
      "tiny-roberta-fp16",
    ]) {
      const model = await loadModel(modelDir(name));
      expect(model.config.modelType).toBe(name.split("-")[1]);
      const words = "int x = 0 ;".split(" ");
      const ids = [...model.tokenizer.prefixIds];
      for (const [i, w] of words.entries()) ids.push(...model.tokenizer.tokenizeWord(w, i === 0));
      ids.push(...model.tokenizer.suffixIds);
      const runner = await model.createRunner({ layers: [model.config.numLayers] });
      const out = await runner.run({ batch: 1, seq: ids.length, inputIds: ids });
      const last = out.hidden.get(model.config.numLayers)!;
      expect(last.length).toBe(ids.length * model.config.hiddenSize);
      expect(last.every(Number.isFinite)).toBe(true);
      await runner.release();
    }
  });
});
