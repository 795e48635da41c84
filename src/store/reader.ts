import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { decodeWord } from "../data/escape.js";
import { decodeUtf8, splitWordLines } from "../data/io.js";
import { SafetensorsFile } from "../model/weights/safetensors.js";
import { InputError, UserError } from "../util/errors.js";
import { copyFiniteAsFloat32, halfBitsToFloat32 } from "../util/half.js";
import { checkJson, readJsonFile } from "../util/json.js";
import { getOrCreate } from "../util/maps.js";
import { type Matrix, matrix } from "../util/matrix.js";
import { neuronName, neuronSpace, siteLayers } from "../util/neurons.js";
import { consecutiveRuns } from "../util/runs.js";
import {
  checkStoreFile,
  type ShardRecord,
  type Site,
  STORE_INDEX_SCHEMA,
  STORE_PLAN_SCHEMA,
  type StoreIndex,
  type StorePlan,
  shardFileName,
  tensorName,
  WORDS_RECORD_SCHEMA,
  type WordsRecord,
  withCurrentSites,
} from "./format.js";
import {
  confinedPath,
  damagedShard,
  defaultVerifyLevel,
  fileProblem,
  repairHint,
  shardSizeProblem,
  type VerifyLevel,
  withRecovery,
} from "./verify.js";

export interface StoreMeta {
  model: string;
  modelType: string;
  layers: number[];
  hidden: number;
  intermediate?: number;
  sites: Site[];
  dtype: "float16" | "float32";
  level: "word" | "sentence";
  numSentences: number;
  numLines: number;
  numRows: number;
  aggregation: string;
}

export interface ReadOptions {
  /** Model layer numbers; default all stored layers. Ignored when `neurons` is given. */
  layers?: number[];
  /** Global neuron ids (layer × dim + unit) in the wanted column order. */
  neurons?: ArrayLike<number>;
  /** Which activation site; default "hidden". */
  site?: Site;
}

export interface OpenOptions {
  /**
   * `hash` (default): each shard's SHA-256 is checked the first time this process reads it; `size`:
   * sizes only (faster on very large stores; CODENEURONS_VERIFY=size sets it for every reader).
   * Sizes, words.txt and labels.txt are always checked.
   */
  verify?: VerifyLevel;
  /**
   * A real path every file of the store must resolve inside (through any symlink): the explorer
   * reads nothing outside its results directory.
   */
  within?: string;
}

/** What the store's files say that is not in index.json: where they live, how to check and repair. */
interface StoreFiles {
  verify: VerifyLevel;
  within?: string;
  /** How to repair the store, for error messages (store/verify.ts repairHint). */
  repair: string;
}

/**
 * Read access to an activation store. Rows are words (or sentences for sentence-level stores) in
 * input order; columns are neurons, numbered layer-major as in docs/DESIGN.md. Only the bytes of the
 * requested shards and layers are read.
 */
export class ActivationStore {
  readonly meta: StoreMeta;
  private readonly lineWords: string[][];
  private readonly lineLabels?: string[][];
  /** lineOffset[i] = first global row of input line i; lineOffset[numLines] = numRows. */
  private readonly lineOffset: Int32Array;
  private readonly shardFiles = new Map<number, SafetensorsFile>();
  /** The bytes of the last read (readRaw), reused so that reading a wide store faults in no new memory per block. */
  private scratch = new Uint8Array(0);

