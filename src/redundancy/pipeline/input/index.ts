import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../../util/errors.js";
import { openSentenceSource } from "./sentence.js";
import { openTokenSource } from "./token.js";
import type { PipelineInputOptions, PipelineSource } from "./types.js";

export {
  type ControlLabels,
  FeatureSpace,
  type LabelledRows,
  type PerSplit,
  type PipelineData,
  type PipelineInputOptions,
  type PipelineSource,
  SPLITS,
  type SplitName,
} from "./types.js";

function taskKind(task: string): "token" | "sentence" | "pair" {
  if (existsSync(join(task, "train.tsv"))) return "token";
  if (existsSync(join(task, "train.a.in"))) return "pair";
  if (existsSync(join(task, "train.in")) && existsSync(join(task, "train.label"))) return "sentence";
  throw new InputError(
    task,
    "is not a task directory: expected train.tsv (token tagging) or train.in / train.a.in + train.label (sentence-level)",
  );
}

/** Opens the stores and reads the task files; activations are read later by `load()`. */
export async function openPipelineSource(opts: PipelineInputOptions): Promise<PipelineSource> {
  const kind = taskKind(opts.task);
  return kind === "token" ? openTokenSource(opts) : openSentenceSource(opts, kind);
}
