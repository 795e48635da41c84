/**
 * bench:extract — words/second extracting every hidden state (13 × 768) of a BERT-base-sized model
 * with random weights on the Java lines, against two PyTorch baselines on the same machine, thread
 * count and subword inputs (DESIGN.md, "Benchmarks"):
 *   (a) extract-neurox: NeuroX's way, one sentence at a time;
 *   (b) extract-batched: PyTorch's fastest batched path (nn.TransformerEncoderLayer, inference_mode).
 * The model is generated here (random normal weights, std 0.02; a WordPiece vocabulary of 30,522
 * entries from the Java training lines), so our side never needs Python.
 * Usage: npm run bench:extract [-- --sentences N --neurox-sentences M --runs R]
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { extractActivations } from "../src/extract/extract.js";
import { openActivationModel } from "../src/extract/model.js";
import { threadCount } from "../src/linalg/runtime.js";
import { encodeSafetensors, type TensorToWrite } from "../src/model/weights/safetensors.js";
import { Rng } from "../src/util/rng.js";
import { sharedData } from "../test/data/shared.js";
import {
  appendResult,
  BENCH_DIR,
  benchLine,
  machineInfo,
  median,
  pythonHas,
  runPythonBaseline,
  timeRuns,
  WORK_DIR,
} from "./common.js";

const JAVA_TRAIN = sharedData("java-token-lines/train.in");
const MODEL_DIR = join(WORK_DIR, "bert-base-random");
const CFG = { layers: 12, hidden: 768, heads: 12, intermediate: 3072, vocab: 30522, positions: 512 };

const { values: args } = parseArgs({
  options: {
    sentences: { type: "string", default: "2000" },
    "neurox-sentences": { type: "string", default: "300" },
    runs: { type: "string", default: "3" },
  },
});

/** A WordPiece vocabulary like bert-base's size, from the Java lines (lower-cased, punctuation split). */
function buildVocab(lines: string[]): string[] {
  const counts = new Map<string, number>();
  const chars = new Map<string, number>();
  for (const line of lines) {
    for (const word of line.toLowerCase().split(/\s+/)) {
      for (const piece of word.split(/([!-/:-@[-`{-~])/).filter(Boolean)) {
        counts.set(piece, (counts.get(piece) ?? 0) + 1);
        for (const ch of piece) chars.set(ch, (chars.get(ch) ?? 0) + 1);
      }
    }
  }
  const vocab = [
    "[PAD]",
    ...Array.from({ length: 99 }, (_, i) => `[unused${i}]`),
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
  ];
  const seen = new Set(vocab);
  const add = (t: string) => {
    if (!seen.has(t) && vocab.length < CFG.vocab) {
      vocab.push(t);
      seen.add(t);
    }
  };
  for (const [ch] of [...chars].sort((a, b) => b[1] - a[1])) {
    add(ch);
    add(`##${ch}`);
  }
  for (const [piece] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) add(piece);
  for (let i = 0; vocab.length < CFG.vocab; i++) add(`[unused_fill${i}]`);
  return vocab;
}

function randomTensor(
  rng: Rng,
  name: string,
  shape: number[],
  kind: "normal" | "ones" | "zeros",
): TensorToWrite {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  if (kind === "ones") data.fill(1);
  else if (kind === "normal") for (let i = 0; i < n; i++) data[i] = rng.normal() * 0.02;
  return { name, dtype: "F32", shape, bytes: new Uint8Array(data.buffer) };
}

async function ensureModel(lines: string[]): Promise<void> {
  if (existsSync(join(MODEL_DIR, "model.safetensors"))) return;
  process.stderr.write(`building a random BERT-base model in ${MODEL_DIR}\n`);
  await mkdir(MODEL_DIR, { recursive: true });
  const rng = new Rng(0);
  const h = CFG.hidden;
  const t: TensorToWrite[] = [];
  const linear = (prefix: string, out: number, inp: number) => {
    t.push(
      randomTensor(rng, `${prefix}.weight`, [out, inp], "normal"),
      randomTensor(rng, `${prefix}.bias`, [out], "zeros"),
    );
  };
  const norm = (prefix: string) => {
    t.push(
      randomTensor(rng, `${prefix}.weight`, [h], "ones"),
      randomTensor(rng, `${prefix}.bias`, [h], "zeros"),
    );
  };
  t.push(randomTensor(rng, "bert.embeddings.word_embeddings.weight", [CFG.vocab, h], "normal"));
  t.push(randomTensor(rng, "bert.embeddings.position_embeddings.weight", [CFG.positions, h], "normal"));
  t.push(randomTensor(rng, "bert.embeddings.token_type_embeddings.weight", [2, h], "normal"));
  norm("bert.embeddings.LayerNorm");
  for (let l = 0; l < CFG.layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    for (const m of ["query", "key", "value"]) linear(`${p}.attention.self.${m}`, h, h);
    linear(`${p}.attention.output.dense`, h, h);
    norm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, CFG.intermediate, h);
    linear(`${p}.output.dense`, h, CFG.intermediate);
    norm(`${p}.output.LayerNorm`);
  }
  await writeFile(
    join(MODEL_DIR, "model.safetensors"),
    Buffer.concat(encodeSafetensors(t, { format: "pt" })),
  );
  await writeFile(join(MODEL_DIR, "vocab.txt"), `${buildVocab(lines).join("\n")}\n`);
  const config = {
    model_type: "bert",
    architectures: ["BertModel"],
    vocab_size: CFG.vocab,
    hidden_size: h,
    num_hidden_layers: CFG.layers,
    num_attention_heads: CFG.heads,
    intermediate_size: CFG.intermediate,
    hidden_act: "gelu",
    max_position_embeddings: CFG.positions,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
  };
  await writeFile(join(MODEL_DIR, "config.json"), JSON.stringify(config, null, 2));
  await writeFile(
    join(MODEL_DIR, "tokenizer_config.json"),
    JSON.stringify({ tokenizer_class: "BertTokenizer", do_lower_case: true, model_max_length: 512 }),
  );
}

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
  times: number[];
  sentences: number;
  words: number;
  subwords: number;
}

async function main(): Promise<void> {
  const n = Number(args.sentences);
  const m = Number(args["neurox-sentences"]);
  const runs = Number(args.runs);
  const all = readFileSync(JAVA_TRAIN, "utf8").split("\n");
  await ensureModel(all);
  const lines = all.filter((l) => l.trim() !== "").slice(0, n);
  const input = join(WORK_DIR, `extract-input-${n}.txt`);
  const small = join(WORK_DIR, `extract-input-${m}.txt`);
  await writeFile(input, `${lines.join("\n")}\n`);
  await writeFile(small, `${lines.slice(0, m).join("\n")}\n`);
  const threads = threadCount();
  const model = await openActivationModel(MODEL_DIR, { threads });
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
  const batchTokens = 1024; // our default; the baselines batch the same way
  const idsFile = join(WORK_DIR, `extract-ids-${n}.json`);
  await writeFile(idsFile, JSON.stringify({ batchTokens, sentences }));

  // A fresh store each run: an existing one with the same plan would be resumed, not recomputed.
  const extract = async (file: string, out: string) => {
    await rm(out, { recursive: true, force: true });
    return extractActivations(model, { input: file, out, quiet: true, batchTokens });
  };
  const ours = await timeRuns(() => extract(input, join(WORK_DIR, "extract-store")), runs, 1);
  const oursSmall = await timeRuns(() => extract(small, join(WORK_DIR, "extract-store-small")), runs);
  const peakMb = process.resourceUsage().maxRSS / 1024;
  await model.release();
  const flops = forwardFlops(sentences.map((s) => s.ids.length));
  const gflops = (sec: number) => flops / sec / 1e9;
  const smallWords = sentences.slice(0, m).reduce((s, x) => s + x.spans.length, 0);

  let batched: BaselineResult | null = null;
  let neurox: BaselineResult | null = null;
  if (pythonHas(["torch", "numpy"])) {
    const script = join(BENCH_DIR, "extract_baseline.py");
    batched = await runPythonBaseline<BaselineResult>(script, [
      MODEL_DIR,
      idsFile,
      "batched",
      String(threads),
      String(runs),
    ]);
    neurox = await runPythonBaseline<BaselineResult>(script, [
      MODEL_DIR,
      idsFile,
      "neurox",
      String(threads),
      "1",
      String(m),
    ]);
  } else process.stderr.write("python3 with torch not found: baselines skipped\n");

  const common = { threads, layers: CFG.layers + 1, hidden: CFG.hidden };
  const lineA = benchLine("extract-neurox", oursSmall.median, neurox?.seconds ?? null, {
    sentences: m,
    words: smallWords,
    ours_words_per_s: smallWords / oursSmall.median,
    baseline_subwords_per_s: neurox ? neurox.subwords / neurox.seconds : "skipped",
    ...common,
  });
  const lineB = benchLine("extract-batched", ours.median, batched?.seconds ?? null, {
    sentences: n,
    words,
    subwords,
    ours_words_per_s: words / ours.median,
    ours_subwords_per_s: subwords / ours.median,
    ours_gflops: gflops(ours.median),
    baseline_subwords_per_s: batched ? subwords / batched.seconds : "skipped",
    baseline_gflops: batched ? gflops(batched.seconds) : "skipped",
    peak_mb_ours: Math.round(peakMb),
    ...common,
  });
  await appendResult("extract", {
    lines: [lineA, lineB],
    ours: { times: ours.times, smallTimes: oursSmall.times, peakMb },
    neurox,
    batched,
    words,
    subwords,
    machine: machineInfo(),
  });
  process.stderr.write(`medians: ours ${median(ours.times).toFixed(2)} s for ${words} words\n`);
}

await main();