  private constructor(
    readonly dir: string,
    readonly index: StoreIndex,
    words: string[][],
    labels: string[][] | undefined,
    /** index.json as written (its fields in the file's order), for contentFingerprint. */
    private readonly rawIndex: Record<string, unknown>,
    private readonly files: StoreFiles,
  ) {
    this.lineWords = words;
    this.lineLabels = labels;
    const sentenceLevel = index.settings.level === "sentence";
    this.lineOffset = new Int32Array(words.length + 1);
    for (let i = 0; i < words.length; i++) {
      const rows = sentenceLevel ? (words[i].length > 0 ? 1 : 0) : words[i].length;
      this.lineOffset[i + 1] = this.lineOffset[i] + rows;
    }
    this.meta = {
      model: index.model.source,
      modelType: index.model.modelType,
      layers: index.settings.layers,
      hidden: index.model.hidden,
      intermediate: index.model.intermediate,
      sites: index.settings.sites,
      dtype: index.settings.dtype,
      level: index.settings.level,
      numSentences: index.counts.sentences,
      numLines: words.length,
      numRows: index.counts.rows,
      aggregation: sentenceLevel ? index.settings.sentenceRepresentation : index.settings.aggregation,
    };
    if (this.lineOffset[words.length] !== index.counts.rows) {
      throw new InputError(
        join(dir, "words.txt"),
        `holds ${this.lineOffset[words.length]} rows, index.json says ${index.counts.rows}; to repair the store, ${files.repair}`,
      );
    }
  }

  /**
   * Opens a complete store and checks it against what it records: index.json's schema and plan.json
   * (written first, the same model, settings, input and shard plan), every shard's size, words.txt and
   * labels.txt against words.json, labels parallel to the words. Shard hashes are checked on first
   * read (OpenOptions.verify). A failed check is an InputError naming the file and how to repair it.
   */
  static async open(dir: string, opts: OpenOptions = {}): Promise<ActivationStore> {
    const within = opts.within;
    const path = (name: string) => confinedPath(join(dir, name), within);
    const indexPath = join(dir, "index.json");
    if (!existsSync(indexPath)) {
      const why = existsSync(join(dir, "plan.json"))
        ? "the store is incomplete (extraction was interrupted or is running); rerun the same extract command to resume"
        : "not an activation store (no index.json)";
      throw new InputError(dir, why);
    }
    const plan = await readPlan(dir, path);
    let raw: Record<string, unknown>;
    let index: StoreIndex;
    try {
      raw = await readJsonFile(path("index.json"), z.record(z.string(), z.unknown()));
      index = withCurrentSites(checkStoreFile(checkJson(STORE_INDEX_SCHEMA, raw, indexPath), indexPath));
    } catch (e) {
      const how =
        plan && !(plan instanceof Error)
          ? repairHint(plan, dir)
          : "rerun the extract command that wrote it with the same options (it resumes, re-checks every shard and rewrites index.json)";
      throw withRecovery(e, `the store's index.json is damaged; to repair it, ${how}`);
    }
    if (index.part) {
      throw new InputError(
        indexPath,
        `this is part ${index.part.index + 1}/${index.part.count} of a sharded extraction; join the parts with 'codeneurons merge'`,
      );
    }
    const repair = repairHint(index, dir);
    if (plan instanceof Error) {
      throw withRecovery(
        plan,
        `the store's plan.json is damaged. Reading needs only index.json and the shards (each checked against its hash): delete plan.json to read the store as it is, or ${repairHint(index, dir, "overwrite")}`,
      );
    }
    if (plan) checkAgainstPlan(index, plan, indexPath, repair);
    for (const shard of index.shards) {
      // Shards are opened on first read; one that points outside `within` is refused now, not mid-request.
      confinedPath(join(dir, shardFileName(shard.id)), within);
      const problem = shardSizeProblem(dir, shard);
      if (problem) throw damagedShard(dir, shard, problem, index);
    }
    const record = await readWordsRecord(dir, path, repair);
    // words.txt holds the words as the input file wrote them (escaped); people and tasks see them decoded.
    const wordsText = await readChecked(dir, "words.txt", path, record?.words, repair);
    if (wordsText === null)
      throw new InputError(join(dir, "words.txt"), `is missing; to repair the store, ${repair}`);
    const lines = splitWordLines(wordsText).map((l) => l.map(decodeWord));
    const labelsText = await readChecked(dir, "labels.txt", path, record?.labels, repair);
    if (record && (labelsText !== null) !== (record.labels !== undefined)) {
      throw new InputError(
        join(dir, "labels.txt"),
        `${labelsText === null ? "is missing, though words.json records it" : "is not recorded in words.json"}; to repair the store, ${repair}`,
      );
    }
    const labels = labelsText === null ? undefined : splitWordLines(labelsText);
    if (labels) checkParallel(lines, labels, join(dir, "labels.txt"), repair);
    return new ActivationStore(dir, index, lines, labels, raw, {
      verify: opts.verify ?? defaultVerifyLevel(),
      within,
      repair,
    });
  }

