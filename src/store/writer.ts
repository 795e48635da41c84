import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { encodeSafetensors, type TensorToWrite } from "../model/weights/safetensors.js";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.js";
import { InputError, UserError } from "../util/errors.js";
import { float32ToHalfArray } from "../util/half.js";
import { checkJson, parseJsonText, readJsonFile } from "../util/json.js";
import { neuronName, neuronSpace } from "../util/neurons.js";
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
  WORDS_RECORD_FORMAT,
  WORDS_RECORD_VERSION,
  type WordsRecord,
  withCurrentSites,
} from "./format.js";
import { fileProblem, withRecovery } from "./verify.js";

/** Activations of one shard: per site and layer, a row-major [rows × dim] float32 block. */
export interface ShardData {
  rows: number;
  blocks: { site: Site; layer: number; dim: number; data: Float32Array }[];
}

/** The largest magnitude each storage dtype holds: a larger value would be stored as ±Infinity. */
export const DTYPE_MAX: Record<StoreDType, number> = { float32: 3.4028234663852886e38, float16: 65504 };

/**
 * Whether `v` is stored as a finite number of `dtype`: float32 values are already float32; a float16
 * value must round to at most 65504 (values from 65520 on round to Infinity).
 */
export function fitsDtype(v: number, dtype: StoreDType): boolean {
  return dtype === "float16" ? Math.abs(v) < 65520 : Number.isFinite(Math.fround(v));
}

function toBytes(data: Float32Array, dtype: StoreDType): Uint8Array {
  const arr = dtype === "float16" ? float32ToHalfArray(data) : data;
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/**
 * Every value of a block to be written must be a finite number of the storage dtype: NaN, ±Infinity
 * or an overflow to ±Infinity would be read back as data. The error names the row and the neuron.
 */
function checkBlock(dir: string, shard: ShardPlan, b: ShardData["blocks"][number], dtype: StoreDType): void {
  const data = b.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // Fast path: finite and far from float16's limit (NaN fails both comparisons).
    if (v < 65504 && v > -65504) continue;
    if (fitsDtype(v, dtype)) continue;
    const row = shard.firstRow + Math.floor(i / b.dim);
    const neuron = neuronName(b.layer * b.dim + (i % b.dim), neuronSpace(b.site, b.dim));
    const why = Number.isFinite(v)
      ? `does not fit in ${dtype} (at most ±${DTYPE_MAX[dtype]}): extract with --dtype float32`
      : "is not a finite number: the model's outputs are not usable (check the checkpoint and its dtype)";
    throw new UserError(
      `${join(dir, shardFileName(shard.id))}: the activation of neuron ${neuron} at row ${row} (input lines ${shard.firstLine + 1}–${shard.endLine}) is ${v}, which ${why}; nothing of this shard was written`,
    );
  }
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
  for (const b of data.blocks) checkBlock(dir, shard, b, dtype);
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

/**
 * The record of a finished shard, or null when it must be (re)computed. A shard counts as finished
 * only when its data file and its record both exist, agree with the plan, and the data file has the
 * size and SHA-256 its record names: a resume re-checks every shard it reuses (`verify` is kept for
 * callers and ignored: the check is no longer optional). A shard that fails is named through
 * `onDamaged` (by default a warning on stderr) and recomputed.
 */
export async function finishedShard(
  dir: string,
  shard: ShardPlan,
  _verify?: boolean,
  onDamaged: (file: string, problem: string) => void = warnDamaged,
): Promise<ShardRecord | null> {
  const dataPath = join(dir, shardFileName(shard.id));
  const recordPath = join(dir, shardRecordName(shard.id));
  const hasData = existsSync(dataPath);
  const hasRecord = existsSync(recordPath);
  // Neither: not computed yet. A record without data cannot be written by us (data comes first).
  if (!hasData && !hasRecord) return null;
  if (!hasRecord) return null;
  if (!hasData) {
    onDamaged(dataPath, "is missing, though its record exists");
    return null;
  }
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
    if (e instanceof UserError) {
      onDamaged(recordPath, `is damaged (${e.message})`);
      return null;
    }
    throw e;
  }
  const samePlan =
    record.id === shard.id &&
    record.firstLine === shard.firstLine &&
    record.endLine === shard.endLine &&
    record.firstRow === shard.firstRow &&
    record.endRow === shard.endRow;
  if (!samePlan) {
    onDamaged(recordPath, "names other lines or rows than the plan");
    return null;
  }
  if (record.sha256 === "") {
    onDamaged(recordPath, "names no SHA-256, so its data cannot be checked");
    return null;
  }
  const problem = fileProblem(dataPath, record.bytes, record.sha256, "hash");
  if (problem) {
    onDamaged(dataPath, problem);
    return null;
  }
  return record;
}

