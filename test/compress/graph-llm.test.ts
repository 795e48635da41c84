import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { buildCompressedGraph, NotCompressible, type ProbeOnNeurons } from "../../src/compress/graph.js";
import { BlockRunner } from "../../src/model/block-runner.js";
import { type ModelConfig, readModelConfig } from "../../src/model/config.js";
import { transformerSessionOptions } from "../../src/model/runner.js";
import { openCheckpoint } from "../../src/model/weights/index.js";
import type { Site } from "../../src/util/neurons.js";
import { Rng } from "../../src/util/rng.js";
import { FAMILIES, HF_LLM, hfLlmAvailable } from "../model/hf-llm/reference.js";
import { randomProbe } from "./random-probe.js";

/**
 * The block-streamed families' compressed graph (arch/block-stack.ts: the blocks chained in one graph,
 * masks, rotary tables and T5's relative bias computed in it) against layer-by-layer extraction
 * (BlockRunner, whose outputs are what a run stores): the kept units equal the runner's to 1e-4, for
 * every family and both sites, on a right-padded batch longer than Mistral's sliding window. Hidden
 * sets that reach the last layer check the final norm too.
 */
const TOLERANCE = 1e-4;
const SEQ = 21;

function probeOn(cfg: ModelConfig, site: Site, layers: number[], rng: Rng): ProbeOnNeurons {
  const width = site === "hidden" ? cfg.hiddenSize : cfg.intermediateSize;
  const inputs = layers.flatMap((layer) =>
    Array.from({ length: 3 }, () => ({ side: 0, id: layer * width + rng.int(width) })),
  );
  return randomProbe(rng, { site, width, sides: 1, inputs, classes: 2 });
}

/** max |compressed − runner| over the kept units of the real (unpadded) tokens. */
async function maxDifference(cfg: ModelConfig, dir: string, probe: ProbeOnNeurons): Promise<number> {
  const reader = openCheckpoint(dir);
  let graph: ReturnType<typeof buildCompressedGraph>;
  try {
    graph = buildCompressedGraph(cfg, reader, dir, probe, { maxTokens: 32 });
  } finally {
    reader.close();
  }
  expect(graph.blocks).toBe(Math.max(...graph.layers));
  const session = await ort.InferenceSession.create(
    graph.builder.toModel(graph.opsets),
    transformerSessionOptions(),
  );
  const mlp = probe.site === "mlp";
  const runner = await BlockRunner.create(cfg, openCheckpoint(dir), {
    layers: mlp ? [] : graph.layers,
    mlpLayers: mlp ? graph.layers : [],
  });
  try {
    const rng = new Rng(11);
    const lengths = [SEQ, 13];
    const ids = lengths.flatMap((len) =>
      Array.from({ length: SEQ }, (_, s) =>
        s < len ? 3 + rng.int(cfg.vocabSize - 3) : (cfg.padTokenId ?? 0),
      ),
    );
    const mask = lengths.flatMap((len) => Array.from({ length: SEQ }, (_, s) => (s < len ? 1 : 0)));
    const tensor = (v: number[]) =>
      new ort.Tensor(
        "int64",
        BigInt64Array.from(v, (x) => BigInt(x)),
        [2, SEQ],
      );
    const res = await session.run({ input_ids: tensor(ids), attention_mask: tensor(mask) });
    const full = await runner.run({ batch: 2, seq: SEQ, inputIds: ids, attentionMask: mask });
    const neurons = res.neurons.data as Float32Array;
    expect(res.neurons.dims).toEqual([2, SEQ, graph.units.length]);
    let worst = 0;
    for (let t = 0; t < 2 * SEQ; t++) {
      if (mask[t] === 0) continue;
      graph.units.forEach((id, k) => {
        const layer = Math.floor(id / probe.width);
        const stored = (mlp ? full.intermediate : full.hidden).get(layer)!;
        const d = Math.abs(
          neurons[t * graph.units.length + k] - stored[t * probe.width + (id % probe.width)],
        );
        worst = Math.max(worst, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
      });
    }
    return worst;
  } finally {
    await runner.release();
    await session.release();
  }
}

describe.skipIf(!hfLlmAvailable())(
  "the compressed graph of the LLM families equals layer-by-layer extraction",
  () => {
    for (const [i, family] of FAMILIES.entries()) {
      for (const site of ["hidden", "mlp"] as const) {
        it(`${family}, ${site} site`, async () => {
          const dir = join(HF_LLM, family, "model");
          const cfg = readModelConfig(dir);
          const L = cfg.numLayers;
          // Hidden: every other family's set reaches the last layer (after the final norm) and layer 0.
          const layers =
            site === "hidden" ? (i % 2 === 0 ? [0, 1, L] : [1, L - 1]) : i % 2 === 0 ? [1, L] : [2];
          const probe = probeOn(cfg, site, layers, new Rng(5 + i));
          expect(await maxDifference(cfg, dir, probe)).toBeLessThan(TOLERANCE);
        });
      }
    }

    it("a bfloat16 checkpoint: its weights converted to float32 as extraction converts them", async () => {
      const dir = join(HF_LLM, "llama", "model-bf16");
      const cfg = readModelConfig(dir);
      expect(cfg.blocks!.rope!.frequencyDType).toBe("bfloat16");
      for (const site of ["hidden", "mlp"] as const) {
        const probe = probeOn(cfg, site, site === "hidden" ? [0, 2, cfg.numLayers] : [1, 3], new Rng(8));
        expect(await maxDifference(cfg, dir, probe)).toBeLessThan(TOLERANCE);
      }
    });

    it("LongRoPE: rows longer than the original context take the long table, shorter ones the short", async () => {
      const dir = join(HF_LLM, "phi3", "model");
      const base = readModelConfig(dir);
      const rope = base.blocks!.rope!;
      const half = rope.rotaryDim / 2;
      // original 16: the batch's 21-token row is long, its 13-token row short.
      const cfg: ModelConfig = {
        ...base,
        blocks: {
          ...base.blocks!,
          rope: {
            ...rope,
            type: "longrope",
            factor: 4,
            originalMaxPositions: 16,
            shortFactor: Array.from({ length: half }, (_, k) => 1 + k / half),
            longFactor: Array.from({ length: half }, (_, k) => 2 + (3 * k) / half),
          },
        },
      };
      const probe = probeOn(cfg, "hidden", [1, cfg.numLayers], new Rng(3));
      expect(await maxDifference(cfg, dir, probe)).toBeLessThan(TOLERANCE);
    });

    it("a family the graph builder does not build is refused by model_type, with the list it builds", () => {
      const dir = join(HF_LLM, "llama", "model");
      const cfg = { ...readModelConfig(dir), modelType: "falcon" } as unknown as ModelConfig;
      const reader = openCheckpoint(dir);
      try {
        const probe = probeOn(cfg, "hidden", [1], new Rng(1));
        expect(() => buildCompressedGraph(cfg, reader, dir, probe)).toThrow(NotCompressible);
        expect(() => buildCompressedGraph(cfg, reader, dir, probe)).toThrow(
          /model_type falcon .*bert, roberta, gpt2, llama, .*gpt_neox, t5/,
        );
      } finally {
        reader.close();
      }
    });
  },
);
