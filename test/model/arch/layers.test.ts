import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildTransformerGraph } from "../../../src/model/arch/index.js";
import { readModelConfig } from "../../../src/model/config.js";
import { loadCheckpointWeights } from "../../../src/model/weights/index.js";
import { InputError } from "../../../src/util/errors.js";
import { modelDir } from "./reference.js";

/**
 * Issue 17, finding 6: a config.json with fewer layers than the checkpoint used to run the first
 * layers only, without a word. For BERT, RoBERTa and GPT-2 it is an error naming the config field and
 * the first tensor beyond it, as for the block-streamed families.
 */
const CASES = [
  { model: "tiny-bert", field: "num_hidden_layers", tensor: "bert.encoder.layer.1." },
  { model: "tiny-roberta", field: "num_hidden_layers", tensor: "roberta.encoder.layer.2." },
  { model: "tiny-gpt2", field: "n_layer", tensor: "transformer.h.1." },
];

describe("a checkpoint with more blocks than config.json says", () => {
  for (const c of CASES) {
    it(`${c.model}: the config's ${c.field} one short is an error naming the field and '${c.tensor}…'`, () => {
      const cfg = readModelConfig(modelDir(c.model));
      const weights = loadCheckpointWeights(modelDir(c.model));
      // The full config builds.
      expect(buildTransformerGraph(cfg, weights, "ckpt").outputs.length).toBeGreaterThan(0);
      let error: unknown;
      try {
        buildTransformerGraph({ ...cfg, numLayers: cfg.numLayers - 1 }, weights, "ckpt");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      const e = error as InputError;
      expect(e.file).toBe(join(modelDir(c.model), "config.json"));
      expect(e.field).toBe(c.field);
      expect(e.message).toContain(`says ${cfg.numLayers - 1} layers but the checkpoint has more`);
      expect(e.message).toContain(`(it holds '${c.tensor}`);
    });
  }

  it("asking for fewer layers (a plan of the first blocks) is still fine", () => {
    const cfg = readModelConfig(modelDir("tiny-roberta"));
    const weights = loadCheckpointWeights(modelDir("tiny-roberta"));
    const graph = buildTransformerGraph(cfg, weights, "ckpt", { layers: [0, 1] });
    expect(graph.outputs.map((o) => o.name)).toEqual(["hidden_0", "hidden_1"]);
  });
});
