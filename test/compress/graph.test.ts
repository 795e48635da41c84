import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { buildCompressedGraph } from "../../src/compress/graph.js";
import { readModelConfig } from "../../src/model/config.js";
import { TransformerRunner, transformerSessionOptions } from "../../src/model/runner.js";
import { loadCheckpointWeights } from "../../src/model/weights/index.js";
import type { Site } from "../../src/util/neurons.js";
import { Rng } from "../../src/util/rng.js";
import { modelDir } from "../model/arch/reference.js";
import { randomProbe } from "./random-probe.js";

/**
 * The compressed graph against its definition, for every single-graph architecture and both sites:
 * logits = Σ_j ((h_j − mean_j) / scale_j) · W_j + b over the probe's inputs (pairs: a side's inputs'
 * W / scale · h in its own columns, the constant terms in the first side's), h from the full model's runner; `neurons` = the kept units themselves.
 */
const CASES: { model: string; site: Site; sides: number }[] = [
  { model: "tiny-bert", site: "hidden", sides: 1 },
  { model: "tiny-roberta", site: "hidden", sides: 2 },
  { model: "tiny-gpt2", site: "hidden", sides: 1 },
  { model: "tiny-gpt2", site: "mlp", sides: 1 },
  { model: "tiny-roberta", site: "mlp", sides: 2 },
];

describe("the compressed graph computes the probe on the kept units", () => {
  for (const c of CASES) {
    it(`${c.model}, ${c.site} site, ${c.sides} side(s)`, async () => {
      const cfg = readModelConfig(modelDir(c.model));
      const weights = loadCheckpointWeights(modelDir(c.model));
      const width = c.site === "hidden" ? cfg.hiddenSize : cfg.intermediateSize;
      const rng = new Rng(3);
      const firstLayer = c.site === "hidden" ? 0 : 1;
      // Units from every layer but the last (the cut leaves it out), some twice across sides.
      const layers = Array.from({ length: cfg.numLayers - firstLayer }, (_, i) => i + firstLayer).slice(
        0,
        -1,
      );
      const inputs: { side: number; id: number }[] = [];
      for (const layer of layers.length > 0 ? layers : [firstLayer])
        for (let k = 0; k < 3; k++)
          inputs.push({ side: rng.int(c.sides), id: layer * width + rng.int(width) });
      const C = 3;
      const probe = randomProbe(rng, { site: c.site, width, sides: c.sides, inputs, classes: C });
      const graph = buildCompressedGraph(cfg, weights, "ckpt", probe);
      const top = Math.max(...inputs.map((i) => Math.floor(i.id / width)));
      expect(graph.blocks).toBe(top);
      // The session settings predict uses (those of extraction's runner): the kept units are then the
      // runner's bit for bit.
      const session = await ort.InferenceSession.create(
        graph.builder.toModel(graph.opsets),
        transformerSessionOptions(),
      );
      const runner = await TransformerRunner.create(cfg, weights, {
        layers: c.site === "hidden" ? undefined : [0],
        intermediates: c.site === "mlp" ? Array.from({ length: cfg.numLayers }, (_, i) => i + 1) : [],
      });
      try {
        const pad = cfg.padTokenId ?? 0;
        const seq = 6;
        const ids = [5, 9, 12, 7, 30, 41, 8, 6, 11, pad, pad, pad];
        const mask = ids.map((_, i) => (i >= 9 ? 0 : 1));
        const res = await session.run({
          input_ids: new ort.Tensor(
            "int64",
            BigInt64Array.from(ids, (v) => BigInt(v)),
            [2, seq],
          ),
          attention_mask: new ort.Tensor(
            "int64",
            BigInt64Array.from(mask, (v) => BigInt(v)),
            [2, seq],
          ),
        });
        const full = await runner.run({ batch: 2, seq, inputIds: ids, attentionMask: mask });
        const values = (id: number) => {
          const layer = Math.floor(id / width);
          return (c.site === "hidden" ? full.hidden : full.intermediate).get(layer)!;
        };
        const logits = res.logits.data as Float32Array;
        const neurons = res.neurons.data as Float32Array;
        const kept = graph.units;
        expect(res.logits.dims).toEqual([2, seq, c.sides * C]);
        for (let t = 0; t < 2 * seq; t++) {
          if (mask[t] === 0) continue;
          kept.forEach((id, k) => {
            expect(neurons[t * kept.length + k]).toBe(values(id)[t * width + (id % width)]);
          });
          // Side s's columns: its inputs' W / scale · x; the first side's also the bias with every
          // input's mean folded in (a pair's scores are the sum of its a row's and its b row's).
          const expected = new Float64Array(c.sides * C);
          for (let cl = 0; cl < C; cl++) expected[cl] = probe.bias[cl];
          inputs.forEach(({ side, id }, j) => {
            const x = values(id)[t * width + (id % width)];
            for (let cl = 0; cl < C; cl++) {
              const v = probe.weights[j * C + cl] / probe.scale[j];
              expected[side * C + cl] += v * x;
              expected[cl] -= v * probe.mean[j];
            }
          });
          for (let o = 0; o < c.sides * C; o++)
            expect(Math.abs(logits[t * c.sides * C + o] - expected[o])).toBeLessThan(
              1e-4 * (1 + Math.abs(expected[o])),
            );
        }
      } finally {
        await runner.release();
        await session.release();
      }
    });
  }
});
