import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ropeFrequencies } from "../../src/model/arch/rope.js";
import { type ModelConfig, readModelConfig } from "../../src/model/config.js";
import { loadTokenizer } from "../../src/model/tokenizer/index.js";
import type { FuzzTarget } from "./harness.js";

/**
 * Fuzz targets for config.json (BERT / RoBERTa / GPT-2 and the nine block-streamed families, in both
 * config styles) and tokenizer.json (WordPiece, byte-level BPE, Metaspace BPE). Both are JSON: most
 * mutations edit the parsed document (types, boundary numbers, missing and renamed keys).
 */
const SEEDS = join(import.meta.dirname, "seeds");
const TOKENIZERS = join(import.meta.dirname, "../fixtures/tokenizers");

export interface JsonFileInput {
  /** Which seed the text came from (a config name or a tokenizer fixture). */
  name: string;
  text: string;
}

// ---- config.json ----

/**
 * A parsed config must be usable: positive integer sizes and finite numbers. A config that parses
 * into NaN or a zero size would be silently wrong, so it fails the case like a crash does.
 */
function checkConfig(cfg: ModelConfig): void {
  const sizes = {
    hiddenSize: cfg.hiddenSize,
    numLayers: cfg.numLayers,
    numHeads: cfg.numHeads,
    headSize: cfg.headSize,
    intermediateSize: cfg.intermediateSize,
    maxSequenceLength: cfg.maxSequenceLength,
    vocabSize: cfg.vocabSize,
  };
  for (const [field, v] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`invalid config accepted: ${field} = ${v}`);
  }
  if (!Number.isFinite(cfg.layerNormEps))
    throw new Error(`invalid config accepted: layerNormEps = ${cfg.layerNormEps}`);
  const rope = cfg.blocks?.rope;
  // Frequencies are computed per forward pass; rotaryDim is bounded by the head size, so only
  // plausible heads are tried here (a huge hidden_size fails later against the checkpoint's shapes).
  if (rope && rope.rotaryDim <= 65536) {
    const { invFreq, scale } = ropeFrequencies(rope, 16);
    if (!Number.isFinite(scale) || !invFreq.every(Number.isFinite)) {
      throw new Error(`invalid config accepted: RoPE frequencies are not finite (${rope.type})`);
    }
  }
}

export function configTarget(): FuzzTarget<JsonFileInput> {
  let dir = "";
  return {
    name: "config.json",
    setup: () => {
      dir = mkdtempSync(join(tmpdir(), "cn-fuzz-cfg-"));
    },
    teardown: () => rmSync(dir, { recursive: true, force: true }),
    seeds: () =>
      readdirSync(join(SEEDS, "config"))
        .sort()
        .map((f) => ({ name: f, text: readFileSync(join(SEEDS, "config", f), "utf8") })),
    mutate: (seed, m) => ({ ...seed, text: m.jsonText(seed.text, true) }),
    known: [],
    run: (input) => {
      writeFileSync(join(dir, "config.json"), input.text);
      const cfg = readModelConfig(dir);
      checkConfig(cfg);
      return cfg;
    },
    show: (input) => input.text,
  };
}

// ---- tokenizer.json ----

const FIXTURES = [
  "wordpiece-uncased-json",
  "wordpiece-cased-json",
  "bpe-roberta-json",
  "bpe-gpt2-json",
  "bpe-prefix-json",
  "metaspace-json",
];
/** Words tokenized after loading: code, spaces inside a word, non-ASCII, emoji. */
const SAMPLE = ["public", "static", "void", "(", "String[]", "a b", "é中😀", "<s>", "[CLS]", ""];

export function tokenizerTarget(): FuzzTarget<JsonFileInput> {
  let root = "";
  return {
    name: "tokenizer.json",
    setup: () => {
      root = mkdtempSync(join(tmpdir(), "cn-fuzz-tok-"));
      // One copy of each fixture (its tokenizer_config.json stays), tokenizer.json rewritten per case.
      for (const f of FIXTURES) cpSync(join(TOKENIZERS, f), join(root, f), { recursive: true });
    },
    teardown: () => rmSync(root, { recursive: true, force: true }),
    seeds: () =>
      FIXTURES.map((f) => ({ name: f, text: readFileSync(join(TOKENIZERS, f, "tokenizer.json"), "utf8") })),
    mutate: (seed, m) => ({ ...seed, text: m.jsonText(seed.text) }),
    run: async (input) => {
      const dir = join(root, input.name);
      writeFileSync(join(dir, "tokenizer.json"), input.text);
      const tok = await loadTokenizer(dir);
      for (const [i, w] of SAMPLE.entries()) {
        for (const id of tok.tokenizeWord(w, i === 0)) {
          if (!Number.isSafeInteger(id) || id < 0 || id >= tok.vocabSize) {
            throw new Error(
              `tokenizer gave id ${id} for ${JSON.stringify(w)} (vocabulary of ${tok.vocabSize})`,
            );
          }
        }
      }
      return tok;
    },
    show: (input) => `${input.name}:${input.text}`,
  };
}
