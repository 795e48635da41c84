/**
 * The synthetic LLM-width activation store that bench:pipeline-llm and bench:probe-llm read: L layers ×
 * W residual-stream neurons (a 7B model: 33 × 4,096) on 12,000 / 1,620 / 2,040 rows, 6 classes,
 * float16 shards, with the structure of bench/probe-data.ts planted at this width: unit u of layer l is
 * ρ·(unit u of layer l−1) + noise (ρ = 0.9: a residual stream), a shared low-rank component (16
 * factors), class-dependent means on 40 units (strongest in the middle layers), per-neuron offsets and
 * scales with a few massive dimensions. Written once per shape as a store (float16 shards, words,
 * index) and a token task with its control task under bench/work/pipeline-llm/<shape>/.
 *
 * Also the child process both benchmarks run the pipeline in, so that its peak memory (VmHWM: resident
 * set, onnxruntime's buffers included) is the pipeline's alone.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeTaskTsv } from "../src/data/task/tsv.js";
import { matmul } from "../src/linalg/products.js";
import type { PipelineOptions } from "../src/redundancy/pipeline/pipeline.js";
import type { RedundancyRecord, RedundancyResults, StepName } from "../src/redundancy/pipeline/results.js";
import { STORE_FORMAT, type StoreIndex, type StorePlan } from "../src/store/format.js";
import { openForWriting, writeShard, writeWordsFiles } from "../src/store/writer.js";
import { writeJsonAtomic } from "../src/util/atomic.js";
import { matrix } from "../src/util/matrix.js";
import { Rng } from "../src/util/rng.js";
import { WORK_DIR } from "./common.js";
import { fillNormal } from "./probe-data.js";

export const SPLITS = ["train", "valid", "test"] as const;
export type Split = (typeof SPLITS)[number];
export const CLASSES = ["IDENT", "KEYWORD", "MODIFIER", "NUMBER", "STRING", "TYPE"];
export const PER_CLASS: Record<Split, number> = { train: 2000, valid: 270, test: 340 };
export const WORDS_PER_SENTENCE = 16;
const SENTENCES_PER_SHARD = 32;
export const FULL = { layers: 33, hidden: 4096 };
export const GiB = 1024 ** 3;
/** Available memory the full size needs (its 20,000 MB target plus room for the system). */
export const FULL_SIZE_AVAILABLE = 21 * GiB;

export interface Spec {
  seed: number;
  layers: number;
  hidden: number;
  informativeUnits: number;
  signal: number;
  rho: number;
  factors: number;
}

export function specOf(layers: number, hidden: number): Spec {
  return { seed: 20240612, layers, hidden, informativeUnits: 40, signal: 0.45, rho: 0.9, factors: 16 };
}

interface Planted {
  classMeans: Float32Array; // [classes × hidden]
  layerGain: Float32Array; // [layers]
  loadings: Float32Array; // [factors × layers·hidden]
  offset: Float32Array;
  scale: Float32Array;
}

function plant(spec: Spec, rng: Rng): Planted {
  const { layers, hidden } = spec;
  const d = layers * hidden;
  const classMeans = new Float32Array(CLASSES.length * hidden);
  for (const u of rng.permutation(hidden).slice(0, spec.informativeUnits))
    for (let c = 0; c < CLASSES.length; c++) classMeans[c * hidden + u] = spec.signal * rng.normal();
  const layerGain = new Float32Array(layers);
  for (let l = 0; l < layers; l++) layerGain[l] = Math.exp(-(((l - 0.55 * layers) / (0.3 * layers)) ** 2));
  const loadings = new Float32Array(spec.factors * d);
  fillNormal(rng, loadings);
  for (let i = 0; i < loadings.length; i++) loadings[i] *= 0.15;
  const offset = new Float32Array(d);
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    offset[j] = 0.5 * rng.normal();
    scale[j] = Math.exp(0.5 * rng.normal());
  }
  for (let i = 0; i < 4 * layers; i++) {
    const j = rng.int(d);
    offset[j] = 20 * (1 + rng.next());
    scale[j] = 30;
  }
  return { classMeans, layerGain, loadings, offset, scale };
}

