import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BlockRunner } from "../../../src/model/block-runner.js";
import { readModelConfig } from "../../../src/model/config.js";
import { compileInterventions, type InterventionSpec } from "../../../src/model/intervention.js";
import { createRunnerFromDir } from "../../../src/model/load.js";
import { encodeWords, loadTokenizer } from "../../../src/model/tokenizer/index.js";
import { openCheckpoint } from "../../../src/model/weights/index.js";
import { CLASSIC, FAMILIES, HF_LLM, hfLlmAvailable, readNpz } from "./reference.js";

/**
 * Interventions inside the forward pass against transformers' own hooked hidden states
 * (../shared/data/hf-llm/interventions.json: zero residual units after block 1, set a unit of the
 * embedding output, scale MLP neurons of block 2), on the first 8 lines, every layer, within 1e-4; and
 * the identity intervention is bit-identical to none.
 */
interface ReferenceIntervention {
  name: string;
  site: "hidden" | "mlp";
  layer: number;
  units: number[];
  mode: "zero" | "set" | "scale";
  value?: number;
}

const SPEC = hfLlmAvailable()
  ? (JSON.parse(readFileSync(join(HF_LLM, "interventions.json"), "utf8")) as {
      interventions: ReferenceIntervention[];
    })
  : { interventions: [] };

async function wordVectors(family: string, specs: InterventionSpec[], lines: number) {
  const dir = join(HF_LLM, family, "model");
  const cfg = readModelConfig(dir);
  const tok = await loadTokenizer(dir);
  // The LLM families intervene between / inside their block graphs, BERT / RoBERTa / GPT-2 through
  // the intervention points of an editable whole-model graph.
  const block = cfg.blocks ? await BlockRunner.create(cfg, openCheckpoint(dir), { mlpLayers: [] }) : null;
  const whole = cfg.blocks ? null : await createRunnerFromDir(dir, cfg, { editable: true });
  const edits = compileInterventions(specs, {
    hidden: cfg.hiddenSize,
    mlp: cfg.intermediateSize,
    layers: cfg.numLayers,
  });
  const text = readFileSync(join(HF_LLM, family, "sentences.in"), "utf8")
    .split("\n")
    .slice(0, lines);
  const out: Float64Array[][] = [];
  try {
    for (const line of text) {
      const enc = encodeWords(tok, line.split(" "));
      const ids = [...tok.prefixIds, ...enc.ids, ...tok.suffixIds];
      const layers: Float64Array[] = [];
      const input = { batch: 1, seq: ids.length, inputIds: ids };
      const sink = (site: "hidden" | "mlp", layer: number, data: Float32Array) => {
        if (site !== "hidden") return;
        const H = cfg.hiddenSize;
        const words = enc.wordStarts.length - 1;
        const v = new Float64Array(words * H);
        for (let w = 0; w < words; w++) {
          const b = tok.prefixIds.length + enc.wordStarts[w];
          const e = tok.prefixIds.length + enc.wordStarts[w + 1];
          for (let p = b; p < e; p++) for (let u = 0; u < H; u++) v[w * H + u] += data[p * H + u] / (e - b);
        }
        layers[layer] = v;
      };
      if (block) await block.runGroup([input], (_b, site, layer, data) => sink(site, layer, data), edits);
      else {
        const o = await whole!.run(input, edits);
        for (const [layer, data] of o.hidden) sink("hidden", layer, data);
      }
      out.push(layers);
    }
  } finally {
    await block?.release();
    await whole?.release();
  }
  return out;
}

describe.skipIf(!hfLlmAvailable())("interventions inside the forward pass", () => {
  for (const family of [...FAMILIES, ...CLASSIC]) {
    for (const iv of SPEC.interventions) {
      it(`${family}: ${iv.name} reproduces transformers' hooked hidden states (1e-4)`, async () => {
        const ref = readNpz(join(HF_LLM, family, "interventions", `${iv.name}.npz`));
        const got = await wordVectors(family, [{ ...iv }], ref.length);
        let worst = 0;
        ref.forEach((r, line) => {
          for (let l = 0; l < r.shape[0]; l++) {
            const n = r.shape[1] * r.shape[2];
            for (let i = 0; i < n; i++)
              worst = Math.max(worst, Math.abs(got[line][l][i] - r.data[l * n + i]));
          }
        });
        expect(worst).toBeLessThan(1e-4);
      });
    }
  }

  it.each(["qwen2", "roberta"])(
    "%s: the identity intervention (scale 1 at every site) is bit-identical to none",
    async (family) => {
      const none = await wordVectors(family, [], 4);
      const identity = await wordVectors(
        family,
        [
          { site: "hidden", layer: 0, units: [0, 1, 2], mode: "scale", value: 1 },
          { site: "hidden", layer: 2, units: [3], mode: "scale", value: 1 },
          { site: "mlp", layer: 1, units: [5, 6], mode: "scale", value: 1 },
        ],
        4,
      );
      expect(identity).toEqual(none);
    },
  );

  it("refuses units and layers the model does not have", () => {
    const widths = { hidden: 64, mlp: 128, layers: 3 };
    expect(() =>
      compileInterventions([{ site: "hidden", layer: 4, units: [0], mode: "zero" }], widths),
    ).toThrow(/hidden layer 4: the model has hidden layers 0 … 3/);
    expect(() => compileInterventions([{ site: "mlp", layer: 0, units: [0], mode: "zero" }], widths)).toThrow(
      /mlp layer 0/,
    );
    expect(() =>
      compileInterventions([{ site: "mlp", layer: 1, units: [128], mode: "zero" }], widths),
    ).toThrow(/unit 128 is outside 0 … 127/);
    expect(() => compileInterventions([{ site: "mlp", layer: 1, units: [1], mode: "set" }], widths)).toThrow(
      /needs a finite value/,
    );
  });
});
