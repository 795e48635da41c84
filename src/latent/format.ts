import { z } from "zod";
import { InputError } from "../util/errors.js";
import { checkJson, envelope, readVersioned } from "../util/json.js";
import { SITES } from "../util/neurons.js";
import { CATEGORY_FAMILIES } from "./categories.js";

/**
 * latent/latent.json, the file `codeneurons latent` writes: per layer, the Ward clusters of the sampled
 * tokens (ConceptX's latent concepts) and how they align with code categories. Its schema is the source
 * of its TypeScript type and of docs/schemas/codeneurons-latent.schema.json.
 */
export const LATENT_FORMAT = "codeneurons-latent";
export const LATENT_VERSION = 1;

const id = z.number().int().min(0);
const share = z.number().min(0).max(1);
const family = z.enum(CATEGORY_FAMILIES);

export const LATENT_SETTINGS_SCHEMA = z.object({
  /** Clusters per layer (the cut of the Ward tree; fewer when a layer has fewer distinct tokens). */
  clusters: z.number().int().min(1),
  /** At most this many tokens were sampled. */
  maxTokens: z.number().int().min(1),
  /** Occurrences kept per word type. */
  maxPerType: z.number().int().min(1),
  seed: z.number().int(),
  /** A cluster is aligned with a category when at least this share of its tokens has it. */
  theta: z.number().gt(0).max(1),
  families: z.array(family),
  /** The code's language (tree-sitter grammar of the parent categories), or null when not used. */
  language: z.string().nullable(),
  /** Neurons listed per cluster. */
  topNeurons: id,
});

export const CATEGORY_VALUES_SCHEMA = z.object({
  family,
  /** The family's values, sorted. */
  values: z.array(z.string()),
  /** Per sampled token, an index into values, or -1 when the family says nothing about the token. */
  token: z.array(z.number().int().min(-1)),
});

export const CLUSTER_SCHEMA = z.object({
  /** The cluster's number: scikit-learn's label for the same cut. */
  id,
  size: z.number().int().min(1),
  /** Indices into `tokens`, ascending. */
  tokens: z.array(id),
  /** Categories that at least `theta` of the tokens have, by family order then share. */
  aligned: z.array(z.object({ family, value: z.string(), share })),
  /** Per family, the most frequent value and its share of the cluster's tokens (none when no token has one). */
  majority: z.array(z.object({ family, value: z.string(), share })),
  /**
   * The neurons of the layer most active on the cluster: the largest mean z-score over its tokens
   * (each neuron standardised over all sampled tokens).
   */
  neurons: z.array(z.object({ id, name: z.string(), z: z.number() })),
});

export const LAYER_ALIGNMENT_SCHEMA = z.object({
  family,
  /** Share of the layer's clusters aligned with some value of the family. */
  aligned: share,
  /** Per value with at least one aligned cluster: the share of clusters aligned with it. */
  values: z.array(z.object({ value: z.string(), clusters: id, share })),
});

export const LATENT_LAYER_SCHEMA = z.object({
  layer: id,
  clusters: z.array(CLUSTER_SCHEMA),
  alignment: z.array(LAYER_ALIGNMENT_SCHEMA),
  /** Share of clusters aligned with no category of any family: the layer's novel concepts. */
  novel: share,
});

export const LATENT_SCHEMA = z
  .object({
    ...envelope(LATENT_FORMAT, LATENT_VERSION),
    site: z.enum(SITES),
    width: z.number().int().min(1),
    settings: LATENT_SETTINGS_SCHEMA,
    /** The sampled tokens, in store order. */
    tokens: z.object({
      count: id,
      /** Word types in the store, and how many had more occurrences than maxPerType. */
      types: id,
      cappedTypes: id,
      word: z.array(z.string()),
      /** Store line (sentence) and word position of each token. */
      sentence: z.array(id),
      position: z.array(id),
    }),
    categories: z.array(CATEGORY_VALUES_SCHEMA),
    layers: z.array(LATENT_LAYER_SCHEMA),
  })
  .describe(
    "codeneurons latent/latent.json: Ward clusters of token representations per layer, aligned with code categories",
  );

export type LatentResult = z.infer<typeof LATENT_SCHEMA>;
export type LatentLayer = z.infer<typeof LATENT_LAYER_SCHEMA>;
export type LatentCluster = z.infer<typeof CLUSTER_SCHEMA>;
export type LatentSettings = z.infer<typeof LATENT_SETTINGS_SCHEMA>;

/** latent.json, checked (its schema, and that its parts fit together); problems name the file and the field. */
export function parseLatent(value: unknown, file: string): LatentResult {
  const r = readVersioned(
    value,
    file,
    { format: LATENT_FORMAT, version: LATENT_VERSION },
    { 1: (v) => checkJson(LATENT_SCHEMA, v, file) },
  );
  checkConsistent(r, file);
  return r;
}

/** What readers index by: every per-token array has `tokens.count` entries, each layer partitions the tokens. */
function checkConsistent(r: LatentResult, file: string): void {
  const n = r.tokens.count;
  const bad = (field: string, detail: string) => new InputError(file, detail, { field });
  for (const key of ["word", "sentence", "position"] as const) {
    if (r.tokens[key].length !== n)
      throw bad(`tokens.${key}`, `has ${r.tokens[key].length} entries, tokens.count is ${n}`);
  }
  r.categories.forEach((c, i) => {
    if (c.token.length !== n)
      throw bad(`categories.${i}.token`, `has ${c.token.length} entries, tokens.count is ${n}`);
    const v = c.token.findIndex((t) => t >= c.values.length);
    if (v >= 0)
      throw bad(
        `categories.${i}.token.${v}`,
        `${c.token[v]} is not an index of the ${c.values.length} values`,
      );
  });
  r.layers.forEach((layer, l) => {
    const seen = new Uint8Array(n);
    layer.clusters.forEach((c, k) => {
      const where = `layers.${l}.clusters.${k}`;
      if (c.tokens.length !== c.size)
        throw bad(`${where}.size`, `is ${c.size}, the cluster lists ${c.tokens.length} tokens`);
      for (const t of c.tokens) {
        if (t >= n) throw bad(`${where}.tokens`, `token ${t} is past the ${n} tokens`);
        if (seen[t]) throw bad(`${where}.tokens`, `token ${t} is in two clusters of the layer`);
        seen[t] = 1;
      }
    });
    const missing = seen.indexOf(0);
    if (missing >= 0)
      throw bad(`layers.${l}.clusters`, `token ${missing} is in no cluster of layer ${layer.layer}`);
  });
}
