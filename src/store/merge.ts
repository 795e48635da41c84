import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeUtf8, splitWordLines } from "../data/io.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { readJsonFile } from "../util/json.js";
import {
  checkStoreFile,
  type ShardRecord,
  STORE_INDEX_SCHEMA,
  STORE_PLAN_SCHEMA,
  type StoreIndex,
  type StorePlan,
  shardFileName,
  shardRecordName,
  shardsOfPart,
  WORDS_RECORD_SCHEMA,
  withCurrentSites,
} from "./format.js";
import { fileProblem } from "./verify.js";
import { clearStore, writeWordsFiles } from "./writer.js";

/**
 * Joins the parts of a `--shard K/N` extraction (for example Slurm array tasks or Kubernetes indexed
 * jobs) into one store. Every part must come from the same plan (model, settings, input, shard
 * plan); together they must cover every shard exactly once. The result is the store a single
 * process would have written.
 */
export async function mergeStores(
  parts: string[],
  out: string,
  opts: { overwrite?: boolean } = {},
): Promise<StoreIndex> {
  if (parts.length === 0) throw new UserError("merge: give the part directories to join");
  const indexes = await Promise.all(parts.map(readPartIndex));
  const first = indexes[0];
  // Parts agree when their plans (model, settings, input, shard plan) agree, whichever part they hold.
  const plans = await Promise.all(parts.map(readPlanWithoutPart));
  const count = first.part?.count ?? 1;
  const seen = new Map<number, string>();
  indexes.forEach((idx, i) => {
    if (plans[i] !== plans[0]) {
      throw new InputError(
        join(parts[i], "index.json"),
        `was made with other settings or input than ${parts[0]}`,
      );
    }
    if ((idx.part?.count ?? 1) !== count)
      throw new InputError(
        join(parts[i], "index.json"),
        `is a part of ${idx.part?.count ?? 1}, not of ${count}`,
      );
    const k = idx.part?.index ?? 0;
    if (seen.has(k))
      throw new UserError(`merge: part ${k + 1}/${count} given twice (${seen.get(k)} and ${parts[i]})`);
    seen.set(k, parts[i]);
  });
  const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !seen.has(k));
  if (missing.length > 0)
    throw new UserError(`merge: missing part(s) ${missing.map((k) => `${k + 1}/${count}`).join(", ")}`);
  const plan = await readPlanShards(parts[0]);
  const records: ShardRecord[] = [];
  for (const idx of indexes) records.push(...idx.shards);
  records.sort((a, b) => a.id - b.id);
  if (records.length !== plan || records.some((r, i) => r.id !== i)) {
    throw new UserError(`merge: the parts hold ${records.length} shards, the plan has ${plan}`);
  }
  // Every part's shards are checked (size and SHA-256) before anything is written: a damaged part
  // must not become a merged store that looks whole.
  for (const [i, idx] of indexes.entries()) {
    for (const r of idx.shards) {
      const problem = fileProblem(join(parts[i], shardFileName(r.id)), r.bytes, r.sha256, "hash");
      if (problem)
        throw new InputError(
          join(parts[i], shardFileName(r.id)),
          `${problem}; this part is damaged: rerun its extract command (same options, --shard ${idx.part?.index ?? 0}/${count}), which recomputes the damaged shards, then merge again`,
        );
    }
  }
  if (existsSync(out) && (await readdir(out)).length > 0) {
    if (!opts.overwrite)
      throw new UserError(`merge: ${out} exists; choose another --out or pass --overwrite`);
    await clearStore(out, parts);
  }
  await mkdir(join(out, "shards"), { recursive: true });
  for (const idx of indexes) {
    const dir = seen.get(idx.part?.index ?? 0)!;
    for (const r of idx.shards) {
      await copyFile(join(dir, shardFileName(r.id)), join(out, shardFileName(r.id)));
      await copyFile(join(dir, shardRecordName(r.id)), join(out, shardRecordName(r.id)));
    }
  }
  // The words as the first part has them, checked against its words.json (when it has one).
  const words = await readWordsOf(parts[0]);
  await writeWordsFiles(out, words.lines, words.labels);
  const { part: _part, ...rest } = first;
  const seconds = indexes.reduce((s, i) => s + i.seconds, 0);
  const { part: _planPart, ...planJson } = await readPlan(parts[0]);
  await writeJsonAtomic(join(out, "plan.json"), planJson);
  const merged: StoreIndex = { ...rest, shards: records, createdAt: new Date().toISOString(), seconds };
  await writeJsonAtomic(join(out, "index.json"), merged);
  return merged;
}

async function readPartIndex(dir: string): Promise<StoreIndex> {
  const path = join(dir, "index.json");
  if (!existsSync(path))
    throw new InputError(dir, "no index.json: this part is not finished (rerun its extract command)");
  return withCurrentSites(checkStoreFile(await readJsonFile(path, STORE_INDEX_SCHEMA), path));
}

async function readPlan(dir: string): Promise<StorePlan> {
  const path = join(dir, "plan.json");
  return withCurrentSites(checkStoreFile(await readJsonFile(path, STORE_PLAN_SCHEMA), path));
}

async function readPlanWithoutPart(dir: string): Promise<string> {
  const { part: _part, ...plan } = await readPlan(dir);
  return JSON.stringify(plan);
}

async function readPlanShards(dir: string): Promise<number> {
  const plan = await readPlan(dir);
  // Sanity: the plan's ranges for every part must tile the shard list.
  const total = plan.shards.length;
  const count = plan.part?.count ?? 1;
  let covered = 0;
  for (let k = 0; k < count; k++) {
    const r = shardsOfPart(total, k, count);
    covered += r.end - r.begin;
  }
  if (covered !== total) throw new Error("merge: part ranges do not tile the plan");
  return total;
}

/**
 * words.txt and labels.txt of a part, as lines of words (escaped, as stored), checked against the
 * part's words.json when it has one.
 */
async function readWordsOf(dir: string): Promise<{ lines: string[][]; labels?: string[][] }> {
  const recordPath = join(dir, "words.json");
  const record = existsSync(recordPath) ? await readJsonFile(recordPath, WORDS_RECORD_SCHEMA) : null;
  const read = async (name: string, expected?: { bytes: number; sha256: string }) => {
    const file = join(dir, name);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (expected && (bytes.length !== expected.bytes || sha256(bytes) !== expected.sha256))
      throw new InputError(
        file,
        "does not match its record in words.json (changed since it was written): rerun this part's extract command, then merge again",
      );
    return splitWordLines(decodeUtf8(bytes, file));
  };
  const lines = await read("words.txt", record?.words);
  const hasLabels = existsSync(join(dir, "labels.txt"));
  if (record && hasLabels !== (record.labels !== undefined))
    throw new InputError(join(dir, "labels.txt"), "disagrees with words.json on whether the part has labels");
  return { lines, labels: hasLabels ? await read("labels.txt", record?.labels) : undefined };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
