/**
 * bench:extract — words/second extracting every hidden state (13 × 768) of a BERT-base-sized model
 * with random weights on the Java lines, against two PyTorch baselines on the same machine, thread
 * count and subword inputs (DESIGN.md, "Benchmarks"):
 *   (a) extract-neurox: NeuroX's way, one sentence at a time;
 *   (b) extract-batched: PyTorch's fastest batched path (nn.TransformerEncoderLayer, inference_mode)
 *       at 1,024, 2,048 and 4,096 padded tokens per batch; `baseline` / `ratio` compare with it at our
 *       batching, `ratio_best` with its fastest batching in this run.
 * Rounds alternate the sides (ours, then PyTorch at each batching, in a long-lived Python process), so
 * that both see the same background load; figures are medians over rounds. Also printed: `gflops`
 * (matrix products of the real tokens / our time), `gemm_peak_gflops` (onnxruntime's MatMul of
 * BERT-base's feed-forward shape at our batch size, measured each round), the same two rates by CPU
 * time (`cpu_gflops`, `gemm_peak_cpu_gflops`: GFLOP per CPU second × threads, which a busy shared
 * machine changes far less than the wall clock) and `busy_cores` (CPU seconds per second of our median
 * run), our padding fraction, peak RSS, and the profile of our median run (where the time went).
 * The model is generated here (random normal weights, std 0.02; a WordPiece vocabulary of 30,522
 * entries from the Java training lines), so our side never needs Python.
 * With --thread-ab, each round also runs our extraction with onnxruntime on the calling thread (the
 * runner's `thread: "main"`, no overlap of a batch's outputs with the next batch's forward pass) and
 * prints `BENCH extract-thread ours=<worker thread> baseline=<calling thread> ratio=<x>`: what running
 * onnxruntime on a worker thread buys, measured in the same rounds.
 * Usage: npm run bench:extract [-- --sentences N --neurox-sentences M --runs R --batch-tokens T --thread-ab] */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { extractActivations } from "../src/extract/extract.js";
import { openActivationModel } from "../src/extract/model.js";
import { busyCores, type ExtractProfile, formatProfile, paddingFraction } from "../src/extract/profile.js";
import { createSession, ort, threadCount } from "../src/linalg/runtime.js";
import { GraphBuilder } from "../src/onnx/graph.js";
import { Rng } from "../src/util/rng.js";
import { sharedData } from "../test/data/shared.js";
import {
  appendResult,
  BENCH_DIR,
  baselineEnv,
  benchLine,
  median,
  PYTHON,
  pythonHas,
  WORK_DIR,
} from "./common.js";
import { RANDOM_BERT_CONFIG as CFG, ensureRandomBert, RANDOM_BERT_DIR } from "./random-bert.js";

const JAVA_TRAIN = sharedData("java-token-lines/train.in");
const MODEL_DIR = RANDOM_BERT_DIR;

/** PyTorch's batchings: padded tokens per batch; its best (median) is what ratio_best compares with. */
const BASELINE_BATCH_TOKENS = [1024, 2048, 4096];

const { values: args } = parseArgs({
  options: {
    sentences: { type: "string", default: "2000" },
    "neurox-sentences": { type: "string", default: "300" },
    runs: { type: "string", default: "3" },
    "batch-tokens": { type: "string", default: "1024" },
    "thread-ab": { type: "boolean", default: false },
  },
});
/** Ours runs at its default batching; `baseline` / `ratio` compare with PyTorch at the same one. */
const ourBatchTokens = Number(args["batch-tokens"]);

/** FLOPs of one forward pass over a batch of sequences of these lengths (matmuls only). */
function forwardFlops(lengths: number[]): number {
  const h = CFG.hidden;
  let f = 0;
  for (const s of lengths) f += CFG.layers * (s * (8 * h * h + 4 * h * CFG.intermediate) + 4 * s * s * h);
  return f;
}

interface BaselineResult {
  mode: string;
  seconds: number;
  sentences: number;
  words: number;
  subwords: number;
  batchTokens?: number;
  paddedTokens?: number;
  batches?: number;
}

/**
 * The PyTorch baselines (extract_baseline.py) in one long-lived process, loaded once and asked for one
 * timed run at a time, so that its runs alternate with ours and both sides see the same load.
 */
class Baseline {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(idsFile: string, threads: number): Promise<Baseline> {
    const script = join(BENCH_DIR, "extract_baseline.py");
    const child = spawn(PYTHON, [script, MODEL_DIR, idsFile, String(threads)], { env: baselineEnv() });
    child.stderr.pipe(process.stderr);
    const b = new Baseline(child);
    const first = await b.lines.next();
    if (first.value !== "ready") throw new Error(`extract_baseline.py did not start (${first.value})`);
    return b;
  }

