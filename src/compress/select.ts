import { FeatureSpace } from "../redundancy/pipeline/input/types.js";
import type { Lambdas } from "../redundancy/pipeline/probes.js";
import {
  decodeIdRanges,
  type RedundancyResults,
  type Scores,
  type StepName,
  type SummaryRow,
} from "../redundancy/pipeline/results.js";
import { bestCandidate } from "../redundancy/pipeline/summary.js";
import { InputError, UserError } from "../util/errors.js";
import type { SetName } from "./format.js";

/**
 * Which neurons a summary row of redundancy.json is, and how the pipeline fitted its probe: the
 * candidate the summary chose (its rule: highest dev accuracy, then fewest neurons), its columns in the
 * order the probe saw them, and its λs (given, tuned on dev, or the oracle's, as the pipeline's
 * StepContext decides). A minimal set that no percentage reached is its search's base set.
 */
export interface SelectedSet {
  name: SetName;
  row: SummaryRow;
  /** Full-matrix columns of the pipeline's feature space, in the probe's input order. */
  columns: number[];
  lambdas: Lambdas;
  /** The set is the oracle itself (all neurons, the oracle's λs): its probe may be the probe stage's. */
  oracle: boolean;
  /** What the run reported for the set's probe. */
  dev: Scores;
  test: Scores;
}

export const ROW_NAMES: Record<SetName, string> = {
  "ls+cc+lca": "LS+CC+LCA",
  lca: "LCA",
  cc: "CC",
  ls: "LS",
  oracle: "Oracle",
};

const STEP_OF: Record<SetName, StepName> = {
  "ls+cc+lca": "lslca",
  lca: "lca",
  cc: "cc",
  ls: "ls",
  oracle: "oracle",
};

export function featureSpaceOf(r: RedundancyResults): FeatureSpace {
  return new FeatureSpace(r.input.width, r.input.layers, r.input.sides);
}

/** Columns of neuron ids (inverse of FeatureSpace.id); `what` names the list in errors. */
export function columnsOfIds(space: FeatureSpace, ids: readonly number[], what: string): number[] {
  return ids.map((id) => {
    const side = space.sides > 1 ? Math.floor(id / space.sideOffset) : 0;
    const inSide = id - side * space.sideOffset;
    const layer = Math.floor(inSide / space.width);
    const index = space.layers.indexOf(layer);
    if (side >= space.sides || index < 0)
      throw new UserError(`${what}: neuron id ${id} is not in the run's feature space`);
    return side * space.perSide + index * space.width + (inSide % space.width);
  });
}

