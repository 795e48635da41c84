/**
 * `npm run bench:pipeline-llm`: the whole token-tagging redundancy pipeline (every step of `codeneurons
 * redundancy`) at a 7B model's width: 33 layers × 4,096 residual-stream neurons = 135,168 neurons, on
 * 12,000 / 1,620 / 2,040 rows (6 classes), read from a float16 activation store on disk.
 *
 * Data: synthetic, with the structure of bench/probe-data.ts planted at this width: unit u of layer l
 * is ρ·(unit u of layer l−1) + noise (ρ = 0.9: a residual stream), a shared low-rank component (16
 * factors), class-dependent means on 40 units (strongest in the middle layers), per-neuron offsets
 * and scales with a few massive dimensions. Written once per shape as a store (float16 shards, words,
 * index) and a token task with its control task under bench/work/pipeline-llm/<shape>/.
 *
 * The pipeline runs in a child process, so that its peak memory (VmHWM: resident set, onnxruntime's
 * buffers included) is the pipeline's alone; the output directory is fresh (no cache hits). Prints
 * the time per step and `BENCH pipeline-llm ours=<s> peak_mb=<n> neurons=<n> …`; targets: ours ≤ 3,600 s,
 * peak_mb ≤ 20,000 at the full size. There is no baseline to run (NeuroX's pipeline at this width does
 * not fit in memory).
 *
 * The full size needs about 21 GiB of available memory: the bench checks MemAvailable and refuses to
 * start the full size below it. `--layers N` runs the same width on fewer layers (reported as
 * `full_size=false`, never as the full-size figure).
 *
 * Usage: npm run bench:pipeline-llm [-- --layers 8] [-- --hidden 4096] [-- --steps oracle,cc] [-- --prepare-only]
 *        npm run bench:pipeline-llm -- --record-from bench/work/pipeline-llm/4x4096/child.json --layers 4 --hidden 4096
 *          (prints and records a finished run again from its child's result file)
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeTaskTsv } from "../src/data/task/tsv.js";
import { matmul } from "../src/linalg/products.js";
import { threadCount } from "../src/linalg/runtime.js";
import { runRedundancyPipeline } from "../src/redundancy/pipeline/pipeline.js";
import type { RedundancyRecord, RedundancyResults, StepName } from "../src/redundancy/pipeline/results.js";
import { formatSummary } from "../src/redundancy/pipeline/summary.js";
import { STORE_FORMAT, type StoreIndex, type StorePlan } from "../src/store/format.js";
import { openForWriting, writeShard, writeWordsFiles } from "../src/store/writer.js";
import { writeJsonAtomic } from "../src/util/atomic.js";
import { matrix } from "../src/util/matrix.js";
import { Rng } from "../src/util/rng.js";
import { appendResult, fmt, machineInfo, WORK_DIR } from "./common.js";
import { fillNormal } from "./probe-data.js";

const SPLITS = ["train", "valid", "test"] as const;
type Split = (typeof SPLITS)[number];
const CLASSES = ["IDENT", "KEYWORD", "MODIFIER", "NUMBER", "STRING", "TYPE"];
const PER_CLASS: Record<Split, number> = { train: 2000, valid: 270, test: 340 };
const WORDS_PER_SENTENCE = 16;
const SENTENCES_PER_SHARD = 32;
const FULL = { layers: 33, hidden: 4096 };
const GiB = 1024 ** 3;
/** Available memory the full size needs (its 20,000 MB target plus room for the system). */
const FULL_SIZE_AVAILABLE = 21 * GiB;

const { values: args } = parseArgs({
  options: {
    layers: { type: "string" },
    hidden: { type: "string" },
    steps: { type: "string" },
    "prepare-only": { type: "boolean", default: false },
    child: { type: "string" },
    "record-from": { type: "string" },
  },
});

interface Spec {
  seed: number;
  layers: number;
  hidden: number;
  informativeUnits: number;
  signal: number;
  rho: number;
  factors: number;
}