  /**
   * A hash of what the store holds (model, settings, input, shard checksums), not of when it was
   * written: a resumed or repeated extraction of the same data has the same fingerprint.
   */
  contentFingerprint(): string {
    // The file's own fields and order, so that fingerprints (and the redundancy caches keyed by them)
    // stay what they were before index.json was read through its schema.
    const { createdAt: _c, seconds: _s, ...content } = this.rawIndex;
    return createHash("sha256").update(JSON.stringify(content)).digest("hex");
  }

  /** Global row of word `word` of input line `sentence` (both 0-based). */
  row(sentence: number, word: number): number {
    const words = this.lineWords[sentence];
    if (words === undefined)
      throw new RangeError(`sentence ${sentence} out of range (0..${this.lineWords.length - 1})`);
    if (this.meta.level === "sentence") {
      if (words.length === 0) throw new RangeError(`sentence ${sentence} is empty and has no row`);
      return this.lineOffset[sentence];
    }
    if (word < 0 || word >= words.length)
      throw new RangeError(`word ${word} out of range in sentence ${sentence} (${words.length} words)`);
    return this.lineOffset[sentence] + word;
  }

  /** The words of input line `sentence` (0-based), decoded: the real token text. */
  words(sentence: number): string[] {
    return this.lineWords[sentence] ?? [];
  }

  labels(sentence: number): string[] | undefined {
    return this.lineLabels?.[sentence];
  }

  get hasLabels(): boolean {
    return this.lineLabels !== undefined;
  }

  /** Number of input lines (including empty ones). */
  get numLines(): number {
    return this.lineWords.length;
  }