/** One layer's loadings [factors × hidden] as a matrix. */
function layerLoadings(p: Planted, spec: Spec, layer: number) {
  const { hidden, layers, factors } = spec;
  const out = matrix(factors, hidden);
  for (let f = 0; f < factors; f++)
    out.data.set(
      p.loadings.subarray(f * layers * hidden + layer * hidden, f * layers * hidden + (layer + 1) * hidden),
      f * hidden,
    );
  return out;
}

/** Writes one split's store: shards of SENTENCES_PER_SHARD sentences, every layer of every row. */
async function writeSplitStore(
  dir: string,
  spec: Spec,
  p: Planted,
  split: Split,
  rng: Rng,
): Promise<number[]> {
  const { layers, hidden, rho } = spec;
  const rows = PER_CLASS[split] * CLASSES.length;
  const sentences = Math.ceil(rows / WORDS_PER_SENTENCE);
  const y = new Array<number>(rows);
  const order = rng.permutation(rows);
  for (let i = 0; i < rows; i++) y[order[i]] = i % CLASSES.length;
  const words: string[][] = [];
  const labels: string[][] = [];
  for (let s = 0; s < sentences; s++) {
    const first = s * WORDS_PER_SENTENCE;
    const n = Math.min(WORDS_PER_SENTENCE, rows - first);
    words.push(Array.from({ length: n }, (_, w) => `${split[0]}${first + w}`));
    labels.push(Array.from({ length: n }, (_, w) => CLASSES[y[first + w]]));
  }
  const shards = [];
  for (let s = 0, id = 0; s < sentences; s += SENTENCES_PER_SHARD, id++) {
    const endLine = Math.min(sentences, s + SENTENCES_PER_SHARD);
    shards.push({
      id,
      firstLine: s,
      endLine,
      firstRow: s * WORDS_PER_SENTENCE,
      endRow: Math.min(rows, endLine * WORDS_PER_SENTENCE),
    });
  }
  const plan: StorePlan = {
    format: STORE_FORMAT,
    version: 1,
    model: {
      source: `synthetic/llm-shape-${layers}x${hidden}`,
      modelType: "llama",
      numLayers: layers - 1,
      hidden,
      layerNumbering: "0 = embeddings",
    },
    settings: {
      level: "word",
      aggregation: "average",
      sentenceRepresentation: "last",
      includeSpecialTokens: false,
      layers: Array.from({ length: layers }, (_, l) => l),
      sites: ["hidden"],
      dtype: "float16",
      maxTokens: 2048,
    },
    input: { file: `${split}.in`, sha256: "" },
    shards,
  };
  await openForWriting(dir, plan, true, []);
  const records = [];
  const innov = Math.sqrt(1 - rho * rho);
  const loadings = Array.from({ length: layers }, (_, l) => layerLoadings(p, spec, l));
  for (const shard of shards) {
    const n = shard.endRow - shard.firstRow;
    const f = matrix(n, spec.factors);
    fillNormal(rng, f.data);
    const v = new Float32Array(n * hidden);
    const noise = new Float32Array(n * hidden);
    const blocks = [];
    for (let l = 0; l < layers; l++) {
      fillNormal(rng, noise);
      const shared = await matmul(f, loadings[l]);
      const data = new Float32Array(n * hidden);
      const gain = p.layerGain[l];
      for (let i = 0; i < n; i++) {
        const o = i * hidden;
        const m = y[shard.firstRow + i] * hidden;
        for (let u = 0; u < hidden; u++) {
          const prev = l === 0 ? noise[o + u] : rho * v[o + u] + innov * noise[o + u];
          v[o + u] = prev;
          const j = l * hidden + u;
          data[o + u] = p.offset[j] + p.scale[j] * (prev + p.classMeans[m + u] * gain + shared.data[o + u]);
        }
      }
      blocks.push({ site: "hidden" as const, layer: l, dim: hidden, data });
    }
    records.push(await writeShard(dir, shard, { rows: n, blocks }, "float16"));
    process.stderr.write(`\rbench:pipeline-llm: ${split} rows ${shard.endRow}/${rows}`);
  }
  process.stderr.write("\n");
  await writeWordsFiles(dir, words, labels);
  const index: StoreIndex = {
    ...plan,
    shards: records,
    counts: {
      lines: sentences,
      sentences,
      emptyLines: 0,
      rows,
      subwords: rows,
      windowedSentences: 0,
      windows: sentences,
      truncatedWords: 0,
    },
    createdAt: "2026-01-01T00:00:00Z",
    seconds: 0,
  };
  await writeJsonAtomic(join(dir, "index.json"), index);
  return y;
}

