import type { ConceptsResult } from "../concepts/index.js";
import type { RedundancyResults, SummaryRow } from "../redundancy/results.js";

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export interface Headline {
  text: string;
  /** The row of the summary the headline quotes (the smallest set within 1% of the oracle). */
  row: SummaryRow | null;
  oracle: SummaryRow | null;
  conceptNeurons: Record<string, string[]>;
}

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
  // Among the reducing methods, the smallest neuron set whose test accuracy is within 1 point of the oracle's.
  const reducing = (r?.summary ?? []).filter((s) => ["LS", "LS+CC+LCA", "CC", "LCA"].includes(s.name));
  const close = oracle ? reducing.filter((s) => s.accuracy >= oracle.accuracy - 0.01) : reducing;
  const row = [...(close.length > 0 ? close : reducing)].sort((a, b) => a.neurons - b.neurons)[0] ?? null;
  if (r && oracle && row) {
    lines.push(
      `${r.totalNeurons - row.neurons} of ${r.totalNeurons} neurons (${pct(row.reduction)}) can go: ` +
        `${row.name} keeps ${row.neurons} neurons at ${pct(row.accuracy)} test accuracy (oracle, all neurons: ${pct(oracle.accuracy)}; ${row.detail ?? ""}).`,
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
