import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseModelConfig, readModelConfig } from "../../../src/model/config.js";
import { TransformerRunner } from "../../../src/model/runner.js";
import {
  loadCheckpointWeights,
  loadTorchCheckpoint,
  openCheckpoint,
} from "../../../src/model/weights/index.js";
import type { TensorMap } from "../../../src/model/weights/tensor.js";
import { maxDifference, modelDir, referenceBatches } from "./reference.js";

/**
 * Every hidden state and every feed-forward activation of the tiny models must match the PyTorch
 * reference (scripts/reference/make_tiny_models.py) within 1e-4 absolute, on right-padded batches,
 * padding positions included. Activations are O(1) (layer-normed, weights of unit scale), so 1e-4 is
 * about 1e-4 relative; float32 reassociation differences measured here are about 1e-6.
 */
const TOL = 1e-4;

async function check(name: string, weights: TensorMap, fused: boolean): Promise<void> {
  const config = readModelConfig(modelDir(name));
  const all = Array.from({ length: config.numLayers }, (_, i) => i + 1);
  const runner = await TransformerRunner.create(config, weights, { fused, intermediates: all, threads: 1 });
  try {
    expect(runner.layers).toEqual([0, ...all]);
    const batches = referenceBatches(name);
    expect(batches.length).toBe(3);
    for (const batch of batches) {
      const out = await runner.run(batch.input);
      const { diff, where, compared } = maxDifference(out, batch);
      expect(compared).toBe(2 * config.numLayers + 1);
      expect(diff, `${name} ${fused ? "fused" : "standard"} ${where}`).toBeLessThan(TOL);
    }
  } finally {
    await runner.release();
  }
}

const MODELS = ["tiny-bert", "tiny-roberta", "tiny-gpt2", "tiny-roberta-fp16", "tiny-roberta-sharded"];
/** The sharded variant has no .bin; tiny-roberta-fp16's is in torch's legacy (non-zip) format. */
const WITH_BIN = new Set(["tiny-bert", "tiny-roberta", "tiny-gpt2", "tiny-roberta-fp16"]);

describe("forward pass matches PyTorch (1e-4 absolute)", () => {
  for (const name of MODELS) {
    for (const fused of [true, false]) {
      it(`${name}, ${fused ? "contrib ops" : "standard ONNX ops"}, weights from safetensors`, async () => {
        await check(name, loadCheckpointWeights(modelDir(name)), fused);
      });
    }
    if (WITH_BIN.has(name)) {
      it(`${name}, weights from pytorch_model.bin`, async () => {
        await check(name, loadTorchCheckpoint(join(modelDir(name), "pytorch_model.bin")), true);
      });
    }
  }

  it("reads tensors on demand from an open checkpoint (sharded)", async () => {
    const checkpoint = openCheckpoint(modelDir("tiny-roberta-sharded"));
    try {
      const config = readModelConfig(modelDir("tiny-roberta-sharded"));
      const runner = await TransformerRunner.create(config, checkpoint, { source: checkpoint.path });
      const [batch] = referenceBatches("tiny-roberta-sharded");
      expect(maxDifference(await runner.run(batch.input), batch).diff).toBeLessThan(TOL);
      // The pooler is not part of the hidden states.
      expect(runner.unusedTensors).toEqual(["pooler.dense.bias", "pooler.dense.weight"]);
      await runner.release();
    } finally {
      checkpoint.close();
    }
  });
});