/** The directory of a shape's store, task and runs. */
export function shapeDir(layers: number, hidden: number): string {
  return join(WORK_DIR, "pipeline-llm", `${layers}x${hidden}`);
}

/** The store and the task (with a control task: one random label per word type) for `spec`, made once. */
export async function prepare(spec: Spec): Promise<{ store: string; task: string }> {
  const dir = shapeDir(spec.layers, spec.hidden);
  const store = join(dir, "stores");
  const task = join(dir, "task");
  const metaPath = join(dir, "spec.json");
  if (existsSync(metaPath) && readFileSync(metaPath, "utf8") === JSON.stringify(spec)) return { store, task };
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(task, "control"), { recursive: true });
  const rng = new Rng(spec.seed);
  const planted = plant(spec, rng);
  const labelRng = new Rng(spec.seed + 1);
  for (const split of SPLITS) {
    const y = await writeSplitStore(join(store, split), spec, planted, split, rng);
    const rows = y.map((c, r) => ({
      sentence: Math.floor(r / WORDS_PER_SENTENCE),
      word: r % WORDS_PER_SENTENCE,
      token: `${split[0]}${r}`,
      label: CLASSES[c],
    }));
    await writeTaskTsv(join(task, `${split}.tsv`), rows);
    // Every token is its own word type: the control label is drawn per row.
    const control = rows.map((r) => ({ ...r, label: CLASSES[labelRng.int(CLASSES.length)] }));
    await writeTaskTsv(join(task, "control", `${split}.tsv`), control);
  }
  await writeFile(metaPath, JSON.stringify(spec));
  return { store, task };
}

export function memAvailable(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The shape asked for by --layers / --hidden (default the 7B size), checked. */
export function benchShape(args: { layers?: string; hidden?: string }): {
  layers: number;
  hidden: number;
  full: boolean;
} {
  const layers = Number(args.layers ?? FULL.layers);
  const hidden = Number(args.hidden ?? FULL.hidden);
  if (!(Number.isInteger(layers) && layers >= 2 && Number.isInteger(hidden) && hidden >= 8))
    throw new Error("--layers must be an integer >= 2 and --hidden >= 8");
  return { layers, hidden, full: layers === FULL.layers && hidden === FULL.hidden };
}

/** The available memory, in bytes; the full size is refused below what it needs. */
export function checkAvailableMemory(full: boolean): number {
  const available = memAvailable();
  if (full && available < FULL_SIZE_AVAILABLE)
    throw new Error(
      `the full size needs ${FULL_SIZE_AVAILABLE / GiB} GiB of available memory, this machine has ${(available / GiB).toFixed(1)} GiB now: run --layers N for a smaller figure (reported as not the full size)`,
    );
  return available;
}

/** Peak resident set of this process (VmHWM), in MB. */
export function peakMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export interface PipelineJob {
  store: string;
  task: string;
  out: string;
  steps?: StepName[];
  settings?: PipelineOptions["settings"];
}

export interface ChildResult {
  seconds: number;
  peakMb: number;
  results: RedundancyResults;
  record: RedundancyRecord;
}

/**
 * Runs the pipeline on `job` in a child process (bench/pipeline-llm.ts --child), its output directory
 * fresh (no cache hits); returns the child's time, peak memory and results.
 */
export async function runPipelineChild(job: PipelineJob, jobFile: string): Promise<ChildResult> {
  await rm(job.out, { recursive: true, force: true });
  await writeFile(jobFile, JSON.stringify(job));
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "pipeline-llm.ts"), "--child", jobFile],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0) throw new Error(`the pipeline run failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(readFileSync(jobFile, "utf8")) as ChildResult;
}
