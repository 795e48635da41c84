/**
 * Forward-pass speed of a BERT-base-sized random model (12 layers, 768 hidden, 12 heads, 3072
 * intermediate, all 13 hidden states kept) on onnxruntime, against PyTorch on the same machine, thread
 * count and batch shape, measured in the same run (forward_baseline.py; OPENBLAS_* unset for it only).
 *
 *   npm run bench:forward -- [batch=32] [seq=32] [threads=2] [repeats=5]
 *
 * Prints `BENCH forward-<variant> ours=<median s> baseline=<median s> ratio=<baseline/ours> …` lines, the
 * baseline being PyTorch's nn.TransformerEncoderLayer fast path (its fastest batched inference) with
 * OpenBLAS on its AVX-512 kernel (BENCH_OPENBLAS_CORETYPE, default SkylakeX); baseline_eager is
 * hf_models.BertModel with the same kernel, baseline_unset the fast path with OPENBLAS_* unset.
 * Ours and PyTorch's runs alternate, so both see the same background load.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseModelConfig } from "../src/model/config.js";
import { TransformerRunner } from "../src/model/runner.js";
import type { TensorMap } from "../src/model/weights/tensor.js";
import { Rng } from "../src/util/rng.js";

const [batch, seq, threads, repeats] = [32, 32, 2, 5].map((d, i) => Number(process.argv[2 + i] ?? d));
const here = dirname(fileURLToPath(import.meta.url));

const config = parseModelConfig(
  {
    model_type: "bert",
    vocab_size: 30522,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: "gelu",
  },
  "bench config",
);

function randomWeights(rng: Rng): TensorMap {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const shapes: [string, number[]][] = [
    ["embeddings.word_embeddings.weight", [config.vocabSize, H]],
    ["embeddings.position_embeddings.weight", [config.maxPositions, H]],
    ["embeddings.token_type_embeddings.weight", [config.typeVocabSize, H]],
    ["embeddings.LayerNorm.weight", [H]],
    ["embeddings.LayerNorm.bias", [H]],
  ];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `encoder.layer.${i}.`;
    for (const n of ["query", "key", "value"]) {
      shapes.push([`${p}attention.self.${n}.weight`, [H, H]], [`${p}attention.self.${n}.bias`, [H]]);
    }
    shapes.push(
      [`${p}attention.output.dense.weight`, [H, H]],
      [`${p}attention.output.dense.bias`, [H]],
      [`${p}attention.output.LayerNorm.weight`, [H]],
      [`${p}attention.output.LayerNorm.bias`, [H]],
      [`${p}intermediate.dense.weight`, [I, H]],
      [`${p}intermediate.dense.bias`, [I]],
      [`${p}output.dense.weight`, [H, I]],
      [`${p}output.dense.bias`, [H]],
      [`${p}output.LayerNorm.weight`, [H]],
      [`${p}output.LayerNorm.bias`, [H]],
    );
  }
  const map: TensorMap = new Map();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isGain = name.endsWith("LayerNorm.weight");
    for (let j = 0; j < n; j++) data[j] = isGain ? 1 : 0.02 * rng.normal();
    map.set(name, { shape, data, sourceDType: "F32" });
  }
  return map;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Multiply-adds ×2 per forward pass: the four projections and the two attention products per layer. */
function flops(): number {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const tokens = batch * seq;
  const perLayer = 2 * tokens * (4 * H * H + 2 * H * I) + 2 * 2 * batch * seq * seq * H;
  return perLayer * config.numLayers;
}

/** The PyTorch baseline as a child process answering one timing per request (see forward_baseline.py). */
class Baseline {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** @param coretype OPENBLAS_CORETYPE for the child; null leaves both OPENBLAS_* variables unset. */
  static async start(coretype: string | null): Promise<Baseline | null> {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    if (coretype) env.OPENBLAS_CORETYPE = coretype;
    const script = join(here, "forward_baseline.py");
    const child = spawn("/usr/bin/python3", [script, String(batch), String(seq), String(threads)], { env });
    child.stderr.pipe(process.stderr);
    const b = new Baseline(child);
    const first = await b.lines.next();
    return first.value === "ready" ? b : null;
  }

