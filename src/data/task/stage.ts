import type { PerSplit } from "../splits.js";
import {
  type BinaryOptions,
  binaryPredicate,
  buildBinary,
  buildTokenTagging,
  readTaskSources,
  type TaskSummary,
  type TokenTaggingOptions,
  writeTask,
} from "./build.js";

/**
 * The task stage (`codeneurons task token-tagging | binary`, and `codeneurons run`'s): labelled splits
 * (PREFIX.in + PREFIX.label each) in, a task directory out (DIR/{train,valid,test}.tsv, DIR/control/,
 * word lists, DIR/summary.json). `codeneurons task sentence` is data/sentence's writeSentenceTask.
 */
export interface TaskStageInput {
  /** The labelled splits' prefixes. */
  splits: PerSplit<string>;
  out: string;
}

/** The paper's filtered token-tagging task and its control task. */
export async function runTokenTaggingTask(
  input: TaskStageInput,
  opts: TokenTaggingOptions,
): Promise<TaskSummary> {
  return writeTask(input.out, buildTokenTagging(await readTaskSources(input.splits), opts));
}

/** A binary concept task: tokens of the given labels, or matching `regex`, against all others. */
export async function runBinaryTask(
  input: TaskStageInput,
  opts: BinaryOptions & { labels?: string[]; regex?: string },
): Promise<TaskSummary> {
  const predicate = binaryPredicate({ labels: opts.labels, regex: opts.regex });
  return writeTask(input.out, buildBinary(await readTaskSources(input.splits), predicate, opts));
}
