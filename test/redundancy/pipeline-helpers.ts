import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { labelJavaTokenLines } from "../../src/data/java/label.js";
import { writeSentenceTask } from "../../src/data/sentence/index.js";
import { type PerSplit, SPLITS } from "../../src/data/splits.js";
import { buildTokenTagging, type TaskSource, writeTask } from "../../src/data/task/build.js";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import { runRedundancyPipeline } from "../../src/redundancy/pipeline/pipeline.js";
import type { RedundancyResults, RedundancyRunDetails } from "../../src/redundancy/pipeline/results.js";
import { sharedData } from "../data/shared.js";

/**
 * Small real inputs for the pipeline tests: the first lines of the paper authors' Java splits,
 * labelled and turned into the paper's 6-class task (small caps), and tiny-roberta's activations
 * (3 blocks × 16 units: 64 neurons) of the lines the task uses. Sentence-level and pair tasks are
 * made from the same lines. Everything is deterministic.
 */
export const MODEL = join(import.meta.dirname, "..", "fixtures", "models", "tiny-roberta");
const LINES: PerSplit<number> = { train: 1500, valid: 1000, test: 1000 };

function javaLines(split: (typeof SPLITS)[number]): string[] {
  return readFileSync(sharedData(`java-token-lines/${split}.in`), "utf8")
    .split("\n")
    .slice(0, LINES[split]);
}

type Model = Awaited<ReturnType<typeof openActivationModel>>;

async function extract(
  model: Model,
  input: string,
  out: string,
  level: "word" | "sentence",
  only?: Set<number>,
): Promise<void> {
  await extractActivations(model, { input, out, level, onlyLines: only, quiet: true });
}

/**
 * DIR/java.{split}.in and DIR/task (with control/); `lines` are the input lines each split's task rows
 * use (what a store of the split must hold).
 */
export async function makeTokenTaskFiles(dir: string, caps = { train: 30, valid: 10, test: 10 }) {
  await mkdir(dir, { recursive: true });
  const sources = {} as PerSplit<TaskSource>;
  for (const s of SPLITS) {
    const path = join(dir, `java.${s}.in`);
    const text = `${javaLines(s).join("\n")}\n`;
    await writeFile(path, text);
    const corpus = labelJavaTokenLines(text, { file: path });
    sources[s] = { prefix: s, in: path, label: "", sha256: { in: "", label: "" }, corpus };
  }
  const task = join(dir, "task");
  const build = buildTokenTagging(sources, { seed: 1, caps, control: "distribution" });
  await writeTask(task, build);
  const lines = {} as PerSplit<number[]>;
  for (const s of SPLITS) lines[s] = [...new Set(build.selection.rows[s].map((r) => r.sentence))];
  return {
    task,
    inputs: Object.fromEntries(SPLITS.map((s) => [s, sources[s].in])) as PerSplit<string>,
    lines,
    rows: SPLITS.map((s) => build.selection.rows[s].length),
  };
}

/** DIR/java.{split}.in, DIR/task (with control/), DIR/stores/{split}. */
export async function makeTokenTask(dir: string, caps = { train: 30, valid: 10, test: 10 }) {
  const { task, inputs, lines, rows } = await makeTokenTaskFiles(dir, caps);
  const store = join(dir, "stores");
  const model = await openActivationModel(MODEL);
  try {
    for (const s of SPLITS) await extract(model, inputs[s], join(store, s), "word", new Set(lines[s]));
  } finally {
    await model.release();
  }
  return { store, task, rows };
}

/**
 * A devign-format sentence task (label 1 when the line holds a string literal) and a CoSQA-format pair
 * task (a line paired with the next; label 1 when both hold `=`), each written by `writeSentenceTask`,
 * with sentence-level stores: DIR/sentence/{task,stores} and DIR/pair/{task,stores/{a,b}}.
 */
export async function makeSentenceTasks(dir: string, perSplit = { train: 80, valid: 30, test: 30 }) {
  const single = join(dir, "sentence");
  const pair = join(dir, "pair");
  const raw = join(dir, "raw");
  await mkdir(join(raw, "devign"), { recursive: true });
  await mkdir(join(raw, "cosqa"), { recursive: true });
  for (const s of SPLITS) {
    const lines = javaLines(s)
      .filter((l) => l.trim().length > 0)
      .slice(0, perSplit[s] + 1);
    const devign = lines.slice(0, perSplit[s]).map((func) => ({ func, target: func.includes('"') ? 1 : 0 }));
    await writeFile(join(raw, "devign", `${s}.jsonl`), devign.map((r) => JSON.stringify(r)).join("\n"));
    const cosqa = lines.slice(0, perSplit[s]).map((doc, i) => ({
      doc,
      code: lines[i + 1],
      label: doc.includes("=") && lines[i + 1].includes("=") ? 1 : 0,
    }));
    await writeFile(join(raw, "cosqa", `${s}.json`), JSON.stringify(cosqa));
  }
  await writeSentenceTask("devign", join(raw, "devign"), join(single, "task"));
  await writeSentenceTask("cosqa", join(raw, "cosqa"), join(pair, "task"));
  const model = await openActivationModel(MODEL);
  try {
    for (const s of SPLITS) {
      await extract(model, join(single, "task", `${s}.in`), join(single, "stores", s), "sentence");
      for (const side of ["a", "b"])
        await extract(
          model,
          join(pair, "task", `${s}.${side}.in`),
          join(pair, "stores", side, s),
          "sentence",
        );
    }
  } finally {
    await model.release();
  }
  return {
    sentence: { store: join(single, "stores"), task: join(single, "task") },
    pair: { store: join(pair, "stores"), task: join(pair, "task") },
  };
}

/**
 * Runs the pipeline; its results with the run record's details beside them as `run` (what was
 * computed or read from the cache), which the tests check together.
 */
export async function runPipeline(
  input: Parameters<typeof runRedundancyPipeline>[0],
  opts: Parameters<typeof runRedundancyPipeline>[1],
): Promise<RedundancyResults & { run: RedundancyRunDetails }> {
  const { results, record } = await runRedundancyPipeline(input, opts);
  return { ...results, run: record.details };
}