  /** The input line and word position of a global row. */
  locate(row: number): { sentence: number; word: number } {
    let lo = 0;
    let hi = this.lineWords.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineOffset[mid] <= row) lo = mid;
      else hi = mid - 1;
    }
    return { sentence: lo, word: row - this.lineOffset[lo] };
  }

  /** Word text of every row, in row order. */
  allTokens(): string[] {
    const out: string[] = [];
    for (const words of this.lineWords) {
      if (this.meta.level === "sentence") {
        if (words.length > 0) out.push(words.join(" "));
      } else out.push(...words);
    }
    return out;
  }

  dimOf(site: Site): number {
    const dim = site === "hidden" ? this.meta.hidden : this.meta.intermediate;
    if (site !== "hidden" && (dim === undefined || !this.meta.sites.includes("mlp"))) {
      throw new InputError(this.dir, "this store has no MLP neurons; extract with --sites hidden,mlp");
    }
    this.checkWidth(site, dim!);
    return dim!;
  }

  private readonly checkedSites = new Set<Site>();

  /**
   * The width index.json gives a site must be the shards' (checked on the first shard, once): readers
   * size their columns by it before any value is read.
   */
  private checkWidth(site: Site, dim: number): void {
    if (this.checkedSites.has(site)) return;
    const shard = this.index.shards.find((s) => s.endRow > s.firstRow);
    const layer = siteLayers(site, this.meta.layers)[0];
    if (shard && layer !== undefined) this.tensor(shard, tensorName(site, layer, this.index.version), dim);
    this.checkedSites.add(site);
  }

  /** Resolves ReadOptions to (layer, unit) pairs per output column. */
  private columns(opts: ReadOptions): { layer: number; unit: number }[] {
    const site = opts.site ?? "hidden";
    const dim = this.dimOf(site);
    // The MLP site has no layer 0 (the embeddings have no MLP).
    const stored = siteLayers(site, this.meta.layers);
    const which = site === "hidden" ? "" : `${site} `;
    if (opts.neurons) {
      const space = neuronSpace(site, dim);
      const cols: { layer: number; unit: number }[] = [];
      for (let j = 0; j < opts.neurons.length; j++) {
        const id = opts.neurons[j];
        const layer = Math.floor(id / dim);
        if (!stored.includes(layer)) {
          throw new InputError(
            this.dir,
            `neuron ${id} (${neuronName(id, space)}) is in ${which}layer ${layer}, which the store does not hold (${which}layers ${stored.join(",")})`,
          );
        }
        cols.push({ layer, unit: id % dim });
      }
      return cols;
    }
    const layers = opts.layers ?? stored;
    for (const l of layers) {
      if (!stored.includes(l))
        throw new InputError(
          this.dir,
          `${which}layer ${l} is not in the store (${which}layers ${stored.join(",")})`,
        );
    }
    const cols: { layer: number; unit: number }[] = [];
    for (const layer of layers) for (let u = 0; u < dim; u++) cols.push({ layer, unit: u });
    return cols;
  }

  private shardOf(row: number): ShardRecord {
    const shards = this.index.shards;
    let lo = 0;
    let hi = shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (shards[mid].firstRow <= row) lo = mid;
      else hi = mid - 1;
    }
    return shards[lo];
  }

  /**
   * The open shard file, checked on first use: its size, and its SHA-256 unless the store was opened
   * with `verify: "size"` (store/verify.ts: once per process and file).
   */
  private file(shard: ShardRecord): SafetensorsFile {
    let f = this.shardFiles.get(shard.id);
    if (!f) {
      const path = confinedPath(join(this.dir, shardFileName(shard.id)), this.files.within);
      const problem = fileProblem(path, shard.bytes, shard.sha256, this.files.verify);
      if (problem) throw damagedShard(this.dir, shard, problem, this.index);
      try {
        f = SafetensorsFile.open(path);
      } catch (e) {
        throw withRecovery(e, `the store is damaged; to repair it, ${this.files.repair}`);
      }
      this.shardFiles.set(shard.id, f);
    }
    return f;
  }

  /**
   * The shard file's tensor `name`, checked against what index.json says it holds: [rows × dim] of the
   * store's dtype. A damaged or foreign index must not make the reader take bytes of the wrong size.
   */
  private tensor(shard: ShardRecord, name: string, dim: number): SafetensorsFile {
    const f = this.file(shard);
    const file = join(this.dir, shardFileName(shard.id));
    let entry: ReturnType<SafetensorsFile["entry"]>;
    try {
      entry = f.entry(name);
    } catch {
      throw new InputError(file, `has no tensor ${name}, which index.json says it holds`);
    }
    const rows = shard.endRow - shard.firstRow;
    const dtype = this.meta.dtype === "float16" ? "F16" : "F32";
    if (
      entry.dtype !== dtype ||
      entry.shape.length !== 2 ||
      entry.shape[0] !== rows ||
      entry.shape[1] !== dim
    ) {
      throw new InputError(
        file,
        `tensor ${name} is ${entry.dtype} [${entry.shape.join(", ")}], index.json says ${dtype} [${rows}, ${dim}]`,
      );
    }
    return f;
  }

  /**
   * The stored values of shard-local rows [begin, end) of one site and layer (float16 bits or float32),
   * in a buffer reused by the next read: callers copy out what they need before reading again.
   */
  private readRaw(
    shard: ShardRecord,
    site: Site,
    layer: number,
    dim: number,
    begin: number,
    end: number,
  ): Uint16Array | Float32Array {
    const name = tensorName(site, layer, this.index.version);
    const f = this.tensor(shard, name, dim);
    const half = f.entry(name).dtype === "F16";
    const width = half ? 2 : 4;
    const size = (end - begin) * dim * width;
    if (this.scratch.length < size) this.scratch = new Uint8Array(size);
    const bytes = f.readBytes(name, begin * dim * width, end * dim * width, this.scratch);
    // The scratch buffer starts at offset 0 of its own ArrayBuffer: aligned for both element sizes.
    return half
      ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
      : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }

  /** A stored value that is not a finite number: an InputError naming the shard, the row and the neuron. */
  private nonFinite(
    shard: ShardRecord,
    site: Site,
    layer: number,
    dim: number,
    local: number,
    unit: number,
    v: number,
  ): InputError {
    const row = shard.firstRow + local;
    const { sentence, word } = this.locate(row);
    const text = this.meta.level === "word" ? ` '${this.lineWords[sentence][word]}'` : "";
    const where =
      this.meta.level === "word" ? `line ${sentence + 1}, word ${word + 1}${text}` : `line ${sentence + 1}`;
    return new InputError(
      join(this.dir, shardFileName(shard.id)),
      `row ${row} (${where}), neuron ${neuronName(layer * dim + unit, neuronSpace(site, dim))} holds ${v}: activations must be finite numbers; to repair the store, ${this.files.repair}`,
    );
  }

  /**
   * rows × columns float32 matrix for the given global rows (any order, repeats allowed). Every value
   * copied is checked: one that is not a finite number is an InputError naming the shard, the row and
   * the neuron. Each needed layer of a shard is read once, the whole block when most of its rows are
   * wanted, else only the runs of consecutive rows (a task reads a few thousand rows out of a shard of
   * many more), and converted straight into the matrix.
   */
  async readRows(rows: ArrayLike<number>, opts: ReadOptions = {}): Promise<Matrix> {
    const site = opts.site ?? "hidden";
    const dim = this.dimOf(site);
    const cols = this.columns(opts);
    const out = matrix(rows.length, cols.length);
    // Group requested rows by shard, then read each needed layer of a shard once.
    const byShard = new Map<number, number[]>();
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!Number.isInteger(r) || r < 0 || r >= this.meta.numRows)
        throw new RangeError(`row ${r} out of range (0..${this.meta.numRows - 1})`);
      getOrCreate(byShard, this.shardOf(r).id, () => []).push(i);
    }
    const colsByLayer = new Map<number, { col: number; unit: number }[]>();
    cols.forEach((c, col) => {
      getOrCreate(colsByLayer, c.layer, () => []).push({ col, unit: c.unit });
    });
    for (const [shardId, outRows] of byShard) {
      const shard = this.index.shards[shardId];
      const localOf = (i: number) => rows[i] - shard.firstRow;
      // Output rows in shard order, so that one walk through the runs read serves them all.
      outRows.sort((a, b) => localOf(a) - localOf(b));
      const runs = rowRuns(outRows.map(localOf), shard.endRow - shard.firstRow);
      for (const [layer, layerCols] of colsByLayer) {
        // Consecutive units to consecutive columns (a whole layer, usually): one copy per row.
        const first = layerCols[0];
        const contiguous = layerCols.every((c, k) => c.unit === first.unit + k && c.col === first.col + k);
        let next = 0;
        for (const [begin, end] of runs) {
          const values = this.readRaw(shard, site, layer, dim, begin, end);
          for (; next < outRows.length && localOf(outRows[next]) < end; next++) {
            const i = outRows[next];
            const src = (localOf(i) - begin) * dim;
            const dst = i * cols.length;
            if (contiguous) {
              const bad = copyFiniteAsFloat32(
                values,
                src + first.unit,
                out.data,
                dst + first.col,
                layerCols.length,
              );
              if (bad >= 0)
                throw this.nonFinite(
                  shard,
                  site,
                  layer,
                  dim,
                  localOf(i),
                  first.unit + bad,
                  out.data[dst + first.col + bad],
                );
              continue;
            }
            for (const { col, unit } of layerCols) {
              const v =
                values instanceof Uint16Array ? halfBitsToFloat32(values[src + unit]) : values[src + unit];
              out.data[dst + col] = v;
              if (v - v !== 0) throw this.nonFinite(shard, site, layer, dim, localOf(i), unit, v);
            }
          }
        }
      }
    }
    return out;
  }

  /** All rows. */
  async readAll(opts: ReadOptions = {}): Promise<Matrix> {
    return this.readRows(
      Int32Array.from({ length: this.meta.numRows }, (_, i) => i),
      opts,
    );
  }

  close(): void {
    for (const f of this.shardFiles.values()) f.close();
    this.shardFiles.clear();
  }
}

