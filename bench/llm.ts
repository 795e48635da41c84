/**
 * bench:llm — extracting every hidden layer of a 7B-shaped Llama, block-streamed (`--weights stream`),
 * against a plain float32 PyTorch implementation of the same blocks on the same machine, thread count,
 * token ids and batches (DESIGN.md, "Benchmarks").
 *
 * The checkpoint is generated here (once, cached under bench/work/): the shapes of a 7B Llama block
 * (hidden 4096, intermediate 11008, 32 heads, 8 key/value heads of 128, vocabulary 32,000), N blocks,
 * seeded normal(0, 0.02) weights rounded to bfloat16, RMSNorm weights 1, bf16 safetensors written
 * tensor by tensor (a 32-block model is ~12 GB and is never held in memory), no LM head; the tokenizer
 * is the hf-llm Llama fixture's (ids < 2,500).
 *
 * Ours runs in a child process (so that its peak RSS is its own): open the model, extract every hidden
 * layer of the first --lines lines of the paper's Java test split, write the store, release — all timed,
 * block reads and bf16 → f32 conversion included. The baseline (bench/llm_baseline.py) loads the bf16
 * weights into float32 tensors, runs the same sequences batched the same way and averages each word's
 * subword vectors of every layer; it also dumps the word vectors of the first lines, which must match
 * our store (max abs difference ≤ 1e-3), so that both sides provably compute the same thing.
 *
 * Prints:
 *   BENCH extract-llm ours=<s> baseline=<s> ratio=<baseline/ours> gflops=<ours> peak_mb=<ours> layers=<N>
 *   BENCH extract-llm-memory peak_mb_small=<N/2 blocks> peak_mb_large=<N blocks> ratio=<large/small>
 * and with --full7b (32 blocks, ours only: its float32 weights would not fit the baseline in memory):
 *   BENCH extract-llm-7b ours=<s> baseline=skipped s_per_1000_words=<s> peak_mb=<n> layers=32 …
 * Usage: npm run bench:llm [-- --lines 300 --blocks 8 --memory-blocks 4 --runs 1 --no-baseline]
 *        npm run bench:llm -- --full7b
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, renameSync, statfsSync, writeSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { decodeToken } from "../src/data/escape.js";
import { extractActivations } from "../src/extract/extract.js";
import { openActivationModel } from "../src/extract/model.js";
import { threadCount } from "../src/linalg/runtime.js";
import { encodeWords, loadTokenizer } from "../src/model/tokenizer/index.js";
import { ActivationStore } from "../src/store/reader.js";
import { Rng } from "../src/util/rng.js";
import { sharedData } from "../test/data/shared.js";
import {
  appendResult,
  BENCH_DIR,
  benchLine,
  fmt,
  machineInfo,
  median,
  pythonHas,
  runPythonBaseline,
  WORK_DIR,
} from "./common.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = resolve(BENCH_DIR, "..");
const JAVA_TEST = sharedData("java-token-lines/test.in");
const TOKENIZER_DIR = sharedData("hf-llm/llama/model");

/** A 7B Llama block's shapes. */
const SHAPE = {
  hidden: 4096,
  intermediate: 11008,
  heads: 32,
  kvHeads: 8,
  headDim: 128,
  vocab: 32000,
  positions: 4096,
  eps: 1e-5,
  theta: 10000,
};
const STD = 0.02;
const SEED = 7;
/** The baseline's word vectors of this many first lines are compared with our store. */
const CHECK_LINES = 2;
const CHECK_TOLERANCE = 1e-3;

const { values: args } = parseArgs({
  options: {
    lines: { type: "string", default: "300" },
    blocks: { type: "string", default: "8" },
    "memory-blocks": { type: "string", default: "4" },
    runs: { type: "string", default: "1" },
    "batch-tokens": { type: "string", default: "1024" },
    "no-baseline": { type: "boolean", default: false },
    full7b: { type: "boolean", default: false },
    /** Internal: run our extraction in this (child) process; the value is a JSON ChildSpec. */
    child: { type: "string" },
  },
});

// ---------------------------------------------------------------------------------------------------
// The checkpoint

interface TensorSpec {
  name: string;
  shape: number[];
  init: "normal" | "ones";
}

