import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.js";
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
  withCurrentSites,
} from "./format.js";

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
  if (existsSync(out)) {
    if (!opts.overwrite)
      throw new UserError(`merge: ${out} exists; choose another --out or pass --overwrite`);
    await rm(out, { recursive: true, force: true });
  }
  await mkdir(join(out, "shards"), { recursive: true });
  for (const idx of indexes) {
    const dir = seen.get(idx.part?.index ?? 0)!;
    for (const r of idx.shards) {
      await copyFile(join(dir, shardFileName(r.id)), join(out, shardFileName(r.id)));
      await copyFile(join(dir, shardRecordName(r.id)), join(out, shardRecordName(r.id)));
    }
  }
  await writeFileAtomic(join(out, "words.txt"), await readFile(join(parts[0], "words.txt")));
  if (existsSync(join(parts[0], "labels.txt"))) {
    await writeFileAtomic(join(out, "labels.txt"), await readFile(join(parts[0], "labels.txt")));
  }
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