describe("layer selection", () => {
  it("emits only the chosen layers, with the same values", async () => {
    const config = readModelConfig(modelDir("tiny-roberta"));
    const weights = loadCheckpointWeights(modelDir("tiny-roberta"));
    const runner = await TransformerRunner.create(config, weights, { layers: [2, 0], intermediates: [1] });
    expect(runner.layers).toEqual([0, 2]);
    expect(runner.intermediateLayers).toEqual([1]);
    for (const batch of referenceBatches("tiny-roberta")) {
      const out = await runner.run(batch.input);
      expect([...out.hidden.keys()]).toEqual([0, 2]);
      expect(maxDifference(out, batch).diff).toBeLessThan(TOL);
    }
    await runner.release();
  });

  it("GPT-2 without its last block returns the raw residual stream (no ln_f)", async () => {
    const config = readModelConfig(modelDir("tiny-gpt2"));
    const weights = loadCheckpointWeights(modelDir("tiny-gpt2"));
    for (const fused of [true, false]) {
      const runner = await TransformerRunner.create(config, weights, { layers: [1], fused });
      const [batch] = referenceBatches("tiny-gpt2");
      const out = await runner.run(batch.input);
      expect(maxDifference(out, batch).diff).toBeLessThan(TOL);
      await runner.release();
    }
  });

  it("only the embeddings", async () => {
    const config = readModelConfig(modelDir("tiny-bert"));
    const runner = await TransformerRunner.create(config, loadCheckpointWeights(modelDir("tiny-bert")), {
      layers: [0],
    });
    for (const batch of referenceBatches("tiny-bert")) {
      expect(maxDifference(await runner.run(batch.input), batch).diff).toBeLessThan(TOL);
    }
    await runner.release();
  });
});

describe("external data (the path for checkpoints above protobuf's 2 GiB)", () => {
  it("gives the same outputs and removes its files on release", async () => {
    const config = readModelConfig(modelDir("tiny-gpt2"));
    const weights = loadCheckpointWeights(modelDir("tiny-gpt2"));
    const tempDir = join(tmpdir(), `cn-arch-test-${process.pid}`);
    mkdirSync(tempDir, { recursive: true });
    try {
      const runner = await TransformerRunner.create(config, weights, { externalData: "always", tempDir });
      const made = readdirSync(tempDir);
      expect(made.length).toBe(1);
      expect(readdirSync(join(tempDir, made[0])).sort()).toEqual(["model.onnx", "model.onnx.data"]);
      for (const batch of referenceBatches("tiny-gpt2")) {
        expect(maxDifference(await runner.run(batch.input), batch).diff).toBeLessThan(TOL);
      }
      await runner.release();
      expect(readdirSync(tempDir)).toEqual([]);
    } finally {
      rmSync(tempDir, { recursive: true, force: true });
    }
  });
});

describe("causal attention (GPT-2, and BERT/RoBERTa configs with is_decoder)", () => {
  it("a token's states do not depend on later tokens, and do without is_decoder", async () => {
    const json = JSON.parse(readFileSync(join(modelDir("tiny-bert"), "config.json"), "utf8"));
    const weights = loadCheckpointWeights(modelDir("tiny-bert"));
    const ids = [2, 10, 11, 12, 13, 3];
    const changed = [2, 10, 11, 12, 40, 3];
    for (const fused of [true, false]) {
      const changes: number[] = [];
      for (const isDecoder of [true, false]) {
        const config = parseModelConfig({ ...json, is_decoder: isDecoder });
        expect(config.causal).toBe(isDecoder);
        const runner = await TransformerRunner.create(config, weights, { layers: [2], fused });
        const a = (await runner.run({ batch: 1, seq: 6, inputIds: ids })).hidden.get(2)!;
        const b = (await runner.run({ batch: 1, seq: 6, inputIds: changed })).hidden.get(2)!;
        // Largest change of positions 0-3, which precede the changed token.
        changes.push(Math.max(...a.subarray(0, 4 * config.hiddenSize).map((v, i) => Math.abs(v - b[i]))));
        await runner.release();
      }
      // Causal: unchanged up to float32 rounding (1e-6); bidirectional: O(1) activations move by > 1e-3.
      expect(changes[0]).toBeLessThan(1e-6);
      expect(changes[1]).toBeGreaterThan(1e-3);
    }
  });
});
