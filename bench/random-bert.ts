/**
 * The random BERT-base of the benchmarks (bench:extract, bench:pipeline): bert-base's shapes, weights
 * drawn from N(0, 0.02) with seed 0, a WordPiece vocabulary built from the Java lines. Random weights
 * time the same work as trained ones; no checkpoint has to be downloaded.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeSafetensors, type TensorToWrite } from "../src/model/weights/safetensors.js";
import { Rng } from "../src/util/rng.js";
import { WORK_DIR } from "./common.js";

export const RANDOM_BERT_DIR = join(WORK_DIR, "bert-base-random");
export const RANDOM_BERT_CONFIG = {
  layers: 12,
  hidden: 768,
  heads: 12,
  intermediate: 3072,
  vocab: 30522,
  positions: 512,
};
const CFG = RANDOM_BERT_CONFIG;

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

/**
 * Builds the random BERT-base in bench/work/bert-base-random once (seed 0; its vocabulary from `lines`,
 * the paper's Java train lines): bench:extract and bench:pipeline both use it, and each builds it when
 * it is missing (a fresh clone).
 */
export async function ensureRandomBert(lines: string[], dir = RANDOM_BERT_DIR): Promise<string> {
  const MODEL_DIR = dir;
  if (existsSync(join(MODEL_DIR, "model.safetensors"))) return MODEL_DIR;
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
  return MODEL_DIR;
}