/**
 * The [begin, end) runs of shard rows to read for the given sorted shard-local rows (repeats allowed):
 * the whole shard when at least half of its rows are wanted, else each run of consecutive rows.
 */
function rowRuns(local: readonly number[], shardRows: number): [number, number][] {
  const unique = local.filter((r, k) => k === 0 || r !== local[k - 1]);
  return unique.length * 2 >= shardRows ? [[0, shardRows]] : consecutiveRuns(unique);
}

type PlanRead = StorePlan | InputError | null;

/** plan.json if the store has one (stores from merge and import have one too), an InputError if damaged. */
async function readPlan(dir: string, path: (name: string) => string): Promise<PlanRead> {
  const planPath = join(dir, "plan.json");
  if (!existsSync(planPath)) return null;
  try {
    return withCurrentSites(
      checkStoreFile(await readJsonFile(path("plan.json"), STORE_PLAN_SCHEMA), planPath),
    );
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
}

/**
 * index.json repeats plan.json (written first) with the shards' records and the counts: where they
 * differ, one of them was changed after it was written.
 */
function checkAgainstPlan(index: StoreIndex, plan: StorePlan, file: string, repair: string): void {
  const planOf = (s: ShardRecord) => ({
    id: s.id,
    firstLine: s.firstLine,
    endLine: s.endLine,
    firstRow: s.firstRow,
    endRow: s.endRow,
  });
  const fields: [string, unknown, unknown][] = [
    ["model", index.model, plan.model],
    ["settings", index.settings, plan.settings],
    ["input", index.input, plan.input],
    ["shards", index.shards.map(planOf), plan.shards],
  ];
  for (const [field, a, b] of fields) {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new InputError(
        file,
        `disagrees with plan.json, written with it, on '${field}': one of the two was changed since; to repair the store, ${repair}`,
        { field },
      );
    }
  }
}

