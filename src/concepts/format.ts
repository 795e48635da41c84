import { z } from "zod";
import { checkJson, envelope, readVersioned } from "../util/json.js";
import { SITES } from "../util/neurons.js";

/**
 * concepts/concepts.json, the file `codeneurons concepts` writes. Its schema is the source of its
 * TypeScript type and of docs/schemas/codeneurons-concepts.schema.json.
 *
 * Versions: 4 names the rows the statistics are over (`population`; null when read from an older
 * file); 3 names the format `format: "codeneurons-concepts"` (1 and 2 had `schema:
 * "codeneurons.concepts"`); 2 recorded the neuron site (`site`, `width`: ids are layer × width + unit of
 * that site) where 1 had `hidden`. Readers take every version; a version 1 file is the hidden site
 * with width `hidden`.
 */
export const CONCEPTS_FORMAT = "codeneurons-concepts";
export const CONCEPTS_VERSION = 4;
const LEGACY_NAME = "codeneurons.concepts";

const id = z.number().int().min(0);
const finite = z.number();

export const WORD_EXAMPLE_SCHEMA = z.object({
  sentence: id,
  position: id,
  activation: finite,
});

export const TOP_WORD_SCHEMA = z.object({
  word: z.string(),
  /** Mean z-score over the word's occurrences (mean |z| for direction "abs"). */
  score: finite,
  /** score / the best score of the neuron (NeuroX's normalised score). */
  relative: finite,
  count: z.number().int().min(1),
  /** Majority class of the word's occurrences, or null when unlabelled. */
  label: z.string().nullable(),
  /** Up to a few occurrences with the highest activation: where the word fires. */
  examples: z.array(WORD_EXAMPLE_SCHEMA),
});

export const CONCEPT_MATCH_SCHEMA = z.object({
  neuron: id,
  name: z.string(),
  layer: id,
  concept: z.string(),
  direction: z.enum(["positive", "negative"]),
  /** Share of the top `topK` word types that belong to the concept. */
  purity: z.number().min(0).max(1),
  /** Share of all eligible word types that belong to the concept (what a random neuron would get). */
  baseRate: z.number().min(0).max(1),
  /** purity / baseRate. */
  lift: finite,
  /** Hypergeometric P(at least this many concept types among k drawn at random), uncorrected. */
  pValue: z.number().min(0).max(1),
  /** Word types compared: min(k, the concept's number of word types). */
  topK: id,
  /** The neuron's top `topK` words in `direction`, best first. */
  words: z.array(z.string()),
});

/** A code line with the activations of some neurons over each of its words. */
export const LINE_HEATMAP_SCHEMA = z.object({
  sentence: id,
  words: z.array(z.string()),
  /** activations[n][w]: neuron n (in the order of the owning `neurons` list), word w. */
  activations: z.array(z.array(finite)),
});

export const CLASS_HEATMAP_SCHEMA = z.object({
  class: z.string(),
  neurons: z.array(z.object({ id, name: z.string() })),
  lines: z.array(LINE_HEATMAP_SCHEMA),
});

export const NEURON_REPORT_SCHEMA = z.object({
  id,
  name: z.string(),
  layer: id,
  /** Classes for which LCA selected this neuron. */
  topFor: z.array(z.string()),
  /** Probe weight per class (null when the probe did not see the neuron). */
  weights: z.record(z.string(), finite).nullable(),
  mean: finite,
  std: finite,
  /** Mean activation per class of the corpus rows (null: no row of the class). */
  classMeans: z.record(z.string(), finite.nullable()),
  topWords: z.object({ positive: z.array(TOP_WORD_SCHEMA), negative: z.array(TOP_WORD_SCHEMA) }),
  /** The concept this neuron encodes, when it is a concept neuron. */
  concept: z
    .object({
      name: z.string(),
      direction: z.enum(["positive", "negative"]),
      purity: z.number().min(0).max(1),
      pValue: z.number().min(0).max(1),
    })
    .nullable(),
});

export const CONCEPT_SUMMARY_SCHEMA = z.object({
  concept: z.string(),
  count: id,
  /** Concept neurons per layer, aligned with `layers`. */
  byLayer: z.array(id),
});

export const CONCEPTS_OPTIONS_SCHEMA = z.object({
  percentage: z.number().gt(0).max(1),
  topWords: id,
  examples: id,
  minCount: id,
  conceptTopK: id,
  minPurity: z.number().min(0).max(1),
  alpha: z.number().min(0).max(1),
  heatmapNeurons: id,
  heatmapLines: id,
  lines: z.array(id).nullable(),
  wordLists: z.record(z.string(), z.array(z.string())),
  lexical: z.boolean(),
});

/**
 * The rows every statistic of the file is over (top words, class means, purity): the task's tokens of
 * some splits (`codeneurons run`, `concepts --task`), or every word of the store (up to a cap). Views
 * name it, so that a neuron's top words here and in the explorer are read over the same rows.
 */