  async time(mode: "eager" | "transformer"): Promise<Timing> {
    this.child.stdin.write(`${mode}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error("baseline exited");
    const [wall, cpu] = r.value.split(" ").map(Number);
    return { wall, cpu };
  }

  stop(): void {
    this.child.stdin.end();
  }
}

/** Wall-clock and CPU seconds (all threads) of one call. */
interface Timing {
  wall: number;
  cpu: number;
}

const NONE: Timing = { wall: Number.NaN, cpu: Number.NaN };

async function timeRun(runner: TransformerRunner, ids: number[]): Promise<Timing> {
  const c = process.cpuUsage();
  const t = performance.now();
  await runner.run({ batch, seq, inputIds: ids });
  const used = process.cpuUsage(c);
  return { wall: (performance.now() - t) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const weights = randomWeights(new Rng(1));
const runners = {
  fused: await TransformerRunner.create(config, weights, { fused: true, threads }),
  standard: await TransformerRunner.create(config, weights, { fused: false, threads }),
};
const rng = new Rng(7);
const ids = Array.from({ length: batch * seq }, () => 5 + rng.int(config.vocabSize - 5));
// Debian's OpenBLAS 0.3.21 does not recognise this AVX-512 CPU when OPENBLAS_CORETYPE is unset and
// falls back to its Prescott (SSE3) kernels, about 5× slower; SkylakeX is the fastest kernel it has
// here. The baseline is PyTorch with that kernel; the unset variant is printed as baseline_unset.
const base = await Baseline.start(process.env.BENCH_OPENBLAS_CORETYPE ?? "SkylakeX");
const unset = await Baseline.start(null);
const times: Record<string, Timing[]> = { fused: [], standard: [], transformer: [], eager: [], unset: [] };
// Round 0 warms everything up and is discarded; later rounds interleave ours and PyTorch's so that
// both see the same background load.
for (let round = 0; round <= repeats; round++) {
  const t = {
    fused: await timeRun(runners.fused, ids),
    transformer: base ? await base.time("transformer") : NONE,
    standard: await timeRun(runners.standard, ids),
    eager: base ? await base.time("eager") : NONE,
    unset: unset ? await unset.time("transformer") : NONE,
  };
  if (round > 0) for (const [k, v] of Object.entries(t)) times[k].push(v);
}
base?.stop();
unset?.stop();
for (const r of Object.values(runners)) await r.release();

const gflop = flops() / 1e9;
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join("/");
const wall = (k: string) => median(times[k].map((t) => t.wall));
const cpu = (k: string) => median(times[k].map((t) => t.cpu));
for (const variant of ["fused", "standard"]) {
  const t = wall(variant);
  const fields = [`ours=${t.toFixed(3)}`];
  if (base) {
    const b = wall("transformer");
    fields.push(`baseline=${b.toFixed(3)}`, `ratio=${(b / t).toFixed(2)}`);
    fields.push(`baseline_eager=${wall("eager").toFixed(3)}`, `baseline_unset=${wall("unset").toFixed(3)}`);
    fields.push(`baseline_gflops=${(gflop / b).toFixed(1)}`);
  } else fields.push("baseline=skipped");
  fields.push(
    `gflops=${(gflop / t).toFixed(1)}`,
    `tokens_per_s=${((batch * seq) / t).toFixed(0)}`,
    // CPU seconds of all threads per run: less sensitive than wall time to other processes on a
    // shared machine (both sides' idle threads spin a little, which counts too).
    `ours_cpu=${cpu(variant).toFixed(3)}`,
  );
  if (base) fields.push(`baseline_cpu=${cpu("transformer").toFixed(3)}`);
  fields.push(`batch=${batch}`, `seq=${seq}`, `threads=${threads}`, `load=${load}`);
  console.log(`BENCH forward-${variant} ${fields.join(" ")}`);
}