async function readWordsRecord(
  dir: string,
  path: (name: string) => string,
  repair: string,
): Promise<WordsRecord | null> {
  if (!existsSync(join(dir, "words.json"))) return null;
  try {
    return await readJsonFile(path("words.json"), WORDS_RECORD_SCHEMA);
  } catch (e) {
    throw withRecovery(e, `the store's words.json is damaged; to repair the store, ${repair}`);
  }
}

/**
 * A text file of the store (null when absent), checked against its record in words.json when the
 * store has one: size and SHA-256.
 */
async function readChecked(
  dir: string,
  name: string,
  path: (name: string) => string,
  record: { bytes: number; sha256: string } | undefined,
  repair: string,
): Promise<string | null> {
  const file = join(dir, name);
  if (!existsSync(file)) return null;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path(name));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (record) {
    const problem =
      bytes.length !== record.bytes
        ? `is ${bytes.length} bytes, but words.json records ${record.bytes} (truncated or replaced)`
        : createHash("sha256").update(bytes).digest("hex") !== record.sha256
          ? "does not match its SHA-256 in words.json (its bytes were changed)"
          : null;
    if (problem) throw new InputError(file, `${problem}; to repair the store, ${repair}`);
  }
  return decodeUtf8(bytes, file);
}

/** labels.txt must give one label per word of words.txt, line by line. */
function checkParallel(words: string[][], labels: string[][], file: string, repair: string): void {
  const fail = (detail: string, line?: number): never => {
    throw new InputError(file, `${detail}; to repair the store, ${repair}`, { line });
  };
  if (labels.length !== words.length) fail(`has ${labels.length} lines, words.txt has ${words.length}`);
  words.forEach((w, i) => {
    if (labels[i].length !== w.length)
      fail(`has ${labels[i].length} labels, words.txt has ${w.length} words on this line`, i + 1);
  });
}
