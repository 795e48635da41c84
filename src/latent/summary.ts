import { percent } from "../util/format.js";
import type { LatentResult } from "./format.js";

/** What `codeneurons latent` prints (and `--json` writes): per layer, the share of aligned and novel clusters. */
export interface LatentSummary {
  file: string;
  site: LatentResult["site"];
  tokens: number;
  clusters: number;
  theta: number;
  families: string[];
  layers: {
    layer: number;
    novel: number;
    aligned: Record<string, number>;
    /** A few aligned clusters: category, size, first words. */
    examples: { category: string; size: number; words: string[] }[];
  }[];
}

export function latentSummary(r: LatentResult, file: string): LatentSummary {
  return {
    file,
    site: r.site,
    tokens: r.tokens.count,
    clusters: r.settings.clusters,
    theta: r.settings.theta,
    families: r.settings.families,
    layers: r.layers.map((l) => ({
      layer: l.layer,
      novel: l.novel,
      aligned: Object.fromEntries(l.alignment.map((a) => [a.family, a.aligned])),
      examples: [...l.clusters]
        .filter((c) => c.aligned.length > 0)
        .sort((a, b) => b.size - a.size || a.id - b.id)
        .slice(0, 3)
        .map((c) => ({
          category: `${c.aligned[0].family}:${c.aligned[0].value}`,
          size: c.size,
          words: [...new Set(c.tokens.map((t) => r.tokens.word[t]))].slice(0, 8),
        })),
    })),
  };
}

/** The summary as lines for a terminal. */
export function formatLatentSummary(s: LatentSummary): string {
  const out = [
    `wrote ${s.file}`,
    `${s.tokens} tokens, ${s.clusters} clusters per layer; aligned = at least ${percent(s.theta, 0)} of a cluster's tokens share a category`,
  ];
  for (const l of s.layers) {
    const aligned = s.families.map((f) => `${f} ${percent(l.aligned[f] ?? 0, 0)}`).join(", ");
    out.push(`layer ${l.layer}: aligned with ${aligned}; novel ${percent(l.novel, 0)}`);
    for (const e of l.examples)
      out.push(`  ${e.category.padEnd(24)} ${String(e.size).padStart(4)}  ${e.words.join(" ")}`);
  }
  return out.join("\n");
}

/** Distinct words of some tokens with their counts, most frequent first (ties: alphabetical). */
export function wordCounts(
  tokens: readonly number[],
  words: readonly string[],
): { word: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(words[t], (counts.get(words[t]) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([word, count]) => ({ word, count }));
}