function specOf(layers: number, hidden: number): Spec {
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

/** The store and the task (with a control task: one random label per word type) for `spec`, made once. */
async function prepare(spec: Spec): Promise<{ store: string; task: string }> {
  const dir = join(WORK_DIR, "pipeline-llm", `${spec.layers}x${spec.hidden}`);
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

function memAvailable(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Peak resident set of this process (VmHWM), in MB. */
function peakMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface ChildResult {
  seconds: number;
  peakMb: number;
  results: RedundancyResults;
  record: RedundancyRecord;
}

/** The child: one pipeline run, its time and peak memory written to `file`. */
async function child(file: string): Promise<void> {
  const { store, task, out, steps } = JSON.parse(readFileSync(file, "utf8")) as {
    store: string;
    task: string;
    out: string;
    steps?: StepName[];
  };
  const t0 = performance.now();
  const { results, record } = await runRedundancyPipeline({ store, task }, { out, steps });
  const seconds = (performance.now() - t0) / 1000;
  const result: ChildResult = { seconds, peakMb: peakMb(), results, record };
  await writeFile(file, JSON.stringify(result));
}

async function main(): Promise<void> {
  if (args.child) return child(args.child);
  if (args["record-from"]) {
    if (!args.layers || !args.hidden) throw new Error("--record-from needs the run's --layers and --hidden");
    return report(args["record-from"], Number(args.layers), Number(args.hidden), {}, true);
  }
  const layers = Number(args.layers ?? FULL.layers);
  const hidden = Number(args.hidden ?? FULL.hidden);
  if (!(Number.isInteger(layers) && layers >= 2 && Number.isInteger(hidden) && hidden >= 8))
    throw new Error("--layers must be an integer >= 2 and --hidden >= 8");
  const full = layers === FULL.layers && hidden === FULL.hidden;
  const spec = specOf(layers, hidden);
  const { store, task } = await prepare(spec);
  if (args["prepare-only"]) return;
  const available = memAvailable();
  if (full && available < FULL_SIZE_AVAILABLE)
    throw new Error(
      `the full size needs ${FULL_SIZE_AVAILABLE / GiB} GiB of available memory, this machine has ${(available / GiB).toFixed(1)} GiB now: run --layers N for a smaller figure (reported as not the full size)`,
    );
  const out = join(WORK_DIR, "pipeline-llm", `${layers}x${hidden}`, "out");
  await rm(out, { recursive: true, force: true });
  const jobFile = join(WORK_DIR, "pipeline-llm", `${layers}x${hidden}`, "child.json");
  const steps = args.steps ? (args.steps.split(",") as StepName[]) : undefined;
  await writeFile(jobFile, JSON.stringify({ store, task, out, steps }));
  const before = machineInfo();
  process.stderr.write(
    `bench:pipeline-llm: ${layers} × ${hidden} neurons, ${threadCount()} threads, ${(available / GiB).toFixed(1)} GiB available, load ${loadavg()[0].toFixed(2)}\n`,
  );
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "pipeline-llm.ts"), "--child", jobFile],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  if (r.status !== 0) throw new Error(`the pipeline run failed (exit ${r.status ?? r.signal})`);
  await report(jobFile, layers, hidden, before);
}

/**
 * Prints and records a finished run from its child's result file. `--record-from FILE` re-records one
 * (the record then names the file and when the run finished).
 */
async function report(
  jobFile: string,
  layers: number,
  hidden: number,
  before: Record<string, unknown>,
  recovered = false,
): Promise<void> {
  const full = layers === FULL.layers && hidden === FULL.hidden;
  const result = JSON.parse(readFileSync(jobFile, "utf8")) as ChildResult;
  process.stdout.write(`${formatSummary(result.results, result.record)}\n`);
  const { total: _t, load, ...perStep } = result.record.seconds;
  process.stdout.write(`time per step (s; reading the activations: ${fmt(load ?? 0)} s):\n`);
  for (const [name, s] of Object.entries(perStep))
    process.stdout.write(`  ${name.padEnd(12)} ${s.toFixed(1)}\n`);
  const extra = {
    peak_mb: Math.round(result.peakMb),
    neurons: result.results.totalNeurons,
    full_size: full,
    layers,
    hidden,
    tokens: `${PER_CLASS.train * 6}/${PER_CLASS.valid * 6}/${PER_CLASS.test * 6}`,
    steps: Object.keys(perStep).length,
    probes: result.record.details.probesFitted,
    clusterings: result.record.details.clusterings,
    threads: threadCount(),
    ...(recovered ? { recorded_from: "child.json" } : { load1: loadavg()[0] }),
  };
  const line = [
    `BENCH pipeline-llm`,
    `ours=${fmt(result.seconds)}`,
    ...Object.entries(extra).map(([k, v]) => `${k}=${fmt(v)}`),
  ].join(" ");
  process.stdout.write(`${line}\n`);
  await appendResult("pipeline-llm", {
    lines: [line],
    ours: [result.seconds],
    peakMb: result.peakMb,
    shape: {
      layers,
      hidden,
      neurons: result.results.totalNeurons,
      rows: result.results.input.rows,
      classes: result.results.input.classes.length,
      scope:
        result.results.steps.cc?.clustering.scope ?? result.results.steps.ccfs?.groups[0]?.clustering.scope,
    },
    perStep,
    summary: result.results.summary,
    run: result.record,
    machineBefore: before,
    ...(recovered ? { recordedFrom: jobFile, finishedAt: statSync(jobFile).mtime.toISOString() } : {}),
  });
}

await main();
