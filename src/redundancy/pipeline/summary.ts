import type { Site } from "../../store/format.js";
import { percent } from "../../util/format.js";
import { layerName } from "../../util/neurons.js";
import type { RedundancyRecord, RedundancyResults, Scores, StepResults, SummaryRow } from "./results.js";

/**
 * The paper-style summary (Sharma et al. 2023, Tables 3–4): for Oracle, LS, LS+CC+LCA, CC, LCA,
 * probeless, random and the control task, the neurons kept, the accuracy and the reduction. Where a step
 * has several candidates (δs, thresholds) the "best" is the one with the highest dev accuracy (ties: the
 * fewest neurons), as Sharma et al. pick the most accurate setting; they pick by test accuracy, we pick
 * by dev so that the test split is never used to choose.
 */
interface Candidate {
  neurons: number;
  dev: Scores;
  test: Scores;
  layers?: number[];
  detail: string;
}

/** The summary's choice among candidates (exported: compress/ picks a row's set by the same rule). */
export function bestCandidate<C extends { neurons: number; dev: Scores }>(
  candidates: readonly C[],
): C | undefined {
  let out: C | undefined;
  for (const c of candidates) {
    if (
      !out ||
      c.dev.accuracy > out.dev.accuracy ||
      (c.dev.accuracy === out.dev.accuracy && c.neurons < out.neurons)
    )
      out = c;
  }
  return out;
}

function row(name: string, c: Candidate, total: number): SummaryRow {
  return {
    name,
    neurons: c.neurons,
    accuracy: c.test.accuracy,
    devAccuracy: c.dev.accuracy,
    reduction: 1 - c.neurons / total,
    ...(c.layers ? { layers: c.layers } : {}),
    detail: c.detail,
  };
}

/** "layers 0-5"; MLP layers say so ("mlp layers 1-5"), as their numbers mean blocks, not states. */
function layerRange(layers: number[], site: Site): string {
  const what = site === "hidden" ? "layer" : `${site} layer`;
  return layers.length === 1 ? `${what} ${layers[0]}` : `${what}s ${layers[0]}-${layers[layers.length - 1]}`;
}

function lsccLcaCandidates(steps: StepResults, site: Site): Candidate[] {
  const out: Candidate[] = [];
  for (const g of steps.lslca?.groups ?? [])
    for (const r of g.runs)
      out.push({
        neurons: r.minimal.neurons,
        dev: r.minimal.dev,
        test: r.minimal.test,
        layers: g.layers,
        detail: `δ=${g.deltas.join("/")}, ${r.threshold === null ? "no clustering" : `t=${r.threshold}`}, ${layerRange(g.layers, site)}`,
      });
  return out;
}

export function summarize(steps: StepResults, total: number, site: Site = "hidden"): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const push = (name: string, c: Candidate | undefined) => {
    if (c) rows.push(row(name, c, total));
  };
  const o = steps.oracle;
  if (o)
    push("Oracle", {
      neurons: o.probe.neurons,
      dev: o.probe.dev,
      test: o.probe.test,
      layers: o.layers,
      detail: `λ1=${o.probe.lambda1}, λ2=${o.probe.lambda2}`,
    });
  push(
    "LS",
    bestCandidate(
      (steps.ls?.selections ?? []).map((s) => ({
        neurons: s.neurons,
        dev: s.probe.dev,
        test: s.probe.test,
        layers: s.layers,
        detail: `δ=${s.delta}, ${layerRange(s.layers, site)}`,
      })),
    ),
  );
  push("LS+CC+LCA", bestCandidate(lsccLcaCandidates(steps, site)));
  push(
    "CC",
    bestCandidate(
      (steps.cc?.thresholds ?? []).map((t) => ({
        neurons: t.neurons,
        dev: t.probe.dev,
        test: t.probe.test,
        detail: `t=${t.threshold}`,
      })),
    ),
  );
  for (const [name, s] of [
    ["LCA", steps.lca],
    ["Probeless", steps.probeless],
    ["Random", steps.random],
  ] as const) {
    if (!s) continue;
    const p = s.minimal.percentage;
    push(name, {
      neurons: s.minimal.neurons,
      dev: s.minimal.dev,
      test: s.minimal.test,
      detail: p === null ? "no percentage reached the target" : `${(100 * p).toPrecision(2)}% of all neurons`,
    });
  }
  const c = steps.control;
  if (c)
    push("Control", {
      neurons: c.probe.neurons,
      dev: c.probe.dev,
      test: c.probe.test,
      detail: `selectivity ${(100 * c.selectivity.test).toFixed(2)} points`,
    });
  return rows;
}

/** The summary as a small text table, plus the layer-wise accuracies, for stdout. */
export function formatSummary(r: RedundancyResults, record?: RedundancyRecord): string {
  const i = r.input;
  const site = i.site;
  const lines = [
    `redundancy: ${i.model} · ${i.task} (${i.kind}, ${i.classes.length} classes, ` +
      `${i.rows.train}/${i.rows.valid}/${i.rows.test} rows, ${r.totalNeurons} ${site === "hidden" ? "" : `${site} `}neurons)`,
    `  ${"step".padEnd(10)} ${"neurons".padStart(8)} ${"test acc".padStart(9)} ${"dev acc".padStart(9)} ${"reduction".padStart(10)}  setting`,
  ];
  for (const s of r.summary)
    lines.push(
      `  ${s.name.padEnd(10)} ${String(s.neurons).padStart(8)} ${percent(s.accuracy, 2).padStart(9)} ${percent(s.devAccuracy, 2).padStart(9)} ${(s.name === "Control" ? "-" : percent(s.reduction, 2)).padStart(10)}  ${s.detail ?? ""}`,
    );
  const layerLine = (label: string, layers?: { layer: number; probe: { test: Scores } }[]) => {
    if (layers)
      lines.push(
        `  ${label} (test): ${layers.map((l) => `${layerName(l.layer, site)} ${percent(l.probe.test.accuracy, 2)}`).join("  ")}`,
      );
  };
  layerLine("independent", r.steps.independent?.layers);
  layerLine(`incremental ${i.layers[0] ?? 0}..i`, r.steps.incremental?.layers);
  for (const s of r.skipped) lines.push(`  skipped ${s.step}: ${s.reason}`);
  if (record) {
    const d = record.details;
    lines.push(
      `  computed: ${d.computed.join(", ") || "nothing"}; cached: ${d.cached.join(", ") || "nothing"}; ` +
        `${d.probesFitted} probes, ${d.clusterings} clusterings fitted in ${record.seconds.total.toFixed(1)} s`,
    );
  }
  return lines.join("\n");
}
