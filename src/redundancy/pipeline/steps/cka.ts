import { UserError } from "../../../util/errors.js";
import { type Matrix, matrix } from "../../../util/matrix.js";
import { linearCKA } from "../../cka.js";
import type { StepDef } from "./types.js";

/** The training rows as layer-major [rows × layers·hidden]; for pairs both sides' rows, stacked. */
function ckaRows(x: Matrix, sides: number): Matrix {
  if (sides === 1) return x;
  const per = x.cols / sides;
  const out = matrix(x.rows * sides, per);
  for (let s = 0; s < sides; s++)
    for (let r = 0; r < x.rows; r++)
      out.data.set(x.data.subarray(r * x.cols + s * per, r * x.cols + (s + 1) * per), (s * x.rows + r) * per);
  return out;
}

/**
 * Layer similarity: linear CKA (unbiased HSIC over sampled minibatches) between every pair of stored
 * layers, over the task's training rows. It reads no labels; the matrix goes to OUT/cka.json.
 */
export const ckaStep: StepDef<"cka"> = {
  name: "cka",
  deps: [],
  settings: (s) => ({ batchSize: s.ckaBatchSize, seed: s.seed }),
  async run(ctx) {
    const train = ctx.trainColumns();
    const raw = await train.columns(Array.from({ length: train.cols }, (_, c) => c));
    const x = ckaRows(raw, ctx.space.sides);
    if (x.rows < 4) throw new UserError(`CKA needs at least 4 training rows, the task has ${x.rows}`);
    const similarity = await linearCKA(x, {
      hidden: ctx.space.width,
      layerNumbers: ctx.space.layers,
      batchSize: Math.min(ctx.settings.ckaBatchSize, x.rows),
      seed: ctx.settings.seed,
      progress: !ctx.quiet,
    });
    return { file: "cka.json", similarity };
  },
};
