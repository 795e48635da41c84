import type { StepContext } from "./context.js";
import type { Lambdas } from "./probes.js";
import type { MinimalSet, ProbeRecord, SearchPoint, SearchResult } from "./results.js";

/**
 * With settings.warmStarts, each size's probe starts from the previous size's weights (the ordering's
 * prefix grows, so its first columns are the previous probe's), zeros for the added neurons.
 *
 * The minimal neuron set of an ordering (docs/DESIGN.md, "Minimal neuron set"; Dalvi et al. 2020's
 * run_neuron_selection): for each percentage p in order, retrain on the first ⌊p × total⌋ neurons
 * (total = all neurons of the model, as theirs: `int(percentage * num_layers * neurons_per_layer)`),
 * skipping sizes larger than the ordering; the first probe whose dev accuracy > base dev × (1 − δ)
 * gives the minimal set. Sizes below one neuron, or equal to an earlier size, are skipped. When no
 * size reaches the target, the minimal set is the whole ordering (the base probe).
 */
export interface SearchSpec {
  label: string;
  /** Full-matrix columns, most important first. */
  ordering: readonly number[];
  /** The probe on all of the ordering's neurons. */
  base: ProbeRecord;
  percentages: readonly number[];
  lambdas: Lambdas;
}

export async function searchMinimal(ctx: StepContext, spec: SearchSpec): Promise<SearchResult> {
  const { total } = ctx.space;
  const s = ctx.settings;
  const target = spec.base.dev.accuracy * (1 - s.neuronDelta);
  const points: SearchPoint[] = [];
  let minimal: MinimalSet | null = null;
  const tried = new Set<number>();
  const bar = ctx.progress(spec.label, spec.percentages.length, "sizes");
  // Warm starts need fixed λs (a grid per probe has no single start).
  const warm = s.warmStarts === true && !("grid" in spec.lambdas);
  let previous: { w: Float64Array; b: Float64Array } | null = null;
  for (const [i, percentage] of spec.percentages.entries()) {
    if (i > 0) bar.update(i);
    const n = Math.floor(percentage * total);
    if (n < 1 || n > spec.ordering.length || tried.has(n)) continue;
    tried.add(n);
    const req = { columns: spec.ordering.slice(0, n), lambdas: spec.lambdas, labels: "task" as const };
    let fit: { record: ProbeRecord };
    if (warm) {
      const f = await ctx.probeFrom(req, previous);
      previous = f.weights;
      fit = f;
    } else fit = await ctx.probe(req);
    const reduction = 1 - n / total;
    points.push({ percentage, neurons: n, reduction, probe: fit.record });
    if (!minimal && fit.record.dev.accuracy > target) {
      minimal = { neurons: n, percentage, reduction, dev: fit.record.dev, test: fit.record.test };
      if (s.curves === "until-target") break;
    }
  }
  bar.finish(minimal ? `minimal set ${minimal.neurons} neurons` : "no size reached the target");
  const longest = points.reduce((m, p) => Math.max(m, p.neurons), 0);
  return {
    target,
    base: { neurons: spec.ordering.length, dev: spec.base.dev.accuracy, test: spec.base.test.accuracy },
    points,
    minimal: minimal ?? {
      neurons: spec.ordering.length,
      percentage: null,
      reduction: 1 - spec.ordering.length / total,
      dev: spec.base.dev,
      test: spec.base.test,
    },
    ordering: ctx.space.ids(spec.ordering.slice(0, longest)),
  };
}
