import { selectivity } from "../../../probe/metrics.js";
import { UserError } from "../../../util/errors.js";
import { need, probeSettings, type StepDef } from "./types.js";

/**
 * The control task's selectivity with the one control probe of probe/control.ts: a probe on all neurons with the oracle's λs
 * ("same probe settings", docs/DESIGN.md) trained on the control labels; selectivity = oracle accuracy −
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
        dev: selectivity(oracle.probe.dev.accuracy, fit.record.dev.accuracy),
        test: selectivity(oracle.probe.test.accuracy, fit.record.test.accuracy),
      },
    };
  },
};
