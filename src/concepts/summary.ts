import type { ConceptsResult } from "./format.js";

/** What `codeneurons concepts` prints (and `--json` writes): counts and the first concept neuron of each concept. */
export interface ConceptsSummary {
  file: string;
  site: ConceptsResult["site"];
  rows: number;
  neurons: number;
  topNeurons: number;
  perClass: Record<string, number>;
  conceptNeurons: Record<string, number>;
  examples: { concept: string; neuron: string; purity: number; words: string[] }[];
}

export function conceptsSummary(r: ConceptsResult, file: string): ConceptsSummary {
  const firsts = new Map<string, ConceptsResult["conceptNeurons"][number]>();
  for (const m of r.conceptNeurons) if (!firsts.has(m.concept)) firsts.set(m.concept, m);
  return {
    file,
    site: r.site,
    rows: r.corpus.rows,
    neurons: r.stats.neurons.length,
    topNeurons: r.topNeurons.overall.length,
    perClass: Object.fromEntries(Object.entries(r.topNeurons.perClass).map(([c, ids]) => [c, ids.length])),
    conceptNeurons: Object.fromEntries(r.concepts.map((c) => [c.concept, c.count])),
    examples: [...firsts.values()].map((m) => ({
      concept: m.concept,
      neuron: m.name,
      purity: m.purity,
      words: m.words.slice(0, 8),
    })),
  };
}

/** The summary as lines for a terminal. */
export function formatConceptsSummary(s: ConceptsSummary): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([c, n]) => `${c} ${n}`)
      .join(", ");
  const out: string[] = [
    `wrote ${s.file}`,
    `${s.rows} rows, ${s.neurons} ${s.site === "hidden" ? "" : `${s.site} `}neurons; ${s.topNeurons} top neurons (${list(s.perClass)})`,
    `concept neurons: ${list(s.conceptNeurons)}`,
  ];
  for (const e of s.examples) {
    out.push(
      `  ${e.concept.padEnd(12)} ${e.neuron.padEnd(s.site === "hidden" ? 9 : 13)} purity ${e.purity.toFixed(2)}  ${e.words.join(" ")}`,
    );
  }
  return out.join("\n");
}