export const POPULATION_SCHEMA = z.object({
  kind: z.enum(["task", "store"]),
  /** kind "task": the task splits whose tokens were analysed. */
  splits: z.array(z.string()).nullable(),
  rows: id,
  /** For people: "the task's train tokens (6 classes)", "every word of the store". */
  description: z.string(),
});
export type ConceptsPopulation = z.infer<typeof POPULATION_SCHEMA>;

/** The analysis itself: every field but the format name and version. */
const BODY = {
  /** The site of every neuron id and name in the file. */
  site: z.enum(SITES),
  /** Neurons per layer of the site. */
  width: z.number().int().min(1),
  /** Layers of the analysed neurons, ascending (model layer numbers). */
  layers: z.array(id),
  /** Classes of the probe. */
  classes: z.array(z.string()),
  corpus: z.object({
    rows: id,
    sentences: id,
    wordTypes: id,
    classCounts: z.record(z.string(), id),
  }),
  /** Which rows `corpus` is (null: not recorded, a file older than version 4). */
  population: POPULATION_SCHEMA.nullable(),
  options: CONCEPTS_OPTIONS_SCHEMA,
  topNeurons: z.object({
    percentage: z.number().gt(0).max(1),
    perClass: z.record(z.string(), z.array(id)),
    overall: z.array(id),
  }),
  layerDistribution: z.object({
    layers: z.array(id),
    perClass: z.record(z.string(), z.array(id)),
    overall: z.array(id),
  }),
  /** Every LCA-selected or concept neuron, ascending id. */
  neurons: z.array(NEURON_REPORT_SCHEMA),
  /** Sorted by concept (in `concepts` order), then p-value, then purity. */
  conceptNeurons: z.array(CONCEPT_MATCH_SCHEMA),
  concepts: z.array(CONCEPT_SUMMARY_SCHEMA),
  heatmaps: z.array(CLASS_HEATMAP_SCHEMA),
  /** Mean and population std of every analysed neuron, for z-scores elsewhere (the explorer's search). */
  stats: z.object({ neurons: z.array(id), mean: z.array(finite), std: z.array(finite) }),
};

export const CONCEPTS_SCHEMA = z
  .object({ ...envelope(CONCEPTS_FORMAT, CONCEPTS_VERSION), ...BODY })
  .describe("codeneurons concepts/concepts.json: top neurons per class, their top words, concept neurons");

export type ConceptsResult = z.infer<typeof CONCEPTS_SCHEMA>;
export type NeuronReport = z.infer<typeof NEURON_REPORT_SCHEMA>;
export type ConceptSummary = z.infer<typeof CONCEPT_SUMMARY_SCHEMA>;
export type ResolvedConceptsOptions = z.infer<typeof CONCEPTS_OPTIONS_SCHEMA>;

const { population: _population, ...V3_BODY } = BODY;
const V3_SCHEMA = z.object({ format: z.literal(CONCEPTS_FORMAT), version: z.literal(3), ...V3_BODY });
const V2_SCHEMA = z.object({ schema: z.literal(LEGACY_NAME), version: z.literal(2), ...V3_BODY });
const { site: _site, width: _width, ...V1_BODY } = V3_BODY;
const V1_SCHEMA = z.object({
  schema: z.literal(LEGACY_NAME),
  version: z.literal(1),
  /** Version 1 was always of the residual stream; this was its width. */
  hidden: z.number().int().min(1),
  ...V1_BODY,
});

/** Any version of concepts.json, as the current version; problems name the file and the field. */
export function parseConcepts(value: unknown, file: string): ConceptsResult {
  const current = { format: CONCEPTS_FORMAT, version: CONCEPTS_VERSION } as const;
  return readVersioned(
    value,
    file,
    { ...current, legacyName: LEGACY_NAME },
    {
      1: (v) => {
        const { schema: _s, version: _v, hidden, ...rest } = checkJson(V1_SCHEMA, v, file);
        return { ...current, site: "hidden", width: hidden, population: null, ...rest };
      },
      2: (v) => {
        const { schema: _s, version: _v, ...rest } = checkJson(V2_SCHEMA, v, file);
        return { ...current, population: null, ...rest };
      },
      3: (v) => {
        const { format: _f, version: _v, ...rest } = checkJson(V3_SCHEMA, v, file);
        return { ...current, population: null, ...rest };
      },
      4: (v) => checkJson(CONCEPTS_SCHEMA, v, file),
    },
  );
}

export const DEFAULT_CONCEPTS_OPTIONS: ResolvedConceptsOptions = {
  percentage: 0.05,
  topWords: 10,
  examples: 3,
  minCount: 1,
  conceptTopK: 20,
  minPurity: 0.75,
  alpha: 0.01,
  heatmapNeurons: 5,
  heatmapLines: 4,
  lines: null,
  wordLists: {},
  lexical: true,
};