export function selectSet(r: RedundancyResults, name: SetName, file: string): SelectedSet {
  const s = r.steps;
  const step = STEP_OF[name];
  const row = r.summary.find((x) => x.name === ROW_NAMES[name]);
  if (!s[step] || !row) {
    const skipped = r.skipped.find((x) => x.step === step);
    const ran = (Object.keys(s) as StepName[]).join(", ");
    throw new InputError(
      file,
      `the run did not compute the ${ROW_NAMES[name]} set (step '${step}'${skipped ? `: skipped, ${skipped.reason}` : ""}; it ran ${ran || "no step"})`,
      { field: `steps.${step}` },
    );
  }
  const oracle = s.oracle;
  if (!oracle) throw new InputError(file, "the run has no oracle step", { field: "steps.oracle" });
  const space = featureSpaceOf(r);
  const all = Array.from({ length: space.total }, (_, c) => c);
  const settings = r.settings;
  const given = settings.lambda1 !== undefined || settings.lambda2 !== undefined;
  const fixed = { lambda1: settings.lambda1 ?? 0, lambda2: settings.lambda2 ?? 0 };
  const oracleLambdas: Lambdas = given ? fixed : { grid: settings.lambdaGrid };
  const follower: Lambdas = given
    ? fixed
    : settings.tune === "all"
      ? { grid: settings.lambdaGrid }
      : { lambda1: oracle.probe.lambda1, lambda2: oracle.probe.lambda2 };
  const asOracle = (): Omit<SelectedSet, "name" | "row"> => ({
    columns: all,
    lambdas: oracleLambdas,
    oracle: true,
    dev: oracle.probe.dev,
    test: oracle.probe.test,
  });
  /** A probe on some of the neurons, with the λs of the run's followers and the scores it reported. */
  const subset = (columns: number[], scores: { dev: Scores; test: Scores }) => ({
    columns,
    lambdas: follower,
    oracle: false,
    dev: scores.dev,
    test: scores.test,
  });
  /** The probe on the first `count` stored layers: the oracle when that is every layer. */
  const prefix = (count: number, scores: { dev: Scores; test: Scores }) =>
    count === space.layers.length ? asOracle() : subset(space.prefixColumns(count), scores);
  const ids = (list: readonly number[], what: string) => columnsOfIds(space, list, `${file}: ${what}`);

  let chosen: Omit<SelectedSet, "name" | "row">;
  switch (name) {
    case "oracle":
      chosen = asOracle();
      break;
    case "ls": {
      const sel = bestCandidate((s.ls?.selections ?? []).map((x) => ({ ...x, dev: x.probe.dev })));
      if (!sel) throw new InputError(file, "LS has no selection", { field: "steps.ls.selections" });
      chosen = prefix(sel.layers.length, sel.probe);
      break;
    }
    case "cc": {
      const t = bestCandidate((s.cc?.thresholds ?? []).map((x) => ({ ...x, dev: x.probe.dev })));
      if (!t) throw new InputError(file, "CC has no threshold", { field: "steps.cc.thresholds" });
      chosen = subset(ids(decodeIdRanges(t.ids), `CC t=${t.threshold}`), t.probe);
      break;
    }
    case "lca": {
      const lca = s.lca!;
      chosen =
        lca.minimal.percentage === null
          ? asOracle()
          : subset(ids(lca.ordering.slice(0, lca.minimal.neurons), "LCA ordering"), lca.minimal);
      break;
    }
    case "ls+cc+lca": {
      const runs = (s.lslca?.groups ?? []).flatMap((g) =>
        g.runs.map((run) => ({ group: g, run, neurons: run.minimal.neurons, dev: run.minimal.dev })),
      );
      const best = bestCandidate(runs);
      if (!best) throw new InputError(file, "LS+CC+LCA has no search", { field: "steps.lslca.groups" });
      const { group, run } = best;
      const label = `LS+CC+LCA layers ${group.layers.join(",")} ${run.threshold === null ? "no clustering" : `t=${run.threshold}`}`;
      if (run.minimal.percentage !== null) {
        chosen = subset(ids(run.ordering.slice(0, run.minimal.neurons), `${label} ordering`), run.minimal);
      } else if (run.threshold === null) {
        chosen = prefix(group.layers.length, run.minimal);
      } else {
        // The base set: the representatives of the CCFS clustering of these layers at this threshold.
        const cut = s.ccfs?.groups
          .find((g) => g.layers.length === group.layers.length)
          ?.thresholds.find((t) => t.threshold === run.threshold);
        if (!cut) throw new InputError(file, `${label}: no CCFS threshold to take its base set from`);
        chosen = subset(ids(decodeIdRanges(cut.ids), `CCFS t=${run.threshold}`), run.minimal);
      }
      break;
    }
  }
  // The summary row is the candidate chosen here, or the summary and this choice disagree.
  if (
    chosen.columns.length !== row.neurons ||
    chosen.test.accuracy !== row.accuracy ||
    chosen.dev.accuracy !== row.devAccuracy
  )
    throw new InputError(
      file,
      `the ${row.name} row of the summary (${row.neurons} neurons, test ${row.accuracy}) is not the set its step chose (${chosen.columns.length} neurons, test ${chosen.test.accuracy})`,
      { field: "summary" },
    );
  return { name, row, ...chosen };
}
