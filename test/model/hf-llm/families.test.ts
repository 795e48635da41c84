import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractActivations } from "../../../src/extract/extract.js";
import { openActivationModel } from "../../../src/extract/model.js";
import { encodeWords, loadTokenizer } from "../../../src/model/tokenizer/index.js";
import {
  encodeSafetensors,
  SafetensorsFile,
  type TensorToWrite,
} from "../../../src/model/weights/safetensors.js";
import { ActivationStore } from "../../../src/store/index.js";
import { float32ToHalfArray, halfArrayToFloat32 } from "../../../src/util/half.js";
import { CLASSIC, FAMILIES, HF_LLM, hfLlmAvailable, type NpyArray, readNpz } from "./reference.js";

/**
 * Word-level activations of every family against transformers 5.17's own (../shared/data/hf-llm): the
 * whole path — tokenizer.json, word alignment, the graph, padded batches of several sentences,
 * subword averaging, the store — for the residual stream after every layer (0 = embeddings, the last
 * after the final norm) and the MLP neurons of every block. Tolerance: 1e-4 absolute in float32, 1e-3
 * for the bfloat16 checkpoint (README of hf-llm); what we measure is about 5e-6.
 */
const work = mkdtempSync(join(tmpdir(), "cn-hf-llm-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  family: string;
  model: string;
  hidden: string;
  mlp: string;
  tol: number;
  weights?: "resident" | "stream";
  /** Small groups: several passes over the blocks, the next group's first block prefetched. */
  groupBytes?: number;
}

const CASES: Case[] = [
  ...[...FAMILIES, ...CLASSIC].map((family) => ({
    family,
    model: "model",
    hidden: "hidden.npz",
    mlp: "mlp.npz",
    tol: 1e-4,
  })),
  { family: "llama", model: "model-bf16", hidden: "hidden-bf16.npz", mlp: "mlp-bf16.npz", tol: 1e-3 },
  // The streaming path (one block's weights at a time, re-read into the same buffers) must agree too.
  { family: "qwen2", model: "model", hidden: "hidden.npz", mlp: "mlp.npz", tol: 1e-4, weights: "stream" },
  { family: "t5", model: "model", hidden: "hidden.npz", mlp: "mlp.npz", tol: 1e-4, weights: "stream" },
  // Gemma's (1 + w) norms and GPT-NeoX's per-head fused QKV are prepared on the prefetching thread.
  { family: "gemma", model: "model", hidden: "hidden.npz", mlp: "mlp.npz", tol: 1e-4, weights: "stream" },
  {
    family: "gpt_neox",
    model: "model",
    hidden: "hidden.npz",
    mlp: "mlp.npz",
    tol: 1e-4,
    weights: "stream",
    groupBytes: 64 * 1024,
  },
  {
    family: "llama",
    model: "model-bf16",
    hidden: "hidden-bf16.npz",
    mlp: "mlp-bf16.npz",
    tol: 1e-3,
    weights: "stream",
    groupBytes: 64 * 1024,
  },
];

function maxDiff(store: ActivationStore, ref: NpyArray[], site: "hidden" | "mlp", firstLayer: number) {
  return (async () => {
    let worst = 0;
    let where = "";
    for (let line = 0; line < ref.length; line++) {
      const [layers, words, width] = ref[line].shape;
      expect(store.words(line).length).toBe(words);
      const rows = Array.from({ length: words }, (_, w) => store.row(line, w));
      for (let l = 0; l < layers; l++) {
        const got = await store.readRows(rows, { layers: [firstLayer + l], site });
        for (let i = 0; i < words * width; i++) {
          const d = Math.abs(got.data[i] - ref[line].data[l * words * width + i]);
          if (d > worst || Number.isNaN(d)) {
            worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
            where = `line ${line} ${site} layer ${firstLayer + l} word ${Math.floor(i / width)} unit ${i % width}`;
          }
        }
      }
    }
    return { worst, where };
  })();
}

describe.skipIf(!hfLlmAvailable())("word activations match transformers (hf-llm references)", () => {
  for (const c of CASES) {
    const label = `${c.family}/${c.model}${c.weights ? ` (${c.weights} weights)` : ""}${c.groupBytes ? " in small groups" : ""}`;
    it(`${label}: tokens, hidden states of every layer and MLP neurons of every block`, async () => {
      const dir = join(HF_LLM, c.family, c.model);
      const input = join(HF_LLM, c.family, "sentences.in");
      const lines = readFileSync(input, "utf8")
        .split("\n")
        .filter((l) => l.length > 0);
      // The tokenizer: transformers' subwords for every line.
      const tok = await loadTokenizer(dir);
      const hfTokens = JSON.parse(
        readFileSync(join(HF_LLM, c.family, "hf_tokens.json"), "utf8"),
      ) as string[][];
      lines.forEach((line, i) => {
        const ids = [...tok.prefixIds, ...encodeWords(tok, line.split(" ")).ids, ...tok.suffixIds];
        expect(
          ids.map((id) => tok.idToToken(id)),
          `line ${i}`,
        ).toEqual(hfTokens[i]);
      });
      const model = await openActivationModel(dir, { sites: ["hidden", "mlp"], weights: c.weights });
      const out = join(work, label.replace(/[^a-z0-9]+/gi, "_"));
      try {
        // Small batches so that the 24 lines are padded into several batches of mixed lengths.
        await extractActivations(model, {
          input,
          out,
          sites: ["hidden", "mlp"],
          batchTokens: 160,
          quiet: true,
        });
      } finally {
        await model.release();
      }
      const store = await ActivationStore.open(out);
      const hidden = await maxDiff(store, readNpz(join(HF_LLM, c.family, c.hidden)), "hidden", 0);
      const mlp = await maxDiff(store, readNpz(join(HF_LLM, c.family, c.mlp)), "mlp", 1);
      expect(hidden.worst, hidden.where).toBeLessThan(c.tol);
      expect(mlp.worst, mlp.where).toBeLessThan(c.tol);
    });
  }
});

describe.skipIf(!hfLlmAvailable())("checkpoint formats of the LLM families", () => {
  /** Writes `tensors` as a two-file sharded safetensors checkpoint with an index, beside the original's other files. */
  function writeSharded(dir: string, tensors: TensorToWrite[]): void {
    const half = Math.ceil(tensors.length / 2);
    const shards = [tensors.slice(0, half), tensors.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(join(dir, file), Buffer.concat(encodeSafetensors(shard)));
      for (const t of shard) weightMap[t.name] = file;
    });
    writeFileSync(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    rmSync(join(dir, "model.safetensors"));
  }

  async function hiddenStates(dir: string): Promise<Float32Array> {
    const input = join(HF_LLM, "llama", "sentences.in");
    const out = join(work, `store-${dir.replace(/[^a-z0-9]+/gi, "_")}`);
    const model = await openActivationModel(dir, { sites: ["hidden", "mlp"] });
    try {
      await extractActivations(model, { input, out, sites: ["hidden", "mlp"], quiet: true });
    } finally {
      await model.release();
    }
    const store = await ActivationStore.open(out);
    const rows = Array.from({ length: store.meta.numRows }, (_, i) => i);
    const hidden = await store.readRows(rows);
    const mlp = await store.readRows(rows, { site: "mlp" });
    return Float32Array.from([...hidden.data, ...mlp.data]);
  }

  it("sharded float32 and float16 safetensors give what the same values in one float32 file give", async () => {
    const original = join(HF_LLM, "llama", "model");
    const source = SafetensorsFile.open(join(original, "model.safetensors"));
    const f32: TensorToWrite[] = [];
    const f16: TensorToWrite[] = [];
    const f16AsF32: TensorToWrite[] = [];
    for (const name of source.names()) {
      const t = source.read(name);
      const bytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      const halves = float32ToHalfArray(t.data);
      f32.push({ name, dtype: "F32", shape: t.shape, bytes: bytes(t.data) });
      f16.push({ name, dtype: "F16", shape: t.shape, bytes: bytes(halves) });
      f16AsF32.push({ name, dtype: "F32", shape: t.shape, bytes: bytes(halfArrayToFloat32(halves)) });
    }
    source.close();
    const copy = (name: string, tensors: TensorToWrite[], sharded: boolean) => {
      const dir = join(work, name);
      cpSync(original, dir, { recursive: true });
      if (sharded) writeSharded(dir, tensors);
      else writeFileSync(join(dir, "model.safetensors"), Buffer.concat(encodeSafetensors(tensors)));
      return dir;
    };
    const reference = await hiddenStates(original);
    expect(await hiddenStates(copy("sharded-f32", f32, true))).toEqual(reference);
    // float16 weights are converted exactly: the same numbers as float32 weights holding those values.
    const roundedReference = await hiddenStates(copy("f16-values-as-f32", f16AsF32, false));
    expect(await hiddenStates(copy("sharded-f16", f16, true))).toEqual(roundedReference);
  });
});
