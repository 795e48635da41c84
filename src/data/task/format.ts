import { z } from "zod";
import { InputError } from "../../util/errors.js";
import { checkJson, envelope, readVersioned } from "../../util/json.js";
import { SPLITS } from "../splits.js";

/**
 * The JSON files of a task directory (`codeneurons task token-tagging | binary`): summary.json (what
 * was selected, what each rule removed, the control task) and wordlists.json (the disjoint word lists
 * of the closed classes). Files written before these had a format name are read as version 1.
 * Versions of summary.json: 2 quotes TSV fields that hold `"` as csv does (`tsvQuoting: "csv"`, see
 * tsv.ts); a version 1 directory's TSVs hold raw quotes and read as `tsvQuoting: "raw"`.
 */
export const TASK_SUMMARY_FORMAT = "codeneurons-task";
export const TASK_SUMMARY_VERSION = 2;
export const WORD_LISTS_FORMAT = "codeneurons-wordlists";
export const WORD_LISTS_VERSION = 1;

const count = z.number().int().min(0);
const perSplit = <T extends z.ZodType>(t: T) => z.object({ train: t, valid: t, test: t });
const split = z.enum(SPLITS);

export const REMOVED_SCHEMA = z.object({
  candidates: count,
  /** Closed class: the word belongs to another split's list. */
  otherSplitWordList: count,
  /** valid/test: the text occurs among the selected train tokens. */
  seenInTrain: count,
  /** Eligible but beyond the cap. */
  overCap: count,
  selected: count,
});

/** Per closed class, its words in each split (disjoint across splits). */
export const WORD_LIST_MAP_SCHEMA = z.record(z.string(), perSplit(z.array(z.string())));

const SUMMARY_FIELDS_V1 = {
  kind: z.enum(["token-tagging", "binary"]),
  /** Binary tasks: what the positive class is. */
  predicate: z.string().optional(),
  seed: count,
  /** Tokens per class in each split. */
  caps: perSplit(count),
  classes: z.array(z.string()),
  closedClasses: z.array(z.string()),
  preferUnseen: z.array(z.string()),
  unseenInTrain: z.boolean(),
  sources: perSplit(
    z.object({
      prefix: z.string(),
      in: z.string(),
      label: z.string(),
      sha256: z.object({ in: z.string(), label: z.string() }),
      sentences: count,
    }),
  ),
  counts: perSplit(z.record(z.string(), count)),
  totals: perSplit(count),
  /** What each lexical-control rule removed, per split and class. */
  removed: perSplit(z.record(z.string(), REMOVED_SCHEMA)),
  /** Classes that could not reach the cap in a split. */
  shortfall: z.array(z.object({ split, label: z.string(), cap: count, selected: count, reason: z.string() })),
  wordLists: WORD_LIST_MAP_SCHEMA,
  /** Distinct token texts selected in both valid and test (allowed for open classes; reported). */
  validTestSharedTypes: count,
  control: z
    .object({
      mode: z.string(),
      distribution: z.record(z.string(), z.number()),
      types: count,
      counts: perSplit(z.record(z.string(), count)),
    })
    .optional(),
  /** The files written, relative to the task directory. */
  files: z.array(z.string()),
};

const SUMMARY_FIELDS = {
  ...SUMMARY_FIELDS_V1,
  /**
   * How the TSV files spell a token or label holding `"`: "csv", quoted as Python's csv module and
   * pandas read it by default (a field wrapped in `"`, inner quotes doubled); "raw" (version 1), as is.
   */
  tsvQuoting: z.enum(["csv", "raw"]),
};

export const TASK_SUMMARY_SCHEMA = z
  .object({ ...envelope(TASK_SUMMARY_FORMAT, TASK_SUMMARY_VERSION), ...SUMMARY_FIELDS })
  .describe("codeneurons task/summary.json: how a probing task was selected from the labelled splits");
export type TaskSummary = z.infer<typeof TASK_SUMMARY_SCHEMA>;

export const WORD_LISTS_SCHEMA = z
  .object({ ...envelope(WORD_LISTS_FORMAT, WORD_LISTS_VERSION), lists: WORD_LIST_MAP_SCHEMA })
  .describe("codeneurons task/wordlists.json: the closed classes' word lists of each split");
export type WordListsFile = z.infer<typeof WORD_LISTS_SCHEMA>;

const TASK_SUMMARY_V1_SCHEMA = z.object({
  ...envelope(TASK_SUMMARY_FORMAT, 1),
  ...SUMMARY_FIELDS_V1,
});

/** summary.json of any version (a file without `format` is one written before the name). */
export function parseTaskSummary(value: unknown, file: string): TaskSummary {
  const current = { format: TASK_SUMMARY_FORMAT, version: TASK_SUMMARY_VERSION } as const;
  // Version 1 wrote its TSVs' quotes raw.
  const fromV1 = (fields: z.infer<typeof TASK_SUMMARY_V1_SCHEMA>): TaskSummary => ({
    ...fields,
    ...current,
    tsvQuoting: "raw",
  });
  if (typeof value === "object" && value !== null && !("format" in value))
    return fromV1({
      format: TASK_SUMMARY_FORMAT,
      version: 1,
      ...checkJson(z.object(SUMMARY_FIELDS_V1), value, file),
    });
  if (typeof value !== "object" || value === null)
    throw new InputError(file, "expected a task summary object", { field: "(top level)" });
  return readVersioned(value, file, current, {
    1: (v) => fromV1(checkJson(TASK_SUMMARY_V1_SCHEMA, v, file)),
    2: (v) => checkJson(TASK_SUMMARY_SCHEMA, v, file),
  });
}
