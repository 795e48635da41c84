import { type Command, Option } from "commander";
import type { PerSplit } from "../data/splits.js";
import type { TaskOptions } from "../data/task/build.js";
import type { ControlMode } from "../data/task/control.js";
import { UserError } from "../util/errors.js";
import { parseIntOption } from "./options.js";

/** The flags every task built from labelled splits takes. */
export interface SplitCliOptions {
  train: string;
  valid: string;
  test: string;
  out: string;
  seed: number;
  caps: PerSplit<number>;
  control: ControlMode;
  allowSeen?: boolean;
  json?: boolean;
}

function parseCaps(value: string): PerSplit<number> {
  const parts = value.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || nums.some((n) => !Number.isInteger(n) || n < 0))
    throw new UserError(`--caps: expected three non-negative integers train,valid,test, got '${value}'`);
  return { train: nums[0], valid: nums[1], test: nums[2] };
}

export function withSplitOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      "--train <prefix>",
      "labelled train split (PREFIX.in + PREFIX.label, as written by `label`)",
    )
    .requiredOption("--valid <prefix>", "labelled valid split")
    .requiredOption("--test <prefix>", "labelled test split")
    .requiredOption("--out <dir>", "output directory")
    .option("--seed <n>", "random seed (same seed, same task)", parseIntOption("seed"), 1)
    .option(
      "--caps <train,valid,test>",
      "tokens per class in each split",
      parseCaps,
      parseCaps("2000,270,340"),
    )
    .addOption(
      new Option("--control <mode>", "control task (Hewitt & Liang): labels per word type")
        .choices(["distribution", "uniform", "none"])
        .default("distribution"),
    )
    .option("--allow-seen", "do not drop valid/test tokens whose text occurs among the selected train tokens")
    .option("--json", "print the summary as JSON");
}

export const stageInput = (o: SplitCliOptions) => ({
  splits: { train: o.train, valid: o.valid, test: o.test },
  out: o.out,
});

export const taskOptions = (o: SplitCliOptions): TaskOptions => ({
  seed: o.seed,
  caps: o.caps,
  control: o.control,
  unseenInTrain: !o.allowSeen,
});
