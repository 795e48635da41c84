import type { z } from "zod";
import type { ConceptsResult } from "../concepts/index.js";
import type { RedundancyResults, SummaryRow } from "../redundancy/pipeline/results.js";
import { baselineOf } from "../report/baseline.js";
import type { Baseline } from "../report/types.js";
import type { HEADLINE_SCHEMA } from "./format.js";

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const points = (v: number) => `${(100 * v).toFixed(1)} points`;

/** A reduced set "keeps" the oracle's accuracy when its dev accuracy is at most this far below. */
const DEV_TOLERANCE = 0.01;
const REDUCING = ["LS", "LS+CC+LCA", "CC", "LCA"];

/** The concepts the headline names the strongest neurons of, when the task has them. */
const HEADLINE_CONCEPTS = ["NUMBER", "STRING", "IDENT", "NAME"];

function withinTolerance(row: SummaryRow, oracle: SummaryRow): boolean {
  return row.devAccuracy >= oracle.devAccuracy - DEV_TOLERANCE;
}

/**
 * The summary row the headline quotes. Chosen on the dev split, like every other choice of the
 * pipeline (the test split only reports): the smallest set of the reducing methods whose dev accuracy
 * is within DEV_TOLERANCE of the oracle's; when no set that drops neurons qualifies, the set that drops
 * neurons with the highest dev accuracy, quoted as the closest.
 */
function headlineRow(r: RedundancyResults, oracle: SummaryRow): SummaryRow | null {
  const reducing = r.summary.filter((s) => REDUCING.includes(s.name) && s.neurons < r.totalNeurons);
  const close = reducing.filter((s) => withinTolerance(s, oracle));
  if (close.length > 0) return [...close].sort((a, b) => a.neurons - b.neurons)[0];
  return [...reducing].sort((a, b) => b.devAccuracy - a.devAccuracy || a.neurons - b.neurons)[0] ?? null;
}

/** What the run prints and run.json keeps (run/format.ts). */
export type Headline = z.infer<typeof HEADLINE_SCHEMA>;

/**
 * The run's one-paragraph finding: how many neurons of how many can go for how much accuracy, each
 * accuracy beside the majority-class rate and the control task's selectivity, and the strongest
 * neurons of a few concepts. When the oracle probe is not clearly above the majority-class rate
 * (report/baseline.ts), the headline warns instead and claims no reduction.
 */
export function headlineOf(
  r: RedundancyResults | null,
  c: ConceptsResult | null,
  concepts: string[] = headlineConcepts(c),
): Headline {
  const lines: string[] = [];
  const oracle = r?.summary.find((s) => s.name === "Oracle") ?? null;
  const baseline = r ? baselineOf(r) : null;
  const claim = baseline === null || baseline.clearlyAboveMajority;
  const row = r && oracle && claim ? headlineRow(r, oracle) : null;
  if (baseline && !baseline.clearlyAboveMajority) lines.push(`Warning: ${baseline.warnings[0]}`);
  if (r && oracle && row) {
    const majority = baseline ? ` (majority class ${pct(baseline.majority.test)})` : "";
    const kept = `${row.name} keeps ${row.neurons} neurons at ${pct(row.accuracy)} test accuracy${majority}, ${pct(row.devAccuracy)} dev`;
    const base = `oracle, all neurons: ${pct(oracle.accuracy)} test, ${pct(oracle.devAccuracy)} dev`;
    const neurons = r.input.site === "mlp" ? "MLP neurons" : "neurons";
    lines.push(
      withinTolerance(row, oracle)
        ? `${r.totalNeurons - row.neurons} of ${r.totalNeurons} ${neurons} (${pct(row.reduction)}) can go: ` +
            `${kept} (${base}; ${row.detail ?? ""}).`
        : `No method dropped neurons within ${100 * DEV_TOLERANCE} point of the oracle's dev accuracy. ` +
            `Closest: ${kept} (${base}; ${row.detail ?? ""}).`,
    );
  }
  if (baseline) lines.push(baselineLine(baseline));
  else if (r?.steps.control)
    lines.push(`Selectivity against the control task: ${points(r.steps.control.selectivity.test)}.`);
  if (baseline?.clearlyAboveMajority) for (const w of baseline.warnings) lines.push(`Caution: ${w}`);
  const conceptNeurons: Record<string, string[]> = {};
  for (const concept of concepts) {
    const matches = (c?.conceptNeurons ?? []).filter((m) => m.concept === concept).slice(0, 3);
    const top = c?.topNeurons.perClass[concept]?.slice(0, 3) ?? [];
    const names =
      matches.length > 0
        ? matches.map(
            (m) =>
              `${m.name} (purity ${m.purity.toFixed(2)}, fires ${m.direction === "positive" ? "high" : "low"})`,
          )
        : top.map((id) => nameWithSign(c, id, concept));
    conceptNeurons[concept] = names;
    if (names.length > 0)
      lines.push(
        `Top ${concept} neurons: ${names.join(", ")}${matches.length > 0 ? "" : " (LCA; no neuron passed the purity test)"}.`,
      );
  }
  return { text: lines.join("\n"), row, oracle, baseline, conceptNeurons };
}

/** "Oracle probe: 85.5% test, 72.8% dev; majority-class rate 35.0% test, 35.5% dev; selectivity …". */
function baselineLine(b: Baseline): string {
  const control =
    b.selectivity && b.control
      ? `; selectivity ${points(b.selectivity.test)} test, ${points(b.selectivity.dev)} dev (control task ${pct(b.control.test)} test)`
      : "";
  return (
    `Oracle probe: ${pct(b.oracle.test)} test, ${pct(b.oracle.dev)} dev; majority-class rate ` +
    `${pct(b.majority.test)} test, ${pct(b.majority.dev)} dev${control}.`
  );
}

/** The concepts to name: those of HEADLINE_CONCEPTS the task has, else its first three classes. */
function headlineConcepts(c: ConceptsResult | null): string[] {
  if (!c) return [];
  const known = HEADLINE_CONCEPTS.filter((k) => c.classes.includes(k));
  return known.length > 0 ? known : c.classes.slice(0, 3);
}

/** "L4:60 (fires low)": an LCA top neuron of a class with the sign of its probe weight. */
function nameWithSign(c: ConceptsResult | null, id: number, cls: string): string {
  const n = c?.neurons.find((x) => x.id === id);
  const w = n?.weights?.[cls];
  const name = n?.name ?? `#${id}`;
  return w === undefined ? name : `${name} (fires ${w >= 0 ? "high" : "low"})`;
}