function tensorSpecs(blocks: number): TensorSpec[] {
  const { hidden: H, intermediate: I, heads, kvHeads, headDim: d, vocab } = SHAPE;
  const specs: TensorSpec[] = [{ name: "model.embed_tokens.weight", shape: [vocab, H], init: "normal" }];
  for (let i = 0; i < blocks; i++) {
    const p = `model.layers.${i}.`;
    specs.push(
      { name: `${p}input_layernorm.weight`, shape: [H], init: "ones" },
      { name: `${p}self_attn.q_proj.weight`, shape: [heads * d, H], init: "normal" },
      { name: `${p}self_attn.k_proj.weight`, shape: [kvHeads * d, H], init: "normal" },
      { name: `${p}self_attn.v_proj.weight`, shape: [kvHeads * d, H], init: "normal" },
      { name: `${p}self_attn.o_proj.weight`, shape: [H, heads * d], init: "normal" },
      { name: `${p}post_attention_layernorm.weight`, shape: [H], init: "ones" },
      { name: `${p}mlp.gate_proj.weight`, shape: [I, H], init: "normal" },
      { name: `${p}mlp.up_proj.weight`, shape: [I, H], init: "normal" },
      { name: `${p}mlp.down_proj.weight`, shape: [H, I], init: "normal" },
    );
  }
  specs.push({ name: "model.norm.weight", shape: [H], init: "ones" });
  return specs;
}

/** Parameters of one block's matrix products (q, k, v, o, gate, up, down). */
function blockMatrixParams(): number {
  const { hidden: H, intermediate: I, heads, kvHeads, headDim: d } = SHAPE;
  return 2 * H * heads * d + 2 * H * kvHeads * d + 3 * H * I;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function llamaConfig(blocks: number): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 1,
    eos_token_id: 2,
    dtype: "bfloat16",
    head_dim: SHAPE.headDim,
    hidden_act: "silu",
    hidden_size: SHAPE.hidden,
    initializer_range: STD,
    intermediate_size: SHAPE.intermediate,
    max_position_embeddings: SHAPE.positions,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: SHAPE.heads,
    num_hidden_layers: blocks,
    num_key_value_heads: SHAPE.kvHeads,
    pad_token_id: null,
    pretraining_tp: 1,
    rms_norm_eps: SHAPE.eps,
    rope_scaling: null,
    rope_theta: SHAPE.theta,
    tie_word_embeddings: false,
    use_cache: true,
    vocab_size: SHAPE.vocab,
  };
}

function modelDir(blocks: number): string {
  return join(WORK_DIR, `llama-7b-shape-${blocks}L`);
}

/**
 * Fills `out` with normal(0, std) values rounded to bfloat16 (round to nearest even; every value is
 * finite, unlike random bit patterns). Box-Muller, both outputs used; `scratch` holds the float32s.
 */
