import { join } from "node:path";
import type { RunInput, RunOutput } from "../../../src/model/runner.js";
import { loadSafetensors } from "../../../src/model/weights/safetensors.js";
import type { TensorMap } from "../../../src/model/weights/tensor.js";

/** The tiny models of scripts/reference/make_tiny_models.py and their PyTorch reference outputs. */
export const MODELS_DIR = join(import.meta.dirname, "..", "..", "fixtures", "models");

export function modelDir(name: string): string {
  return join(MODELS_DIR, name);
}

export interface ReferenceBatch {
  input: RunInput;
  /** hidden.<layer> and intermediate.<block> as computed by PyTorch. */
  expected: TensorMap;
  prefix: string;
}

/** The padded batches of `<model>/reference.safetensors` (tiny-roberta-sharded uses tiny-roberta's). */
export function referenceBatches(model: string): ReferenceBatch[] {
  const file = model === "tiny-roberta-sharded" ? "tiny-roberta" : model;
  const ref = loadSafetensors(join(MODELS_DIR, file, "reference.safetensors"));
  const out: ReferenceBatch[] = [];
  for (let b = 0; ref.has(`batch${b}.input_ids`); b++) {
    const ids = ref.get(`batch${b}.input_ids`)!;
    const [batch, seq] = ids.shape;
    const types = ref.get(`batch${b}.token_type_ids`);
    out.push({
      input: {
        batch,
        seq,
        inputIds: ids.data,
        attentionMask: ref.get(`batch${b}.attention_mask`)!.data,
        tokenTypeIds: types?.data,
      },
      expected: ref,
      prefix: `batch${b}.`,
    });
  }
  return out;
}

/** Largest |got − expected| over every output the runner produced, with the worst output's name. */
export function maxDifference(
  out: RunOutput,
  batch: ReferenceBatch,
): { diff: number; where: string; compared: number } {
  let diff = 0;
  let where = "";
  let compared = 0;
  for (const [kind, values] of [
    ["hidden", out.hidden],
    ["intermediate", out.intermediate],
  ] as const) {
    for (const [layer, got] of values) {
      const name = `${batch.prefix}${kind}.${layer}`;
      const want = batch.expected.get(name);
      if (!want) throw new Error(`reference has no ${name}`);
      if (want.data.length !== got.length)
        throw new Error(`${name}: ${got.length} values, expected ${want.data.length}`);
      for (let i = 0; i < got.length; i++) {
        const d = Math.abs(got[i] - want.data[i]);
        // NaN must fail, not slip through a comparison.
        if (!(d <= diff)) {
          diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
          where = name;
        }
      }
      compared++;
    }
  }
  return { diff, where, compared };
}
