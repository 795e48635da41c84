import { interceptOnlyAccuracy } from "../../../probe/metrics.js";
import { log } from "../../../util/progress.js";
import type { StepContext } from "../context.js";
import type { LayerProbe, LayerSelection, OracleResult, PipelineSettings } from "../results.js";
import { need, probeSettings, type StepDef } from "./types.js";

/**
 * Oracle, layer-wise probes and LayerSelector (Dalvi et al. 2020, §5.1; their
 * run_sentence_pipeline: baseline, independent and incremental layer-wise, then per δ the smallest
 * top layer whose incremental dev score > oracle dev × (1 − δ)). Under `curves: "until-target"` the
 * incremental probes stop at the first prefix above the smallest δ's target: LayerSelector's choice is
 * the same, and on a 33-layer model the later prefixes would be most of the pipeline's work.
 */

export const oracleStep: StepDef<"oracle"> = {
  name: "oracle",
  deps: [],
  settings: (s) => ({
    lambda1: s.lambda1 ?? null,
    lambda2: s.lambda2 ?? null,
    lambdaGrid: s.lambdaGrid,
    patience: s.patience,
    maxIter: s.maxIter,
  }),
  async run(ctx) {
    const bar = ctx.progress("oracle", 1);
    const lambdas = ctx.oracleLambdas();
    const req = {
      columns: ctx.allColumns(),
      lambdas,
      labels: "task" as const,
      orderingStride: ctx.settings.stride,
    };
    // The probe stage's oracle, when it is this one (`codeneurons run`): its grid is not tuned twice.
    const shared = ctx.sharedOracle(lambdas);
    if (shared) log("redundancy: oracle: the probe stage's (λ grid tuned once for the run)");
    const fit = await ctx.probe(req, shared ? () => ctx.adoptProbe(shared, req) : undefined);
    bar.finish(`λ1=${fit.record.lambda1} λ2=${fit.record.lambda2} dev ${fit.record.dev.accuracy.toFixed(4)}`);
    const data = await ctx.data();
    const k = ctx.input.classes.length;
    return {
      layers: [...ctx.space.layers],
      probe: fit.record,
      tuning: "grid" in lambdas ? "grid" : "fixed",
      ...(fit.grid ? { grid: fit.grid } : {}),
      interceptOnly: {
        dev: interceptOnlyAccuracy(data.train.y, data.valid.y, k),
        test: interceptOnlyAccuracy(data.train.y, data.test.y, k),
      },
    };
  },
};

async function layerProbes(
  ctx: StepContext,
  label: string,
  probeAt: (index: number) => ReturnType<StepContext["probe"]>,
  /** After this probe no later layer is needed (the probes so far are returned). */
  enough: (probe: LayerProbe["probe"]) => boolean = () => false,
): Promise<LayerProbe[]> {
  const layers = ctx.space.layers;
  const bar = ctx.progress(label, layers.length);
  const out: LayerProbe[] = [];
  for (const [i, layer] of layers.entries()) {
    const probe = (await probeAt(i)).record;
    out.push({ layer, reduction: 1 - probe.neurons / ctx.space.total, probe });
    bar.update(i + 1);
    if (i + 1 < layers.length && enough(probe)) {
      bar.finish(`stopped: LayerSelector's targets reached (--curves all fits every prefix)`, out.length);
      return out;
    }
  }
  bar.finish();
  return out;
}

export const independentStep: StepDef<"independent"> = {
  name: "independent",
  deps: ["oracle"],
  settings: probeSettings,
  async run(ctx, done) {
    const lambdas = ctx.followerLambdas(need(done, "oracle"));
    const layers = await layerProbes(ctx, "independent layer-wise", (i) =>
      ctx.probe({ columns: ctx.space.layerColumns(i), lambdas, labels: "task" }),
    );
    return { layers };
  },
};

/** LayerSelector's target for δ: the dev accuracy an incremental probe must exceed. */
function selectorTarget(oracle: OracleResult, delta: number): number {
  return oracle.probe.dev.accuracy * (1 - delta);
}

/**
 * The dev accuracy above which no later incremental probe changes LayerSelector's choice: the target of
 * its smallest δ, or null when every prefix is wanted (`curves: "all"`: the paper trains all of them,
 * for the curve).
 */
function incrementalStopTarget(s: PipelineSettings, oracle: OracleResult): number | null {
  if (s.curves === "all") return null;
  return selectorTarget(oracle, Math.min(...s.deltas));
}

export const incrementalStep: StepDef<"incremental"> = {
  name: "incremental",
  deps: ["oracle"],
  // The LCA orderings of these probes are kept in the work cache for LS+CC+LCA. Where the step stops
  // depends on the δs under "until-target" only ("all" computes what it always did, under its old key).
  settings: (s) => ({
    probe: probeSettings(s),
    stride: s.stride,
    ...(s.curves === "all" ? {} : { untilTarget: s.deltas }),
  }),
  async run(ctx, done) {
    const oracle = need(done, "oracle");
    const target = incrementalStopTarget(ctx.settings, oracle);
    const layers = await layerProbes(
      ctx,
      "incremental layer-wise",
      (i) => ctx.prefixProbe(i + 1, oracle),
      (probe) => target !== null && probe.dev.accuracy > target,
    );
    return { layers };
  },
};

export const layerSelectionStep: StepDef<"ls"> = {
  name: "ls",
  deps: ["oracle", "incremental"],
  settings: (s) => ({ deltas: s.deltas }),
  async run(ctx, done) {
    const oracle = need(done, "oracle");
    const incremental = need(done, "incremental").layers;
    const selections: LayerSelection[] = ctx.settings.deltas.map((delta) => {
      const target = selectorTarget(oracle, delta);
      const found = incremental.findIndex((p) => p.probe.dev.accuracy > target);
      const top = found >= 0 ? found : incremental.length - 1;
      const neurons = (top + 1) * ctx.space.width * ctx.space.sides;
      return {
        delta,
        target,
        layers: ctx.space.layers.slice(0, top + 1),
        neurons,
        reduction: 1 - neurons / ctx.space.total,
        fallback: found < 0,
        probe: incremental[top].probe,
      };
    });
    return { selections };
  },
};

/** LayerSelector's selections grouped by their kept layers (several δ often keep the same layers). */
export function layerGroups(selections: readonly LayerSelection[]): { layers: number[]; deltas: number[] }[] {
  const groups = new Map<number, { layers: number[]; deltas: number[] }>();
  for (const s of selections) {
    const g = groups.get(s.layers.length) ?? { layers: s.layers, deltas: [] };
    g.deltas.push(s.delta);
    groups.set(s.layers.length, g);
  }
  return [...groups.values()].sort((a, b) => a.layers.length - b.layers.length);
}
