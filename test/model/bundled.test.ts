import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readModelConfig } from "../../src/model/config.js";
import { TransformerRunner } from "../../src/model/runner.js";
import {
  encodeWords,
  loadTokenizer,
  readTokenizerSettings,
  vocabularyTokenizer,
  type WordTokenizer,
} from "../../src/model/tokenizer/index.js";
import { loadCheckpointWeights, loadSafetensors } from "../../src/model/weights/index.js";

/**
 * The bundled model (models/codeneurons-java-tiny, trained by scripts/train/train_bundled_model.py) must
 * load through the same code path as any Hugging Face checkpoint and compute what PyTorch computes.
 * The references in test/fixtures/bundled/ come from scripts/train/verify_bundled_model.py: token ids from
 * the Python byte-level BPE that trained the vocabulary (itself checked there against tokenizer.json), and
 * every layer's hidden states from scripts/reference/hf_models.py's RoBERTa run in float32 on the float16
 * weights.
 */
const MODEL = join(import.meta.dirname, "../../models/codeneurons-java-tiny");
const FIXTURES = join(import.meta.dirname, "../fixtures/bundled");
// The stored weights are float16 but both sides compute in float32 from the same rounded values, so only
// float32 rounding and op-order differences remain: 1e-3 absolute on hidden states of magnitude ~1–10.
const HIDDEN_TOLERANCE = 1e-3;

interface ReferenceLine {
  text: string;
  words: string[];
  tokens: string[];
  ids: number[];
  word_of_token: number[];
}
interface TokenizationCase {
  line: number;
  text: string;
  ids: number[];
  word_of_token: number[];
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as T;
const reference = readJson<{ lines: ReferenceLine[] }>("reference.json").lines;
const cases = readJson<{ cases: TokenizationCase[] }>("tokenization.json").cases;
const hiddenRef = loadSafetensors(join(FIXTURES, "reference-hidden.safetensors"));

/** wordStarts as the Python side writes it: the word index of every token. */
function wordOfToken(wordStarts: number[]): number[] {
  const out: number[] = [];
  for (let w = 0; w + 1 < wordStarts.length; w++) {
    for (let i = wordStarts[w]; i < wordStarts[w + 1]; i++) out.push(w);
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("bundled model files", () => {
  it("is a float16 RoBERTa in Hugging Face layout, small enough to ship", () => {
    const cfg = readModelConfig(MODEL);
    expect(cfg.modelType).toBe("roberta");
    expect([cfg.numLayers, cfg.hiddenSize, cfg.numHeads]).toEqual([4, 256, 4]);
    expect(cfg.maxSequenceLength).toBe(256);
    expect(statSync(join(MODEL, "model.safetensors")).size).toBeLessThan(8e6);
    const weights = loadCheckpointWeights(MODEL);
    expect(weights.get("roberta.embeddings.word_embeddings.weight")?.sourceDType).toBe("F16");
    // transformers leaves the tied decoder out of the file; lm_head.bias is its bias.
    expect(weights.has("lm_head.decoder.weight")).toBe(false);
    expect(weights.has("lm_head.bias")).toBe(true);
  });
});

describe("bundled tokenizer", () => {
  let json: WordTokenizer;
  let plain: WordTokenizer;
  beforeAll(async () => {
    json = await loadTokenizer(MODEL);
    // The same model through its vocab.json + merges.txt (converted to a tokenizer.json in memory).
    plain = vocabularyTokenizer(MODEL, readTokenizerSettings(MODEL))!;
  });

  it("loads tokenizer.json with RoBERTa's special tokens", () => {
    expect(json.kind).toBe("tokenizer.json");
    expect([json.prefixIds, json.suffixIds, json.padId]).toEqual([[0], [2], 1]);
    expect(json.specialTokens.mask).toBe(4);
    expect(json.maxLength).toBe(256);
    expect(json.vocabSize).toBe(readModelConfig(MODEL).vocabSize);
  });

  it("gives the training tokenizer's ids, through tokenizer.json and through vocab.json + merges.txt", () => {
    // Exact integer equality, word boundaries included.
    const all = [
      ...reference.map((r) => ({ text: r.text, ids: r.ids, word_of_token: r.word_of_token })),
      ...cases,
    ];
    for (const tok of [json, plain]) {
      const bad = all.filter((c) => {
        const enc = encodeWords(tok, c.text.split(" "));
        return (
          JSON.stringify(enc.ids) !== JSON.stringify(c.ids) ||
          JSON.stringify(wordOfToken(enc.wordStarts)) !== JSON.stringify(c.word_of_token)
        );
      });
      expect(bad.map((c) => c.text)).toEqual([]);
    }
    expect(reference[0].tokens.map((_, i) => json.idToToken(reference[0].ids[i]))).toEqual(
      reference[0].tokens,
    );
  });
});

describe("bundled model forward pass", () => {
  let runner: TransformerRunner;
  beforeAll(async () => {
    runner = await TransformerRunner.create(readModelConfig(MODEL), loadCheckpointWeights(MODEL), {
      source: "codeneurons-java-tiny",
    });
  }, 60_000);
  afterAll(async () => runner?.release());

  it("uses every tensor but the LM head", () => {
    expect(runner.layers).toEqual([0, 1, 2, 3, 4]);
    expect(runner.unusedTensors.length).toBeGreaterThan(0);
    expect(runner.unusedTensors.filter((n) => !n.startsWith("lm_head."))).toEqual([]);
  });

  it("matches PyTorch's hidden states on every layer, one line at a time", async () => {
    for (const [i, line] of reference.entries()) {
      const ids = hiddenRef.get(`line${i}.input_ids`)!;
      const want = hiddenRef.get(`line${i}.hidden_states`)!;
      const seq = ids.shape[0];
      expect(Array.from(ids.data)).toEqual([0, ...line.ids, 2]);
      const out = await runner.run({ batch: 1, seq, inputIds: Array.from(ids.data) });
      const size = seq * 256;
      for (let layer = 0; layer <= 4; layer++) {
        const diff = maxAbsDiff(out.hidden.get(layer)!, want.data.subarray(layer * size, (layer + 1) * size));
        expect(diff, `line ${i} layer ${layer}`).toBeLessThan(HIDDEN_TOLERANCE);
      }
    }
  });

  it("gives the same hidden states when the lines are padded into one batch", async () => {
    const seqs = reference.map((_, i) => Array.from(hiddenRef.get(`line${i}.input_ids`)!.data));
    const width = Math.max(...seqs.map((s) => s.length));
    const inputIds = seqs.flatMap((s) => [...s, ...Array(width - s.length).fill(1)]);
    const attentionMask = seqs.flatMap((s) => [
      ...Array(s.length).fill(1),
      ...Array(width - s.length).fill(0),
    ]);
    const out = await runner.run({ batch: seqs.length, seq: width, inputIds, attentionMask });
    for (const [i, s] of seqs.entries()) {
      const want = hiddenRef.get(`line${i}.hidden_states`)!.data;
      const size = s.length * 256;
      for (let layer = 0; layer <= 4; layer++) {
        const row = out.hidden.get(layer)!.subarray(i * width * 256, i * width * 256 + size);
        const diff = maxAbsDiff(row, want.subarray(layer * size, (layer + 1) * size));
        expect(diff, `line ${i} layer ${layer}`).toBeLessThan(HIDDEN_TOLERANCE);
      }
    }
  });
});
