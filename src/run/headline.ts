import type { z } from "zod";
import type { ConceptsResult } from "../concepts/index.js";
import type { RedundancyResults, SummaryRow } from "../redundancy/pipeline/results.js";
import type { HEADLINE_SCHEMA } from "./format.js";

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** A reduced set "keeps" the oracle's accuracy when its dev accuracy is at most this far below. */
const DEV_TOLERANCE = 0.01;
const REDUCING = ["LS", "LS+CC+LCA", "CC", "LCA"];

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
 * The run's one-paragraph finding: how many neurons of how many can go for how much accuracy, and the
 * strongest number / string / identifier neurons.
 */
export function headlineOf(
  r: RedundancyResults | null,
  c: ConceptsResult | null,
  concepts = ["NUMBER", "STRING", "IDENT"],
): Headline {
  const lines: string[] = [];
  const oracle = r?.summary.find((s) => s.name === "Oracle") ?? null;
  const row = r && oracle ? headlineRow(r, oracle) : null;
  if (r && oracle && row) {
    const kept = `${row.name} keeps ${row.neurons} neurons at ${pct(row.accuracy)} test accuracy, ${pct(row.devAccuracy)} dev`;
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
  const control = r?.steps.control;
  if (control)
    lines.push(
      `Selectivity against the control task: ${(100 * control.selectivity.test).toFixed(1)} points.`,
    );
  const conceptNeurons: Record<string, string[]> = {};
  for (const concept of concepts) {
    const matches = (c?.conceptNeurons ?? []).filter((m) => m.concept === concept).slice(0, 3);
    const top = c?.topNeurons.perClass[concept]?.slice(0, 3) ?? [];
    const names =
      matches.length > 0
        ? matches.map((m) => `${m.name} (purity ${m.purity.toFixed(2)})`)
        : top.map((id) => nameOf(c, id));
    conceptNeurons[concept] = names;
    if (names.length > 0)
      lines.push(
        `Top ${concept} neurons: ${names.join(", ")}${matches.length > 0 ? "" : " (LCA; no neuron passed the purity test)"}.`,
      );
  }
  return { text: lines.join("\n"), row, oracle, conceptNeurons };
}

function nameOf(c: ConceptsResult | null, id: number): string {
  return c?.neurons.find((n) => n.id === id)?.name ?? `#${id}`;
}
