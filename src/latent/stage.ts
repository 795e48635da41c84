import { join } from "node:path";
import { ActivationStore, type Site } from "../store/index.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { neuronId, neuronName, neuronSpace, siteLayers } from "../util/neurons.js";
import { type RunRecord, secondsSince, writeRunRecord } from "../util/run-record.js";
import { alignLayer } from "./align.js";
import { CATEGORY_FAMILIES, type CategoryFamily, tokenCategories } from "./categories.js";
import { cutTree } from "./cut.js";
import { LATENT_FORMAT, LATENT_VERSION, type LatentLayer, type LatentResult } from "./format.js";
import { selectTokens } from "./select.js";
import { wardLinkage } from "./ward.js";

/**
 * The latent-concept stage (`codeneurons latent`, and `codeneurons run`'s): ConceptX (Dalvi et al.,
 * 2022) on a word-level activation store. Samples tokens (each word type at most `maxPerType` times),
 * clusters each layer's token vectors with Ward's method (src/latent/ward.ts: scikit-learn's merges),
 * cuts the tree at `clusters`, and aligns every cluster with the code categories of
 * src/latent/categories.ts. Writes OUT/latent.json (latent/format.ts) and OUT/run-record.json.
 */
export interface LatentStageOptions {
  store: string;
  out: string;
  /** Layers to cluster (model layer numbers of the site); default every stored layer. */
  layers?: number[];
  site?: Site;
  /** Clusters per layer (default 500, as ConceptX uses for 12-layer models). */
  clusters?: number;
  /** At most this many tokens (default 20,000). */
  maxTokens?: number;
  /** Occurrences kept per word type (default 10). */
  maxPerType?: number;
  seed?: number;
  /** Alignment threshold θ (default 0.9). */
  theta?: number;
  /** Category families (default: every family whose input exists: parent needs `language`). */
  families?: CategoryFamily[];
  /** The code's language (the tree-sitter grammar of the parent categories). */
  language?: string;
  /** Neurons listed per cluster (default 5). */
  topNeurons?: number;
  quiet?: boolean;
}

export const LATENT_DEFAULTS = {
  clusters: 500,
  maxTokens: 20000,
  maxPerType: 10,
  seed: 1,
  theta: 0.9,
  topNeurons: 5,
} as const;

export interface LatentStageResult {
  result: LatentResult;
  record: RunRecord;
}

export async function runLatent(opts: LatentStageOptions): Promise<LatentStageResult> {
  const t0 = performance.now();
  const clusters = opts.clusters ?? LATENT_DEFAULTS.clusters;
  const theta = opts.theta ?? LATENT_DEFAULTS.theta;
  if (!Number.isInteger(clusters) || clusters < 1)
    throw new UserError(`--clusters must be a positive integer, got ${clusters}`);
  if (!(theta > 0 && theta <= 1)) throw new UserError(`--theta must be in (0, 1], got ${theta}`);
  const families =
    opts.families ?? CATEGORY_FAMILIES.filter((f) => f !== "parent" || opts.language !== undefined);
  const store = await ActivationStore.open(opts.store);
  try {
    if (store.meta.level !== "word")
      throw new InputError(
        opts.store,
        "latent concepts need a word-level store (extract without --level sentence)",
      );
    const site = opts.site ?? "hidden";
    const width = store.dimOf(site);
    const space = neuronSpace(site, width);
    const stored = siteLayers(site, store.meta.layers);
    const layers = opts.layers ?? stored;
    for (const l of layers) {
      if (!stored.includes(l))
        throw new InputError(opts.store, `the store has no ${site} layer ${l} (it has ${stored.join(", ")})`);
    }
    if (layers.length === 0) throw new UserError("no layers to cluster");
    const settings = {
      clusters,
      maxTokens: opts.maxTokens ?? LATENT_DEFAULTS.maxTokens,
      maxPerType: opts.maxPerType ?? LATENT_DEFAULTS.maxPerType,
      seed: opts.seed ?? LATENT_DEFAULTS.seed,
      theta,
      families,
      language: families.includes("parent") ? (opts.language ?? null) : null,
      topNeurons: opts.topNeurons ?? LATENT_DEFAULTS.topNeurons,
    };
    const tokens = selectTokens(store, settings);
    if (clusters > tokens.rows.length)
      throw new UserError(
        `${clusters} clusters is more than the ${tokens.rows.length} tokens sampled from the store: ask for fewer clusters (--clusters; latent.clusters in a run config)`,
      );
    const categories = await tokenCategories(store, tokens, {
      families,
      language: opts.language,
      storeDir: opts.store,
    });
    const out: LatentLayer[] = [];
    for (const layer of layers) {
      const x = await store.readRows(tokens.rows, { layers: [layer], site });
      const tree = await wardLinkage(x, {
        progress: !opts.quiet,
        label: `ward clustering (${site === "hidden" ? "" : `${site} `}layer ${layer})`,
      });
      const labels = cutTree(tree, clusters);
      out.push(
        alignLayer(layer, { labels, k: clusters }, categories, theta, {
          x,
          count: settings.topNeurons,
          name: (unit) => {
            const id = neuronId(layer, unit, space);
            return { id, name: neuronName(id, space) };
          },
        }),
      );
    }
    const result: LatentResult = {
      format: LATENT_FORMAT,
      version: LATENT_VERSION,
      site,
      width,
      settings,
      tokens: {
        count: tokens.rows.length,
        types: tokens.types,
        cappedTypes: tokens.cappedTypes,
        word: tokens.words,
        sentence: Array.from(tokens.sentence),
        position: Array.from(tokens.position),
      },
      categories: categories.map((c) => ({ family: c.family, values: c.values, token: Array.from(c.token) })),
      layers: out,
    };
    await writeJsonAtomic(join(opts.out, "latent.json"), result);
    return { result, record: await writeRunRecord(opts.out, "latent", { total: secondsSince(t0) }) };
  } finally {
    store.close();
  }
}
