import { UserError } from "../../util/errors.js";
import { type Matrix, matrix } from "../../util/matrix.js";
import { linearCKA } from "../cka.js";
import { need, probeSettings, type StepDef } from "./types.js";

/**
 * The control task's selectivity (Hewitt & Liang 2019): a probe on all neurons with the oracle's λs
 * ("same probe settings", DESIGN.md) trained on the control labels; selectivity = oracle accuracy −
 * control accuracy, on dev and on test.
 */
export const controlStep: StepDef<"control"> = {
  name: "control",
  deps: ["oracle"],
  settings: (s, input) => ({ probe: probeSettings(s), control: input.control }),
  async run(ctx, done) {
    const oracle = need(done, "oracle");
    if (ctx.input.control === null)
      throw new UserError(
        `${ctx.input.task} has no control task (control/{train,valid,test}.tsv); rebuild the task with a control task or leave out the 'control' step`,
      );
    const bar = ctx.progress("control task", 1);
    const fit = await ctx.probe({
      columns: ctx.allColumns(),
      lambdas: { lambda1: oracle.probe.lambda1, lambda2: oracle.probe.lambda2 },
      labels: "control",
    });
    bar.finish(`control test accuracy ${fit.record.test.accuracy.toFixed(4)}`);
    return {
      source: ctx.input.control,
      probe: fit.record,
      selectivity: {
        dev: oracle.probe.dev.accuracy - fit.record.dev.accuracy,
        test: oracle.probe.test.accuracy - fit.record.test.accuracy,
      },
    };
  },
};

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
    const data = await ctx.data();
    const x = ckaRows(data.train.x, ctx.space.sides);
    if (x.rows < 4) throw new UserError(`CKA needs at least 4 training rows, the task has ${x.rows}`);
    const similarity = await linearCKA(x, {
      hidden: ctx.space.hidden,
      layerNumbers: ctx.space.layers,
      batchSize: Math.min(ctx.settings.ckaBatchSize, x.rows),
      seed: ctx.settings.seed,
      progress: !ctx.quiet,
    });
    return { file: "cka.json", similarity };
  },
};
