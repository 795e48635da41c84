import type { LatentCluster, LatentResult } from "../latent/format.js";
import { wordCounts } from "../latent/summary.js";
import type { LatentSection } from "./types.js";

/**
 * The report's latent-concept section from latent.json: the alignment shares per layer, and per layer
 * a sample of clusters (the largest aligned ones, one per category where possible, and the largest
 * novel ones) with their words and a few of their tokens in context. `lineWords` gives the words of
 * a line of the store the tokens were sampled from.
 */
export function reportSectionFromLatent(
  r: LatentResult,
  lineWords: (sentence: number) => string[],
  opts: { alignedPerLayer?: number; novelPerLayer?: number; contexts?: number; words?: number } = {},
): LatentSection {
  const alignedPerLayer = opts.alignedPerLayer ?? 3;
  const novelPerLayer = opts.novelPerLayer ?? 2;
  const contexts = opts.contexts ?? 3;
  const wordCount = opts.words ?? 12;
  const samples: LatentSection["samples"] = [];
  for (const layer of r.layers) {
    for (const c of sampleClusters(layer.clusters, alignedPerLayer, novelPerLayer)) {
      const words = wordCounts(c.tokens, r.tokens.word).slice(0, wordCount);
      // Tokens of different lines, spread over the cluster.
      const shown: LatentSection["samples"][number]["contexts"] = [];
      const lines = new Set<number>();
      const step = Math.max(1, Math.floor(c.tokens.length / contexts));
      for (let i = 0; i < c.tokens.length && shown.length < contexts; i += step) {
        const t = c.tokens[i];
        const sentence = r.tokens.sentence[t];
        if (lines.has(sentence)) continue;
        lines.add(sentence);
        shown.push({ sentence, position: r.tokens.position[t], words: lineWords(sentence) });
      }
      samples.push({
        layer: layer.layer,
        cluster: c.id,
        size: c.size,
        aligned: c.aligned,
        words,
        contexts: shown,
        neurons: c.neurons.slice(0, 3).map((n) => n.name),
      });
    }
  }
  return {
    tokens: r.tokens.count,
    clusters: r.settings.clusters,
    theta: r.settings.theta,
    families: r.settings.families,
    layers: r.layers.map((l) => ({
      layer: l.layer,
      aligned: l.alignment.map((a) => ({ family: a.family, share: a.aligned })),
      novel: l.novel,
    })),
    samples,
  };
}

/** The largest aligned clusters (a new category first) and the largest novel ones, by size then id. */
function sampleClusters(clusters: LatentCluster[], aligned: number, novel: number): LatentCluster[] {
  const bySize = [...clusters].sort((a, b) => b.size - a.size || a.id - b.id);
  const out: LatentCluster[] = [];
  const seen = new Set<string>();
  const alignedOnes = bySize.filter((c) => c.aligned.length > 0);
  for (const c of alignedOnes) {
    if (out.length >= aligned) break;
    const key = `${c.aligned[0].family}:${c.aligned[0].value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  for (const c of alignedOnes) if (out.length < aligned && !out.includes(c)) out.push(c);
  out.push(...bySize.filter((c) => c.aligned.length === 0).slice(0, novel));
  return out;
}
