import { existsSync } from "node:fs";
import { join } from "node:path";
import { checkClassesKnown, readTask, type Task, type TaskSplit } from "../../../data/task/tsv.js";
import { controlClasses } from "../../../probe/control.js";
import { encodeLabels } from "../../../probe/labels.js";
import { closeSplitStores, openSplitStores, readTaskActivations } from "../../../store/index.js";
import { InputError } from "../../../util/errors.js";
import { neuronIdsOfLayers, neuronSpace } from "../../../util/neurons.js";
import { log } from "../../../util/progress.js";
import type { RedundancyInput } from "../results.js";
import {
  type ControlLabels,
  checkStores,
  chosenLayers,
  classesOf,
  FeatureSpace,
  fileHash,
  type LabelledRows,
  type PipelineData,
  type PipelineInputOptions,
  type PipelineSource,
  SPLITS,
  type SplitName,
  sha256,
  siteKey,
  storeHashes,
} from "./types.js";

/**
 * Token-tagging tasks as `codeneurons task token-tagging` writes them: DIR/{train,valid,test}.tsv
 * (rows: sentence, word, token, label) and DIR/control/*.tsv over the same rows, on word-level stores.
 */
export async function openTokenSource(opts: PipelineInputOptions): Promise<PipelineSource> {
  const stores = await openSplitStores(opts.store);
  try {
    const site = opts.site ?? "hidden";
    checkStores(stores, "word", opts.store, site);
    const task = await readTask(opts.task);
    const controlDir = join(opts.task, "control");
    const hasControl = existsSync(join(controlDir, "train.tsv"));
    const control = hasControl ? await readTask(opts.task, { control: true }) : null;
    const classes = classesOf(task.train.label, join(opts.task, "train.tsv"));
    for (const s of ["valid", "test"] as const)
      checkClassesKnown(task[s].label, classes, join(opts.task, `${s}.tsv`));
    if (control) checkSameRows(task, control, controlDir);
    const taskFiles = SPLITS.map((s) => join(opts.task, `${s}.tsv`));
    const controlFiles = hasControl ? SPLITS.map((s) => join(controlDir, `${s}.tsv`)) : [];
    const meta = stores.train.meta;
    const layers = chosenLayers(site, meta.layers, opts.layers, opts.store);
    const fingerprint = sha256([
      "token",
      ...siteKey(site, opts.layers && layers),
      ...(await storeHashes(stores)),
      ...(await Promise.all([...taskFiles, ...controlFiles].map(fileHash))),
    ]);
    const ids = neuronSpace(site, stores.train.dimOf(site));
    const space = new FeatureSpace(ids.width, layers, 1);
    const input: RedundancyInput = {
      store: opts.store,
      task: opts.task,
      kind: "token",
      model: meta.model,
      site,
      width: ids.width,
      hidden: meta.hidden,
      layers,
      sides: 1,
      classes,
      control: hasControl ? controlDir : null,
      rows: { train: task.train.label.length, valid: task.valid.label.length, test: task.test.label.length },
      fingerprint,
    };
    const read = (s: SplitName, neurons: readonly number[]) =>
      readTaskActivations(stores[s], task[s], { neurons, site }, join(opts.task, `${s}.tsv`));
    const load = async (): Promise<PipelineData> => {
      const neurons = neuronIdsOfLayers(layers, ids);
      const split = async (s: SplitName): Promise<LabelledRows> => {
        const x = await read(s, neurons);
        return { x, y: encodeLabels(task[s].label, classes).codes };
      };
      log(`redundancy: reading ${neurons.length} ${site} neurons for ${input.rows.train} train tokens`);
      const data = { train: await split("train"), valid: await split("valid"), test: await split("test") };
      return { ...data, control: control ? controlLabelsOf(control, controlDir, classes) : null };
    };
    const readColumns = (s: SplitName, columns: readonly number[]) => read(s, space.ids(columns));
    return { input, space, load, readColumns, close: () => closeSplitStores(stores) };
  } catch (e) {
    closeSplitStores(stores);
    throw e;
  }
}

/** The control task must label the real task's rows (only the labels differ). */
function checkSameRows(task: Task, control: Task, dir: string): void {
  for (const s of SPLITS) {
    const a: TaskSplit = task[s];
    const b: TaskSplit = control[s];
    const same =
      a.sentence.length === b.sentence.length &&
      a.sentence.every((v, i) => v === b.sentence[i] && a.word[i] === b.word[i]);
    if (!same)
      throw new InputError(
        join(dir, `${s}.tsv`),
        "the control task must list the same rows as the real task",
      );
  }
}

/** The control task's labels, with the classes of the one control probe (probe/control.ts). */
function controlLabelsOf(control: Task, dir: string, realClasses: string[]): ControlLabels {
  const classes = controlClasses(
    realClasses,
    SPLITS.flatMap((s) => control[s].label),
  );
  return {
    source: dir,
    classes,
    y: {
      train: encodeLabels(control.train.label, classes).codes,
      valid: encodeLabels(control.valid.label, classes).codes,
      test: encodeLabels(control.test.label, classes).codes,
    },
  };
}