  /** One timed run: `batched` with `arg` padded tokens per batch (over the first `sentences`), or `neurox` over the first `arg` sentences. */
  async run(mode: "batched" | "neurox", arg: number, sentences?: number): Promise<BaselineResult> {
    this.child.stdin.write(`${mode} ${arg}${sentences === undefined ? "" : ` ${sentences}`}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error("extract_baseline.py exited");
    return JSON.parse(r.value) as BaselineResult;
  }

  stop(): void {
    this.child.stdin.end();
  }
}

/**
 * onnxruntime's SGEMM on BERT-base's feed-forward product, [batchTokens × 768] · [768 × 3072], with the
 * extraction's thread count: what the GEMMs that dominate extraction can reach on this machine now.
 * Median GFLOP/s of `reps` runs (after a warm-up), by the wall clock and by the process's CPU time
 * (GFLOP per CPU second × threads: the rate had the process kept its cores, which other processes on
 * a shared machine do not change much).
 */
async function gemmGflops(
  session: ort.InferenceSession,
  rows: number,
  threads: number,
  reps = 10,
): Promise<{ wall: number; cpu: number }> {
  const { hidden: K, intermediate: N } = CFG;
  const x = new ort.Tensor("float32", new Float32Array(rows * K).fill(0.5), [rows, K]);
  await session.run({ x });
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await session.run({ x });
    const c = process.cpuUsage(c0);
    const flop = 2 * rows * K * N;
    wall.push(flop / ((performance.now() - t0) * 1e6));
    cpu.push((flop * threads) / ((c.user + c.system) * 1e3));
  }
  return { wall: median(wall), cpu: median(cpu) };
}

async function gemmSession(threads: number): Promise<ort.InferenceSession> {
  const { hidden: K, intermediate: N } = CFG;
  const g = new GraphBuilder("gemm_peak");
  const x = g.input("x", "float32", ["rows", K]);
  const rng = new Rng(1);
  const w = g.initializer("w", {
    dtype: "float32",
    dims: [K, N],
    data: Float32Array.from({ length: K * N }, () => rng.normal() * 0.02),
  });
  g.op("MatMul", [x, w], {}, { outputs: ["y"] });
  g.output("y", "float32", ["rows", N]);
  return createSession(g.toModel({ opset: 17 }), { intraOpNumThreads: threads });
}

async function main(): Promise<void> {
  const n = Number(args.sentences);
  const m = Number(args["neurox-sentences"]);
  const runs = Number(args.runs);
  const all = readFileSync(JAVA_TRAIN, "utf8").split("\n");
  await ensureRandomBert(all);
  const lines = all.filter((l) => l.trim() !== "").slice(0, n);
  const input = join(WORK_DIR, `extract-input-${n}.txt`);
  const small = join(WORK_DIR, `extract-input-${m}.txt`);
  await writeFile(input, `${lines.join("\n")}\n`);
  await writeFile(small, `${lines.slice(0, m).join("\n")}\n`);
  const threads = threadCount();
  const model = await openActivationModel(MODEL_DIR, { threads });
  const onMain = args["thread-ab"] ? await openActivationModel(MODEL_DIR, { threads, thread: "main" }) : null;
  const tok = model.tokenizer;
  const sentences = lines.map((line) => {
    const ids = [...tok.prefixIds];
    const spans: [number, number][] = [];
    line
      .trim()
      .split(/\s+/)
      .forEach((w, i) => {
        const b = ids.length;
        ids.push(...tok.tokenizeWord(w, i === 0));
        spans.push([b, ids.length]);
      });
    ids.push(...tok.suffixIds);
    return { ids, spans };
  });
  const words = sentences.reduce((s, x) => s + x.spans.length, 0);
  const subwords = sentences.reduce((s, x) => s + x.ids.length, 0);
  const idsFile = join(WORK_DIR, `extract-ids-${n}.json`);
  await writeFile(idsFile, JSON.stringify({ sentences }));
  const baseline = pythonHas(["torch", "numpy"]) ? await Baseline.start(idsFile, threads) : null;
  if (!baseline) process.stderr.write("python3 with torch not found: baselines skipped\n");
  const gemm = await gemmSession(threads);

  // A fresh store each run: an existing one with the same plan would be resumed, not recomputed.
  const extract = async (file: string, out: string, which = model) => {
    await rm(out, { recursive: true, force: true });
    const t0 = performance.now();
    const result = await extractActivations(which, {
      input: file,
      out,
      quiet: true,
      batchTokens: ourBatchTokens,
      profile: true,
    });
    return { seconds: (performance.now() - t0) / 1000, profile: result.profile! };
  };
  const store = join(WORK_DIR, "extract-store");
  // Warm-ups (sessions, arenas, thread pools, page cache) on both sides.
  await extract(small, store);
  if (onMain) await extract(small, store, onMain);
  await baseline?.run("batched", BASELINE_BATCH_TOKENS[0], m);
  // Rounds alternate the sides: the GEMM probe, ours, then PyTorch at each batching.
  const ours: { seconds: number; profile: ExtractProfile }[] = [];
  const oursOnMain: number[] = [];
  const gemmRates: { wall: number; cpu: number }[] = [];
  const torch = new Map<number, BaselineResult[]>(BASELINE_BATCH_TOKENS.map((t) => [t, []]));
  for (let r = 0; r < runs; r++) {
    gemmRates.push(await gemmGflops(gemm, ourBatchTokens, threads));
    const run = await extract(input, store);
    ours.push(run);
    process.stderr.write(`round ${r + 1}/${runs}: ours ${run.seconds.toFixed(2)} s`);
    if (onMain) {
      oursOnMain.push((await extract(input, store, onMain)).seconds);
      process.stderr.write(`, ours on the calling thread ${oursOnMain[r].toFixed(2)} s`);
    }
    for (const t of BASELINE_BATCH_TOKENS) {
      if (!baseline) break;
      const res = await baseline.run("batched", t);
      torch.get(t)!.push(res);
      process.stderr.write(`, PyTorch@${t} ${res.seconds.toFixed(2)} s`);
    }
    process.stderr.write(` (load ${loadavg()[0].toFixed(2)})\n`);
  }
  // NeuroX's way (one sentence at a time) is slow: one baseline run beside our median of `runs`.
  const oursSmall: number[] = [];
  for (let r = 0; r < runs; r++)
    oursSmall.push((await extract(small, join(WORK_DIR, "extract-store-small"))).seconds);
  const neurox = baseline ? await baseline.run("neurox", m) : null;
  baseline?.stop();
  await gemm.release();
  const peakMb = process.resourceUsage().maxRSS / 1024;
  await model.release();
  await onMain?.release();

  const oursSec = median(ours.map((o) => o.seconds));
  const typical = [...ours].sort((a, b) => a.seconds - b.seconds)[(ours.length - 1) >> 1].profile;
  const flops = forwardFlops(sentences.map((s) => s.ids.length));
  const gflops = flops / oursSec / 1e9;
  const gemmPeak = median(gemmRates.map((r) => r.wall));
  const gemmPeakCpu = median(gemmRates.map((r) => r.cpu));
  // Our rate by CPU time (see gemmGflops), from the median run's profile.
  const typicalCpu = flops / (typical.cpuSeconds / threads) / 1e9;
  const torchMedian = new Map([...torch].map(([t, res]) => [t, median(res.map((x) => x.seconds))]));
  const same = torchMedian.get(ourBatchTokens) ?? null;
  const bestTokens = baseline
    ? BASELINE_BATCH_TOKENS.reduce((b, t) => (torchMedian.get(t)! < torchMedian.get(b)! ? t : b))
    : null;
  const best = bestTokens === null ? null : torchMedian.get(bestTokens)!;
  const smallWords = sentences.slice(0, m).reduce((s, x) => s + x.spans.length, 0);
  const oursSmallSec = median(oursSmall);

  process.stderr.write(`${formatProfile(typical)}\n`);
  const common = { threads, layers: CFG.layers + 1, hidden: CFG.hidden };
  const lineA = benchLine("extract-neurox", oursSmallSec, neurox?.seconds ?? null, {
    sentences: m,
    words: smallWords,
    ours_words_per_s: smallWords / oursSmallSec,
    baseline_subwords_per_s: neurox ? neurox.subwords / neurox.seconds : "skipped",
    ...common,
  });
  const outside = 1 - typical.seconds.run / typical.seconds.total;
  const lineB = benchLine("extract-batched", oursSec, same, {
    ratio_best: best === null ? "skipped" : best / oursSec,
    gflops,
    gemm_peak_gflops: gemmPeak,
    cpu_gflops: typicalCpu,
    gemm_peak_cpu_gflops: gemmPeakCpu,
    busy_cores: busyCores(typical),
    padding: paddingFraction(typical),
    peak_mb: Math.round(peakMb),
    baseline_best_tokens: bestTokens ?? "skipped",
    ...Object.fromEntries([...torchMedian].map(([t, sec]) => [`baseline_${t}`, sec])),
    baseline_padding_best: bestTokens === null ? "skipped" : paddingOf(torch.get(bestTokens)![0], subwords),
    outside_run: outside,
    sentences: n,
    words,
    subwords,
    batch_tokens: ourBatchTokens,
    ...common,
  });
  const lineC = onMain
    ? benchLine("extract-thread", oursSec, median(oursOnMain), { runs, sentences: n, ...common })
    : null;
  await appendResult("extract", {
    lines: lineC ? [lineA, lineB, lineC] : [lineA, lineB],
    ...(onMain ? { oursOnMain } : {}),
    ours: { times: ours.map((o) => o.seconds), smallTimes: oursSmall, peakMb, profile: typical },
    gemmRates,
    torch: Object.fromEntries(torch),
    neurox,
    words,
    subwords,
    flops,
  });
  process.stderr.write(`medians: ours ${oursSec.toFixed(2)} s for ${words} words\n`);
}

function paddingOf(res: BaselineResult, subwords: number): number | string {
  return res.paddedTokens ? 1 - subwords / res.paddedTokens : "unknown";
}

await main();
