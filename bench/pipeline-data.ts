/**
 * The data of bench:pipeline and bench:compress, prepared once and cached under bench/work/pipeline/:
 * the paper authors' Java lines labelled, the token-tagging task (seed 1; 12,000 / 1,620 / 2,040
 * tokens), the task's lines only (sub/*.in, task rows renumbered in sub-task/) and their float16
 * activation stores of the random BERT-base of bench:extract (stores/{train,valid,test}).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sharedData } from "../test/data/shared.js";
import { BENCH_DIR, WORK_DIR } from "./common.js";
import { ensureRandomBert, RANDOM_BERT_DIR } from "./random-bert.js";

const JAVA = sharedData("java-token-lines");
export const DIR = join(WORK_DIR, "pipeline");
export const MODEL = RANDOM_BERT_DIR;
export const SPLITS = ["train", "valid", "test"] as const;
const CLI = join(BENCH_DIR, "..", "src", "cli", "main.ts");

function cli(argv: string[]): void {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, ...argv], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (r.status !== 0)
    throw new Error(`codeneurons ${argv.slice(0, 2).join(" ")} failed (exit ${r.status ?? r.signal})`);
}

/** Lines of `file` (without the final newline). */
function readLines(file: string): string[] {
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Renumbers the task's sentence column to positions in the list of used lines. */
function renumberTsv(text: string, newIndex: Map<number, number>): string {
  const lines = text.split("\n");
  return lines
    .map((line, i) => {
      if (i === 0 || line === "") return line;
      const tab = line.indexOf("\t");
      return `${newIndex.get(Number(line.slice(0, tab)))}${line.slice(tab)}`;
    })
    .join("\n");
}

/** Labels, task, the task's lines and their stores, each made once. */
export async function prepare(): Promise<{ store: string; task: string }> {
  // The same model bench:extract times, built from the same lines when this clone has none yet.
  await ensureRandomBert(readFileSync(join(JAVA, "train.in"), "utf8").split("\n"));
  await mkdir(DIR, { recursive: true });
  for (const s of SPLITS)
    if (!existsSync(join(DIR, `${s}.label`)))
      cli([
        "label",
        "--lang",
        "java",
        "--pretokenized",
        "--input",
        join(JAVA, `${s}.in`),
        "--out",
        join(DIR, s),
      ]);
  const task = join(DIR, "task");
  if (!existsSync(join(task, "test.tsv")))
    cli(["task", "token-tagging", ...SPLITS.flatMap((s) => [`--${s}`, join(DIR, s)]), "--out", task]);
  const subTask = join(DIR, "sub-task");
  const store = join(DIR, "stores");
  for (const s of SPLITS) {
    if (existsSync(join(store, s, "index.json"))) continue;
    const tsv = readFileSync(join(task, `${s}.tsv`), "utf8");
    const used = [
      ...new Set(
        tsv
          .split("\n")
          .slice(1)
          .filter(Boolean)
          .map((l) => Number(l.split("\t")[0])),
      ),
    ].sort((a, b) => a - b);
    const newIndex = new Map(used.map((line, i) => [line, i]));
    const all = readLines(join(DIR, `${s}.in`));
    await mkdir(join(DIR, "sub"), { recursive: true });
    await writeFile(join(DIR, "sub", `${s}.in`), `${used.map((i) => all[i]).join("\n")}\n`);
    await mkdir(join(subTask, "control"), { recursive: true });
    await writeFile(join(subTask, `${s}.tsv`), renumberTsv(tsv, newIndex));
    const control = readFileSync(join(task, "control", `${s}.tsv`), "utf8");
    await writeFile(join(subTask, "control", `${s}.tsv`), renumberTsv(control, newIndex));
    process.stderr.write(`bench:pipeline: extracting ${used.length} ${s} lines with the random BERT-base\n`);
    cli([
      "extract",
      "--model",
      MODEL,
      "--input",
      join(DIR, "sub", `${s}.in`),
      "--out",
      join(store, s),
      "--dtype",
      "float16",
    ]);
  }
  return { store, task: subTask };
}