/** On stderr even when quiet: a damaged shard must not pass unnoticed, even when it is repaired. */
function warnDamaged(file: string, problem: string): void {
  process.stderr.write(`warning: ${file} ${problem}: recomputing this shard\n`);
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
 * plan (an interrupted run) is resumed; a store made otherwise is replaced only with `overwrite`, and
 * anything that is not a store is refused (store/writer.ts clearStore). `inputs`: the files the
 * command reads (default: the plan's input and label files), which must not lie inside `dir`.
 */
export async function openForWriting(
  dir: string,
  plan: StorePlan,
  overwrite: boolean,
  inputs: string[] = [plan.input.file, ...(plan.input.labelsFile ? [plan.input.labelsFile] : [])],
): Promise<"new" | "resume"> {
  const planPath = join(dir, "plan.json");
  if (existsSync(planPath)) {
    let old: StorePlan | null = null;
    try {
      old = withCurrentSites(checkStoreFile(await readJsonFile(planPath, STORE_PLAN_SCHEMA), planPath));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      // A damaged plan.json cannot be resumed; with --overwrite the store is replaced below.
      if (!overwrite)
        throw withRecovery(
          e,
          "the store's plan.json is damaged, so the extraction cannot resume against it: pass --overwrite to start the store over",
        );
    }
    if (old && planKey(old) === planKey(plan) && JSON.stringify(old.part) === JSON.stringify(plan.part)) {
      await checkInputsOutside(dir, inputs);
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
  }
  if (overwrite) await clearStore(dir, inputs);
  else if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new InputError(
      dir,
      "the output directory exists and is not an activation store; choose another --out (an empty or new directory)",
    );
  }
  await mkdir(join(dir, "shards"), { recursive: true });
  await writeJsonAtomic(planPath, plan);
  return "new";
}

/** What a store directory holds: every other name means the directory is something else too. */
const STORE_FILES = new Set(["index.json", "plan.json", "words.txt", "labels.txt", "words.json", "shards"]);
const SHARD_FILE = /^\d{5,}\.(safetensors|json)$/;
const TEMP_FILE = /\.tmp-/;

/**
 * Empties an activation store directory for `--overwrite`, deleting only the files a store holds
 * (never the directory itself, so `--out .` works too). Refused, before anything is deleted, when
 * the directory holds anything a store does not, is not recognisably a store (no plan.json or
 * index.json), or contains one of the command's input files.
 */
export async function clearStore(dir: string, inputs: readonly string[]): Promise<void> {
  if (!existsSync(dir)) return;
  const info = await lstat(dir);
  if (info.isSymbolicLink() || !info.isDirectory())
    throw new InputError(
      dir,
      "--overwrite replaces only a directory holding an activation store; this is not a directory",
    );
  const names = await readdir(dir);
  if (names.length === 0) return;
  const refuse = (why: string): never => {
    throw new InputError(
      dir,
      `${why}; --overwrite replaces only an activation store of codeneurons, so nothing was deleted: choose another --out`,
    );
  };
  const foreign = names.filter((n) => !STORE_FILES.has(n) && !TEMP_FILE.test(n));
  if (foreign.length > 0)
    refuse(
      `is not an activation store (it holds ${foreign
        .slice(0, 3)
        .map((n) => `'${n}'`)
        .join(", ")}${foreign.length > 3 ? ", …" : ""})`,
    );
  if (!names.includes("plan.json") && !names.includes("index.json"))
    refuse("is not an activation store (no plan.json or index.json)");
  const shardsDir = join(dir, "shards");
  let shardNames: string[] = [];
  if (names.includes("shards")) {
    const s = await lstat(shardsDir);
    if (!s.isDirectory() || s.isSymbolicLink()) refuse("holds a 'shards' that is not a directory");
    shardNames = await readdir(shardsDir);
    const odd = shardNames.filter((n) => !SHARD_FILE.test(n) && !TEMP_FILE.test(n));
    if (odd.length > 0) refuse(`holds files that are not shards in shards/ ('${odd[0]}')`);
  }
  for (const n of names) {
    if (n === "shards") continue;
    const s = await lstat(join(dir, n));
    if (!s.isFile()) refuse(`holds '${n}', which is not a plain file`);
  }
  await checkInputsOutside(dir, inputs);
  for (const n of shardNames) await rm(join(shardsDir, n), { force: true });
  for (const n of names) await rm(join(dir, n), { recursive: n === "shards", force: true });
}

/** The command's input files must not lie inside the store it (re)writes. */
async function checkInputsOutside(dir: string, inputs: readonly string[]): Promise<void> {
  if (!existsSync(dir)) return;
  const root = realpathSync(dir);
  const prefix = root.endsWith(sep) ? root : root + sep;
  for (const input of inputs) {
    if (input === "") continue;
    let real: string;
    try {
      real = realpathSync(input);
    } catch {
      real = resolve(input);
    }
    if (real === root || real.startsWith(prefix))
      throw new InputError(
        input,
        `is inside the output directory ${dir}, which this command writes: move the input out of it or choose another --out`,
      );
  }
}

/**
 * words.txt (and labels.txt), then words.json recording their sizes and hashes, so that a reader can
 * tell a changed file (store/reader.ts).
 */
export async function writeWordsFiles(dir: string, lines: string[][], labels?: string[][]): Promise<void> {
  const text = (rows: string[][]) => Buffer.from(rows.map((l) => `${l.join(" ")}\n`).join(""));
  const fileRecord = (bytes: Buffer) => ({
    bytes: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  });
  const words = text(lines);
  await writeFileAtomic(join(dir, "words.txt"), words);
  const record: WordsRecord = {
    format: WORDS_RECORD_FORMAT,
    version: WORDS_RECORD_VERSION,
    words: fileRecord(words),
  };
  if (labels) {
    const bytes = text(labels);
    await writeFileAtomic(join(dir, "labels.txt"), bytes);
    record.labels = fileRecord(bytes);
  }
  await writeJsonAtomic(join(dir, "words.json"), record);
}