function fillNormalBf16(rng: Rng, std: number, out: Uint16Array, scratch: Float32Array): void {
  const n = out.length;
  const f = scratch.subarray(0, n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng.next(); // (0, 1]: log(u) is finite
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const t = 2 * Math.PI * rng.next();
    f[i] = r * Math.cos(t);
    if (i + 1 < n) f[i + 1] = r * Math.sin(t);
  }
  const bits = new Uint32Array(f.buffer, f.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/** The safetensors header for `specs` in order, padded so the data starts 8-byte aligned. */
function safetensorsHeader(specs: readonly TensorSpec[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const s of specs) {
    const bytes = 2 * elements(s.shape);
    header[s.name] = { dtype: "BF16", shape: s.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json)]);
}

function checkpointBytes(blocks: number): number {
  return tensorSpecs(blocks).reduce((s, t) => s + 2 * elements(t.shape), 0);
}

/**
 * Writes the random checkpoint of `blocks` blocks unless it exists. One Rng stream in file order, so
 * a model's blocks are the first blocks of any deeper one. Written to a temporary name and renamed,
 * config.json last: an interrupted generation is redone, never used.
 */
async function ensureModel(blocks: number): Promise<string> {
  const dir = modelDir(blocks);
  const weights = join(dir, "model.safetensors");
  const config = join(dir, "config.json");
  if (existsSync(config) && existsSync(weights)) return dir;
  await mkdir(dir, { recursive: true });
  const need = checkpointBytes(blocks);
  const { bavail, bsize } = statfsSync(dir);
  if (bavail * bsize < need + 2 * 1024 ** 3) {
    throw new Error(
      `bench:llm: ${(need / 1e9).toFixed(1)} GB needed for ${weights}, only ${((bavail * bsize) / 1e9).toFixed(1)} GB free`,
    );
  }
  process.stderr.write(
    `bench:llm: generating ${weights} (${blocks} blocks, ${(need / 1e9).toFixed(2)} GB)\n`,
  );
  const t0 = performance.now();
  const specs = tensorSpecs(blocks);
  const tmp = `${weights}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  const CHUNK = 1 << 22;
  const bf16 = new Uint16Array(CHUNK);
  const scratch = new Float32Array(CHUNK);
  const ones = new Uint16Array(SHAPE.hidden).fill(0x3f80); // 1.0 in bfloat16
  const rng = new Rng(SEED);
  try {
    writeSync(fd, safetensorsHeader(specs));
    for (const s of specs) {
      const n = elements(s.shape);
      if (s.init === "ones") {
        if (n !== ones.length) throw new Error(`bench:llm: norm ${s.name} has ${n} elements`);
        writeSync(fd, new Uint8Array(ones.buffer));
        continue;
      }
      for (let at = 0; at < n; at += CHUNK) {
        const part = bf16.subarray(0, Math.min(CHUNK, n - at));
        fillNormalBf16(rng, STD, part, scratch);
        writeSync(fd, new Uint8Array(part.buffer, 0, part.byteLength));
      }
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, weights);
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    await copyFile(join(TOKENIZER_DIR, f), join(dir, f));
  await writeFile(config, `${JSON.stringify(llamaConfig(blocks), null, 2)}\n`);
  process.stderr.write(`bench:llm: generated in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  return dir;
}

// ---------------------------------------------------------------------------------------------------
// Our side, in a child process

interface ChildSpec {
  model: string;
  input: string;
  out: string;
  batchTokens: number;
}

interface ChildResult {
  seconds: number;
  openSeconds: number;
  extractSeconds: number;
  words: number;
  subwords: number;
  peakMb: number;
}

/** VmHWM of this process in MB (the same peak RSS as resourceUsage, read from the kernel's status). */
function vmHwmMb(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

async function childMain(spec: ChildSpec): Promise<void> {
  const t0 = performance.now();
  const model = await openActivationModel(spec.model, { weights: "stream" });
  const t1 = performance.now();
  let result: Awaited<ReturnType<typeof extractActivations>>;
  try {
    result = await extractActivations(model, {
      input: spec.input,
      out: spec.out,
      quiet: true,
      batchTokens: spec.batchTokens,
    });
  } finally {
    await model.release();
  }
  const t2 = performance.now();
  const out: ChildResult = {
    seconds: (t2 - t0) / 1000,
    openSeconds: (t1 - t0) / 1000,
    extractSeconds: (t2 - t1) / 1000,
    words: result.counts.rows,
    subwords: result.counts.subwords,
    peakMb: Math.max(vmHwmMb(), process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** One extraction in a fresh Node process (tsx, as the benches run), with `threads` threads. */
async function runOurs(spec: ChildSpec, threads: number): Promise<ChildResult> {
  // A fresh store each run: an existing one with the same plan would be resumed, not recomputed.
  await rm(spec.out, { recursive: true, force: true });
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", THIS_FILE, "--child", JSON.stringify(spec)], {
      cwd: REPO_ROOT,
      env: { ...process.env, CODENEURONS_THREADS: String(threads) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      if (code !== 0 || !line) return reject(new Error(`bench:llm: our extraction exited with ${code}`));
      resolvePromise(JSON.parse(line) as ChildResult);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Inputs shared by both sides

interface Sentence {
  ids: number[];
  /** [begin, end) of each word's subwords in `ids`. */
  spans: [number, number][];
}

async function writeInputs(
  lineCount: number,
  batchTokens: number,
  tokenizerDir: string,
): Promise<{ input: string; idsFile: string; sentences: Sentence[] }> {
  const lines = readFileSync(JAVA_TEST, "utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/).filter(Boolean))
    .filter((words) => words.length > 0)
    .slice(0, lineCount);
  if (lines.length < lineCount) throw new Error(`bench:llm: only ${lines.length} lines in ${JAVA_TEST}`);
  const input = join(WORK_DIR, `llm-input-${lineCount}.in`);
  await writeFile(input, `${lines.map((w) => w.join(" ")).join("\n")}\n`);
  // The token ids extraction gives each line: the tokenizer's prefix (BOS), the words' subwords as
  // tokenized inside the sentence (the real text of escaped words), its suffix (none for Llama).
  const tok = await loadTokenizer(tokenizerDir);
  const sentences = lines.map((words, line): Sentence => {
    const enc = encodeWords(
      tok,
      words.map((w) => decodeToken(w) ?? w),
    );
    const pre = tok.prefixIds.length;
    const spans = words.map((_, i): [number, number] => {
      const b = pre + enc.wordStarts[i];
      const e = pre + enc.wordStarts[i + 1];
      if (e === b) throw new Error(`bench:llm: word ${i} of line ${line} has no subwords`);
      return [b, e];
    });
    const ids = [...tok.prefixIds, ...enc.ids, ...tok.suffixIds];
    if (ids.length > SHAPE.positions) throw new Error(`bench:llm: line ${line} needs windows`);
    return { ids, spans };
  });
  const idsFile = join(WORK_DIR, `llm-ids-${lineCount}.json`);
  await writeFile(idsFile, JSON.stringify({ batchTokens, sentences }));
  return { input, idsFile, sentences };
}

/**
 * FLOPs of the blocks' matrix products: 2 × tokens × matrix parameters per block, plus attention's
 * QKᵀ and PV (2 × 2 × S² × heads × head_dim) over each sentence's real length, × blocks.
 */
function extractionFlops(sentences: readonly Sentence[], blocks: number): number {
  const p = blockMatrixParams();
  const attn = 4 * SHAPE.heads * SHAPE.headDim;
  let f = 0;
  for (const s of sentences) {
    const n = s.ids.length;
    f += 2 * n * p + attn * n * n;
  }
  return f * blocks;
}

// ---------------------------------------------------------------------------------------------------
// The baseline

interface BaselineResult {
  seconds: number;
  times: number[];
  load_s: number;
  forward_s: number;
  sentences: number;
  words: number;
  layers: number;
  peak_mb: number | null;
  /** Shared libraries with "blas" in their path that the baseline had loaded. */
  blas: string[];
}

/** Max |ours − baseline| over the word vectors of every layer of the first CHECK_LINES lines. */
async function compareWithBaseline(
  store: string,
  dumpFile: string,
  words: number,
  layers: number,
): Promise<{ maxAbsDiff: number; maxAbs: number }> {
  const raw = await readFile(dumpFile);
  const ref = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  if (ref.length !== words * layers * SHAPE.hidden)
    throw new Error(`bench:llm: ${dumpFile} has ${ref.length} values, expected ${words} × ${layers} × H`);
  const s = await ActivationStore.open(store);
  const m = await s.readRows(
    Int32Array.from({ length: words }, (_, i) => i),
    { layers: Array.from({ length: layers }, (_, l) => l) },
  );
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(m.data[i] - ref[i]));
    maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
  }
  return { maxAbsDiff, maxAbs };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const lineCount = Number(args.lines);
  const blocks = args.full7b ? 32 : Number(args.blocks);
  const memoryBlocks = Number(args["memory-blocks"]);
  const runs = Number(args.runs);
  const batchTokens = Number(args["batch-tokens"]);
  const threads = threadCount();
  await mkdir(WORK_DIR, { recursive: true });
  const dir = await ensureModel(blocks);
  const smallDir = args.full7b ? null : await ensureModel(memoryBlocks);
  const { input, idsFile, sentences } = await writeInputs(lineCount, batchTokens, dir);
  const words = sentences.reduce((s, x) => s + x.spans.length, 0);
  const tokens = sentences.reduce((s, x) => s + x.ids.length, 0);
  const flops = extractionFlops(sentences, blocks);
  process.stderr.write(
    `bench:llm: ${lineCount} lines, ${words} words, ${tokens} tokens, ${blocks} blocks, ${threads} threads\n`,
  );

  const store = join(WORK_DIR, `llm-store-${blocks}L`);
  const ours: ChildResult[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await runOurs({ model: dir, input, out: store, batchTokens }, threads);
    process.stderr.write(
      `bench:llm: ours ${res.seconds.toFixed(1)} s (open ${res.openSeconds.toFixed(1)} s), peak ${res.peakMb.toFixed(0)} MB\n`,
    );
    ours.push(res);
  }
  const oursSec = median(ours.map((r) => r.seconds));
  const peakMb = Math.max(...ours.map((r) => r.peakMb));
  const gflops = flops / oursSec / 1e9;

  if (args.full7b) {
    const line = benchLine("extract-llm-7b", oursSec, null, {
      s_per_1000_words: (oursSec / words) * 1000,
      peak_mb: Math.round(peakMb),
      gflops,
      layers: blocks,
      words,
      threads,
    });
    await appendResult("extract-llm-7b", { lines: [line], ours, words, tokens, flops, threads });
    return;
  }

  let baseline: BaselineResult | null = null;
  let check: { maxAbsDiff: number; maxAbs: number } | null = null;
  if (!args["no-baseline"] && pythonHas(["torch"])) {
    const dump = join(WORK_DIR, `llm-baseline-words-${blocks}L.f32`);
    baseline = await runPythonBaseline<BaselineResult>(join(BENCH_DIR, "llm_baseline.py"), [
      dir,
      idsFile,
      String(threads),
      String(runs),
      dump,
      String(CHECK_LINES),
    ]);
    process.stderr.write(
      `bench:llm: baseline ${baseline.seconds.toFixed(1)} s (load ${baseline.load_s.toFixed(1)} s), peak ${baseline.peak_mb?.toFixed(0)} MB\n`,
    );
    if (!baseline.blas.some((p) => p.includes("openblas"))) {
      process.stderr.write(
        `bench:llm: warning: the baseline ran without OpenBLAS (${baseline.blas.join(", ") || "no BLAS library"}): ` +
          "Debian's reference BLAS is about 20x slower; install libopenblas0-pthread\n",
      );
    }
    const checkWords = sentences.slice(0, CHECK_LINES).reduce((s, x) => s + x.spans.length, 0);
    check = await compareWithBaseline(store, dump, checkWords, blocks + 1);
    process.stderr.write(
      `bench:llm: first ${CHECK_LINES} lines, every layer: max |ours − baseline| = ${check.maxAbsDiff.toExponential(2)} (max |value| ${check.maxAbs.toFixed(2)})\n`,
    );
    if (!(check.maxAbsDiff <= CHECK_TOLERANCE)) {
      throw new Error(
        `bench:llm: our word vectors differ from the baseline's by ${check.maxAbsDiff} (> ${CHECK_TOLERANCE}): the two sides do not compute the same thing`,
      );
    }
  } else if (!args["no-baseline"]) process.stderr.write("python3 with torch not found: baseline skipped\n");

  // Same lines, fewer blocks: peak memory must not grow with depth.
  const small = await runOurs(
    { model: smallDir!, input, out: join(WORK_DIR, `llm-store-${memoryBlocks}L`), batchTokens },
    threads,
  );
  process.stderr.write(`bench:llm: ours with ${memoryBlocks} blocks: peak ${small.peakMb.toFixed(0)} MB\n`);

  const lineA = benchLine("extract-llm", oursSec, baseline?.seconds ?? null, {
    gflops,
    peak_mb: Math.round(peakMb),
    layers: blocks,
  });
  // Not benchLine's shape (no ours / baseline times); all.ts's table reads any `key=value` fields.
  const memLine = `BENCH extract-llm-memory peak_mb_small=${Math.round(small.peakMb)} peak_mb_large=${Math.round(peakMb)} ratio=${fmt(peakMb / small.peakMb)}`;
  process.stdout.write(`${memLine}\n`);
  await appendResult("extract-llm", {
    lines: [lineA, memLine],
    ours,
    oursSmall: small,
    memoryBlocks,
    baseline,
    check,
    words,
    tokens,
    flops,
    threads,
    machine: machineInfo(),
  });
}

if (args.child) await childMain(JSON.parse(args.child) as ChildSpec);
else await main();
