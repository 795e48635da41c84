import { probelessRanking } from "../../../rank/probeless.js";
import { Rng } from "../../../util/rng.js";
import type { StepContext } from "../context.js";
import type { OracleResult, PipelineSettings, StepName } from "../results.js";
import { searchMinimal } from "../search.js";
import { need, probeSettings, type StepDef, type StepOutput } from "./types.js";

/**
 * Minimal sets over all layers from three orderings, at the finer percentage list (Sharma et al.'s
 * run_max_features and probeless): LCA of the oracle probe, probeless (class-mean differences over the
 * z-scored training rows, no probe), and a seeded random ordering as the baseline of the accuracy-vs-neurons
 * plot. Each target is the oracle's dev accuracy × (1 − neuron δ).
 */

type OrderingStep = "lca" | "probeless" | "random";

const searchSettings = (s: PipelineSettings) => ({
  probe: probeSettings(s),
  percentages: s.finePercentages,
  neuronDelta: s.neuronDelta,
  curves: s.curves,
  // Only when on, so that results cached before the setting existed stay valid.
  ...(s.warmStarts ? { warmStarts: true } : {}),
});

async function orderedSearch(
  ctx: StepContext,
  kind: OrderingStep,
  oracle: OracleResult,
  ordering: readonly number[],
): Promise<StepOutput<OrderingStep>> {
  const search = await searchMinimal(ctx, {
    label: `${kind} minimal set`,
    ordering,
    base: oracle.probe,
    percentages: ctx.settings.finePercentages,
    lambdas: ctx.followerLambdas(oracle),
  });
  return {
    kind,
    neuronDelta: ctx.settings.neuronDelta,
    percentages: [...ctx.settings.finePercentages],
    ...(kind === "random" ? { seed: ctx.settings.seed } : {}),
    ...search,
  };
}

function orderingStep<K extends OrderingStep>(
  name: K,
  settings: StepDef<K>["settings"],
  ordering: (ctx: StepContext, oracle: OracleResult) => Promise<number[]>,
): StepDef<K> {
  return {
    name,
    deps: ["oracle"] as StepName[],
    settings,
    async run(ctx, done) {
      const oracle = need(done, "oracle");
      return orderedSearch(ctx, name, oracle, await ordering(ctx, oracle)) as Promise<StepOutput<K>>;
    },
  };
}

export const lcaStep = orderingStep(
  "lca",
  (s) => ({ ...searchSettings(s), stride: s.stride }),
  async (ctx) => {
    const fit = await ctx.probe({
      columns: ctx.allColumns(),
      lambdas: ctx.oracleLambdas(),
      labels: "task",
      orderingStride: ctx.settings.stride,
    });
    if (!fit.ordering) throw new Error("redundancy: the oracle probe has no ordering");
    return fit.ordering;
  },
);

// On z-scored activations, as Sharma et al. z-score the activations before every step: a neuron's score
// is then its class-mean differences in units of its own spread, not of its raw scale.
export const probelessStep = orderingStep("probeless", searchSettings, async (ctx) => {
  const [data, z] = [await ctx.data(), await ctx.standardizedData()];
  return probelessRanking(z.train, data.train.y, ctx.input.classes.length).ordering;
});

export const randomStep = orderingStep(
  "random",
  (s) => ({ ...searchSettings(s), seed: s.seed }),
  async (ctx) => new Rng(ctx.settings.seed).permutation(ctx.space.total),
);
