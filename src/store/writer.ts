import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { encodeSafetensors, type TensorToWrite } from "../model/weights/safetensors.js";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { float32ToHalfArray } from "../util/half.js";
import { checkJson, parseJsonText, readJsonFile } from "../util/json.js";
import {
  checkStoreFile,
  SHARD_RECORD_FILE_SCHEMA,
  SHARD_RECORD_FORMAT,
  SHARD_RECORD_VERSION,
  type ShardPlan,
  type ShardRecord,
  type Site,
  STORE_PLAN_SCHEMA,
  type StoreDType,
  type StorePlan,
  shardFileName,
  shardRecordName,
  tensorName,
  withCurrentSites,
} from "./format.js";

/** Activations of one shard: per site and layer, a row-major [rows × dim] float32 block. */
export interface ShardData {
  rows: number;
  blocks: { site: Site; layer: number; dim: number; data: Float32Array }[];
}

function toBytes(data: Float32Array, dtype: StoreDType): Uint8Array {
  const arr = dtype === "float16" ? float32ToHalfArray(data) : data;
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** Writes one shard: data first (atomic rename), then its record (atomic) naming the data's checksum. */
export async function writeShard(
  dir: string,
  shard: ShardPlan,
  data: ShardData,
  dtype: StoreDType,
): Promise<ShardRecord> {
  const rows = shard.endRow - shard.firstRow;
  if (data.rows !== rows)
    throw new Error(`writeShard: shard ${shard.id} has ${data.rows} rows, plan says ${rows}`);
  const tensors: TensorToWrite[] = data.blocks.map((b) => ({
    name: tensorName(b.site, b.layer),
    dtype: dtype === "float16" ? "F16" : "F32",
    shape: [rows, b.dim],
    bytes: toBytes(b.data, dtype),
  }));
  const chunks = encodeSafetensors(tensors, {
    format: "codeneurons-shard",
    first_row: String(shard.firstRow),
    first_line: String(shard.firstLine),
  });
  const hash = createHash("sha256");
  let bytes = 0;
  for (const c of chunks) {
    hash.update(c);
    bytes += c.length;
  }
  await writeFileAtomic(join(dir, shardFileName(shard.id)), chunks);
  const record: ShardRecord = { ...shard, sha256: hash.digest("hex"), bytes };
  await writeJsonAtomic(join(dir, shardRecordName(shard.id)), {
    format: SHARD_RECORD_FORMAT,
    version: SHARD_RECORD_VERSION,
    ...record,
  });
  crashForTest();
  return record;
}

/**
 * CODENEURONS_TEST_KILL_AFTER_SHARDS=N: the process kills itself (SIGKILL, as `kill -9` does) right
 * after its Nth shard record is written, so that the resume test interrupts an extraction at a known
 * point instead of racing a timer. Nothing else reads it.
 */
let shardsWritten = 0;
function crashForTest(): void {
  const after = Number(process.env.CODENEURONS_TEST_KILL_AFTER_SHARDS);
  if (Number.isInteger(after) && after > 0 && ++shardsWritten >= after) process.kill(process.pid, "SIGKILL");
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/**
 * The record of a finished shard, or null when it must be (re)computed. A shard counts as finished
 * only when its data file and its record both exist, agree with the plan and the checksum matches.
 */
export async function finishedShard(
  dir: string,
  shard: ShardPlan,
  verify: boolean,
): Promise<ShardRecord | null> {
  const dataPath = join(dir, shardFileName(shard.id));
  const recordPath = join(dir, shardRecordName(shard.id));
  if (!existsSync(dataPath) || !existsSync(recordPath)) return null;
  let record: ShardRecord;
  try {
    // A record that does not parse or check was not written whole by us: recompute the shard.
    const {
      format: _f,
      version: _v,
      ...fields
    } = checkJson(
      SHARD_RECORD_FILE_SCHEMA,
      parseJsonText(await readFile(recordPath, "utf8"), recordPath),
      recordPath,
    );
    record = fields;
  } catch (e) {
    if (e instanceof UserError) return null;
    throw e;
  }
  const samePlan =
    record.id === shard.id &&
    record.firstLine === shard.firstLine &&
    record.endLine === shard.endLine &&
    record.firstRow === shard.firstRow &&
    record.endRow === shard.endRow;
  if (!samePlan) return null;
  if (verify && (await sha256File(dataPath)) !== record.sha256) return null;
  return record;
}

/** Removes temp files of an interrupted run so they can never be mistaken for data. */
export async function removeTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const sub of [dir, join(dir, "shards")]) {
    if (!existsSync(sub)) continue;
    for (const name of await readdir(sub)) {
      if (name.includes(".tmp-")) {
        await rm(join(sub, name), { force: true });
        removed++;
      }
    }
  }
  return removed;
}

function planKey(plan: StorePlan): string {
  return JSON.stringify({
    model: plan.model,
    settings: plan.settings,
    input: plan.input,
    shards: plan.shards,
  });
}

/**
 * Prepares `dir` for writing `plan`: a fresh directory gets the plan; a directory holding the same
 * plan (an interrupted run) is resumed; anything else is refused rather than overwritten.
 */
export async function openForWriting(
  dir: string,
  plan: StorePlan,
  overwrite: boolean,
): Promise<"new" | "resume"> {
  const planPath = join(dir, "plan.json");
  if (existsSync(planPath)) {
    let old: StorePlan | null = null;
    try {
      old = withCurrentSites(checkStoreFile(await readJsonFile(planPath, STORE_PLAN_SCHEMA), planPath));
    } catch (e) {
      // A damaged plan.json cannot be resumed; with --overwrite it is replaced below.
      if (!(e instanceof UserError) || !overwrite) throw e;
    }
    if (old && planKey(old) === planKey(plan) && JSON.stringify(old.part) === JSON.stringify(plan.part)) {
      await rm(join(dir, "index.json"), { force: true });
      await removeTempFiles(dir);
      return "resume";
    }
    if (!overwrite) {
      throw new InputError(
        planPath,
        "the output directory holds a store made with other settings or input; choose another --out or pass --overwrite",
      );
    }
    await rm(dir, { recursive: true, force: true });
  } else if (existsSync(dir) && (await readdir(dir)).length > 0 && !overwrite) {
    throw new InputError(
      dir,
      "the output directory exists and is not an activation store; choose another --out or pass --overwrite",
    );
  } else if (overwrite) {
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(join(dir, "shards"), { recursive: true });
  await writeJsonAtomic(planPath, plan);
  return "new";
}

export async function writeWordsFiles(dir: string, lines: string[][], labels?: string[][]): Promise<void> {
  await writeFileAtomic(join(dir, "words.txt"), lines.map((l) => `${l.join(" ")}\n`).join(""));
  if (labels) await writeFileAtomic(join(dir, "labels.txt"), labels.map((l) => `${l.join(" ")}\n`).join(""));
}
