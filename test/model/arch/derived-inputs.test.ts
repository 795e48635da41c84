import { describe, expect, it } from "vitest";
import { readModelConfig } from "../../../src/model/config.js";
import { TransformerRunner } from "../../../src/model/runner.js";
import { loadCheckpointWeights } from "../../../src/model/weights/index.js";
import { modelDir } from "./reference.js";

/**
 * GraphOptions.derivedInputs (compress/'s standalone graphs): position ids and token types computed in
 * the graph give the hidden states the runner's fed ones give, bit for bit, padding included (RoBERTa
 * numbers positions around its padding id; BERT has a second token type).
 */
describe("graphs with derived position ids and token types", () => {
  for (const name of ["tiny-bert", "tiny-roberta", "tiny-gpt2"]) {
    it(`${name}: the same hidden states as with the runner's inputs, only input_ids and attention_mask fed`, async () => {
      const cfg = readModelConfig(modelDir(name));
      const weights = loadCheckpointWeights(modelDir(name));
      const fed = await TransformerRunner.create(cfg, weights, { threads: 1 });
      const derived = await TransformerRunner.create(cfg, weights, { threads: 1, derivedInputs: true });
      try {
        const pad = cfg.padTokenId ?? 0;
        const seq = 7;
        const ids = [5, 9, 12, 7, 30, 41, 8, 6, 11, 13, 20, pad, pad, pad];
        const mask = ids.map((_, i) => (i >= 11 ? 0 : 1));
        const input = { batch: 2, seq, inputIds: ids, attentionMask: mask };
        const a = await fed.run(input);
        const b = await derived.run(input);
        expect([...b.hidden.keys()]).toEqual([...a.hidden.keys()]);
        for (const [layer, values] of a.hidden) expect(b.hidden.get(layer)).toEqual(values);
      } finally {
        await fed.release();
        await derived.release();
      }
    });
  }
});
