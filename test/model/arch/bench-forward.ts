/**
 * Forward-pass speed of a BERT-base-sized random model (12 layers, 768 hidden, 12 heads, 3072
 * intermediate, all 13 hidden states kept) on onnxruntime, against PyTorch on the same machine, thread
 * count and batch shape, measured in the same run (forward_baseline.py; OPENBLAS_* unset for it only).
 *
 *   npx tsx test/model/arch/bench-forward.ts [batch=32] [seq=32] [threads=2] [repeats=5]
 *
 * Prints `BENCH forward-<variant> ours=<median s> baseline=<median s> ratio=<baseline/ours> …` lines, the
 * baseline being PyTorch's nn.TransformerEncoderLayer fast path (its fastest batched inference); the
 * eager hf_models.BertModel figure is printed as baseline_eager.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseModelConfig } from "../../../src/model/config.js";
import { TransformerRunner } from "../../../src/model/runner.js";
import type { TensorMap } from "../../../src/model/weights/tensor.js";
import { Rng } from "../../../src/util/rng.js";

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

async function timeOurs(weights: TensorMap, fused: boolean): Promise<number[]> {
  const runner = await TransformerRunner.create(config, weights, { fused, threads });
  const rng = new Rng(7);
  const ids = Array.from({ length: batch * seq }, () => 5 + rng.int(config.vocabSize - 5));
  await runner.run({ batch, seq, inputIds: ids });
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    await runner.run({ batch, seq, inputIds: ids });
    times.push((performance.now() - t) / 1000);
  }
  await runner.release();
  return times;
}

function timeBaseline(): { eager: number[]; transformer: number[] } | null {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const script = join(here, "forward_baseline.py");
  const r = spawnSync("/usr/bin/python3", [script, ...[batch, seq, threads, repeats].map(String)], {
    env,
    encoding: "utf8",
  });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    return null;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const weights = randomWeights(new Rng(1));
const ours = { fused: await timeOurs(weights, true), standard: await timeOurs(weights, false) };
const base = timeBaseline();
const gflop = flops() / 1e9;
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join("/");
for (const [variant, times] of Object.entries(ours)) {
  const t = median(times);
  const fields = [`ours=${t.toFixed(3)}`];
  if (base) {
    const b = median(base.transformer);
    fields.push(`baseline=${b.toFixed(3)}`, `ratio=${(b / t).toFixed(2)}`);
    fields.push(`baseline_eager=${median(base.eager).toFixed(3)}`);
  } else fields.push("baseline=skipped");
  fields.push(
    `gflops=${(gflop / t).toFixed(1)}`,
    `tokens_per_s=${((batch * seq) / t).toFixed(0)}`,
    `batch=${batch}`,
    `seq=${seq}`,
    `threads=${threads}`,
    `load=${load}`,
  );
  if (base) fields.push(`baseline_gflops=${(gflop / median(base.transformer)).toFixed(1)}`);
  console.log(`BENCH forward-${variant} ${fields.join(" ")}`);
}
