import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BLOCK_MODEL_TYPES,
  type BlockArchitecture,
  type ModelConfig,
  parseModelConfig,
  type RopeSettings,
  readModelConfig,
} from "../../../src/model/config.js";
import { InputError, UserError } from "../../../src/util/errors.js";
import { HF_LLM, hfLlmAvailable } from "../hf-llm/reference.js";

/**
 * config.json of the nine block-streamed families: the tiny checkpoints transformers 5.17 wrote
 * (../shared/data/hf-llm, `rope_parameters` style), config.json files of hub checkpoints as
 * transformers 4 wrote them (top-level rope_theta / rope_scaling, rotary_pct, n_embd, hidden_activation,
 * …), and the errors for what codeneurons does not run.
 */

type Json = Record<string, unknown>;

function blocks(c: ModelConfig): BlockArchitecture {
  if (!c.blocks) throw new Error(`${c.modelType}: no block description`);
  return c.blocks;
}

function rope(c: ModelConfig): RopeSettings {
  const r = blocks(c).rope;
  if (!r) throw new Error(`${c.modelType}: no rope settings`);
  return r;
}

const parse = (cfg: Json, file = "m/config.json") => parseModelConfig(cfg, file);

// --- the tiny transformers 5.17 checkpoints ---------------------------------------------------------

interface Expected {
  heads: number;
  kv: number;
  headDim: number;
  intermediate: number;
  norm: BlockArchitecture["norm"];
  eps: number;
  qkvBias: boolean;
  outputBias: boolean;
  mlp: BlockArchitecture["mlp"];
  mlpBias: boolean;
  activation: string;
  positions: BlockArchitecture["positions"];
  rotaryDim: number | null;
  windows: (number | null)[];
  embeddingScale: number | null;
  causal: boolean;
  parallelResidual: boolean;
  tie: boolean;
}

const LLAMA_LIKE: Expected = {
  heads: 4,
  kv: 2,
  headDim: 16,
  intermediate: 128,
  norm: "rms",
  eps: 1e-5,
  qkvBias: false,
  outputBias: false,
  mlp: "gated",
  mlpBias: false,
  activation: "silu",
  positions: "rope",
  rotaryDim: 16,
  windows: [null, null, null],
  embeddingScale: null,
  causal: true,
  parallelResidual: false,
  tie: false,
};

const TINY: Record<(typeof BLOCK_MODEL_TYPES)[number], Expected> = {
  llama: LLAMA_LIKE,
  mistral: { ...LLAMA_LIKE, eps: 1e-6, windows: [16, 16, 16] },
  // Qwen2: biases on q / k / v but not on o_proj.
  qwen2: { ...LLAMA_LIKE, eps: 1e-6, qkvBias: true },
  starcoder2: {
    ...LLAMA_LIKE,
    norm: "layer",
    qkvBias: true,
    outputBias: true,
    mlp: "plain",
    mlpBias: true,
    activation: "gelu_pytorch_tanh",
    tie: true,
  },
  gemma: {
    ...LLAMA_LIKE,
    kv: 1,
    norm: "rms_one_plus",
    eps: 1e-6,
    activation: "gelu_pytorch_tanh",
    embeddingScale: 8,
    tie: true,
  },
  phi3: { ...LLAMA_LIKE, kv: 4 },
  gpt_bigcode: {
    ...LLAMA_LIKE,
    kv: 1,
    norm: "layer",
    qkvBias: true,
    outputBias: true,
    mlp: "plain",
    mlpBias: true,
    activation: "gelu_pytorch_tanh",
    positions: "learned",
    rotaryDim: null,
    tie: true,
  },
  // Pythia: 25% of each head rotates (rope_parameters.partial_rotary_factor 0.25 of head_dim 16).
  gpt_neox: {
    ...LLAMA_LIKE,
    kv: 4,
    norm: "layer",
    qkvBias: true,
    outputBias: true,
    mlp: "plain",
    mlpBias: true,
    activation: "gelu",
    rotaryDim: 4,
    parallelResidual: true,
  },
  t5: {
    ...LLAMA_LIKE,
    kv: 4,
    eps: 1e-6,
    mlp: "plain",
    activation: "relu",
    positions: "relative",
    rotaryDim: null,
    causal: false,
    tie: true,
  },
};

describe.skipIf(!hfLlmAvailable())("config.json of the tiny checkpoints transformers 5.17 wrote", () => {
  for (const family of BLOCK_MODEL_TYPES) {
    it(family, () => {
      const dir = join(HF_LLM, family, "model");
      const c = readModelConfig(dir);
      const b = blocks(c);
      const want = TINY[family];
      expect(c.modelType).toBe(family);
      expect(c.source).toBe(join(dir, "config.json"));
      expect([c.hiddenSize, c.numLayers, c.vocabSize, c.maxPositions]).toEqual([64, 3, 2500, 512]);
      expect({
        heads: c.numHeads,
        kv: b.numKvHeads,
        headDim: b.headDim,
        intermediate: c.intermediateSize,
        norm: b.norm,
        eps: b.normEps,
        qkvBias: b.qkvBias,
        outputBias: b.outputBias,
        mlp: b.mlp,
        mlpBias: b.mlpBias,
        activation: c.activation,
        positions: b.positions,
        rotaryDim: b.rope?.rotaryDim ?? null,
        windows: b.slidingWindows,
        embeddingScale: b.embeddingScale,
        causal: c.causal,
        parallelResidual: b.parallelResidual,
        tie: b.tieWordEmbeddings,
      }).toEqual(want);
      expect(c.headSize).toBe(b.headDim);
      expect(c.layerNormEps).toBe(b.normEps);
      // head_dim^-0.5, except T5 which folds the scale into its weights.
      expect(b.attentionScale).toBe(family === "t5" ? 1 : 0.25);
      if (b.rope) {
        expect(b.rope).toMatchObject({ type: "default", theta: 10000, frequencyDType: "float32" });
      }
      expect(b.relative).toEqual(
        family === "t5" ? { numBuckets: 32, maxDistance: 128, bidirectional: true } : null,
      );
    });
  }

  it("special token ids as written", () => {
    const ids = (family: string) => {
      const c = readModelConfig(join(HF_LLM, family, "model"));
      return [c.bosTokenId, c.eosTokenId, c.padTokenId];
    };
    expect(ids("llama")).toEqual([1, 2, null]);
    expect(ids("qwen2")).toEqual([null, null, null]);
    expect(ids("gemma")).toEqual([2, 1, 0]);
    expect(ids("phi3")).toEqual([1, 32000, 3]);
    expect(ids("t5")).toEqual([null, 1, 0]);
  });
});

// --- config.json of hub checkpoints, transformers 4 style --------------------------------------------

const LLAMA2_7B = {
  architectures: ["LlamaForCausalLM"],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 11008,
  max_position_embeddings: 4096,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  tie_word_embeddings: false,
  torch_dtype: "float16",
  transformers_version: "4.31.0.dev0",
  use_cache: true,
  vocab_size: 32000,
};
const CODELLAMA_7B = { ...LLAMA2_7B, max_position_embeddings: 16384, rope_theta: 1000000, vocab_size: 32016 };
const LLAMA31_8B = {
  ...LLAMA2_7B,
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  intermediate_size: 14336,
  max_position_embeddings: 131072,
  mlp_bias: false,
  num_key_value_heads: 8,
  rope_scaling: {
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  torch_dtype: "bfloat16",
  transformers_version: "4.43.0.dev0",
  vocab_size: 128256,
};
const MISTRAL_7B = {
  architectures: ["MistralForCausalLM"],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: "mistral",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  transformers_version: "4.34.0.dev0",
  use_cache: true,
  vocab_size: 32000,
};
const QWEN25_CODER_7B = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: "silu",
  hidden_size: 3584,
  initializer_range: 0.02,
  intermediate_size: 18944,
  max_position_embeddings: 32768,
  max_window_layers: 28,
  model_type: "qwen2",
  num_attention_heads: 28,
  num_hidden_layers: 28,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  transformers_version: "4.44.0",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 152064,
};
const QWEN25_CODER_7B_INSTRUCT = {
  ...QWEN25_CODER_7B,
  rope_scaling: { factor: 4.0, original_max_position_embeddings: 32768, type: "yarn" },
};
const STARCODER2_3B = {
  architectures: ["Starcoder2ForCausalLM"],
  attention_dropout: 0.1,
  bos_token_id: 0,
  embedding_dropout: 0.1,
  eos_token_id: 0,
  hidden_act: "gelu_pytorch_tanh",
  hidden_size: 3072,
  initializer_range: 0.018042,
  intermediate_size: 12288,
  max_position_embeddings: 16384,
  mlp_type: "default",
  model_type: "starcoder2",
  norm_epsilon: 1e-5,
  norm_type: "layer_norm",
  num_attention_heads: 24,
  num_hidden_layers: 30,
  num_key_value_heads: 2,
  residual_dropout: 0.1,
  rope_theta: 999999.4420358813,
  sliding_window: 4096,
  torch_dtype: "bfloat16",
  transformers_version: "4.37.0.dev0",
  use_bias: true,
  use_cache: true,
  vocab_size: 49152,
};
const GEMMA_7B = {
  architectures: ["GemmaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 2,
  eos_token_id: 1,
  head_dim: 256,
  hidden_act: "gelu",
  hidden_activation: "gelu_pytorch_tanh",
  hidden_size: 3072,
  initializer_range: 0.02,
  intermediate_size: 24576,
  max_position_embeddings: 8192,
  model_type: "gemma",
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 16,
  pad_token_id: 0,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 10000.0,
  torch_dtype: "bfloat16",
  transformers_version: "4.38.0.dev0",
  use_cache: true,
  vocab_size: 256000,
};
const GEMMA_2B = {
  ...GEMMA_7B,
  hidden_size: 2048,
  intermediate_size: 16384,
  num_attention_heads: 8,
  num_key_value_heads: 1,
  num_hidden_layers: 18,
};
const longFactors = (n: number, from: number, to: number) =>
  Array.from({ length: n }, (_, i) => Math.round((from + ((to - from) * i) / (n - 1)) * 1e4) / 1e4);
const PHI3_MINI_128K = {
  architectures: ["Phi3ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 1,
  embd_pdrop: 0.0,
  eos_token_id: 32000,
  hidden_act: "silu",
  hidden_size: 3072,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  model_type: "phi3",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  original_max_position_embeddings: 4096,
  pad_token_id: 32000,
  resid_pdrop: 0.0,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    long_factor: longFactors(48, 1, 60),
    short_factor: longFactors(48, 1, 1.2),
    type: "longrope",
  },
  rope_theta: 10000.0,
  sliding_window: 262144,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  transformers_version: "4.40.2",
  use_cache: true,
  vocab_size: 32064,
};
const STARCODERBASE_1B = {
  activation_function: "gelu_pytorch_tanh",
  architectures: ["GPTBigCodeForCausalLM"],
  attention_softmax_in_fp32: true,
  attn_pdrop: 0.1,
  bos_token_id: 0,
  embd_pdrop: 0.1,
  eos_token_id: 0,
  inference_runner: 0,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  max_batch_size: null,
  max_sequence_length: null,
  model_type: "gpt_bigcode",
  multi_query: true,
  n_embd: 2048,
  n_head: 16,
  n_inner: 8192,
  n_layer: 24,
  n_positions: 8192,
  pad_key_length: true,
  pre_allocate_kv_cache: false,
  resid_pdrop: 0.1,
  scale_attention_softmax_in_fp32: true,
  scale_attn_weights: true,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: "cls_index",
  summary_use_proj: true,
  torch_dtype: "float32",
  transformers_version: "4.28.1",
  use_cache: true,
  validate_runner_input: true,
  vocab_size: 49152,
};
const PYTHIA_160M = {
  architectures: ["GPTNeoXForCausalLM"],
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: "gelu",
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 2048,
  model_type: "gpt_neox",
  num_attention_heads: 12,
  num_hidden_layers: 12,
  rotary_emb_base: 10000,
  rotary_pct: 0.25,
  tie_word_embeddings: false,
  torch_dtype: "float16",
  transformers_version: "4.24.0",
  use_cache: true,
  use_parallel_residual: true,
  vocab_size: 50304,
};
const CODET5_BASE = {
  architectures: ["T5ForConditionalGeneration"],
  d_ff: 3072,
  d_kv: 64,
  d_model: 768,
  decoder_start_token_id: 0,
  dropout_rate: 0.1,
  eos_token_id: 2,
  feed_forward_proj: "relu",
  initializer_factor: 1.0,
  is_encoder_decoder: true,
  layer_norm_epsilon: 1e-6,
  model_type: "t5",
  n_positions: 512,
  num_decoder_layers: 12,
  num_heads: 12,
  num_layers: 12,
  pad_token_id: 0,
  relative_attention_num_buckets: 32,
  torch_dtype: "float32",
  transformers_version: "4.9.2",
  use_cache: true,
  vocab_size: 32100,
};
const FLAN_T5_BASE = {
  ...CODET5_BASE,
  architectures: ["T5ForConditionalGeneration"],
  d_ff: 2048,
  eos_token_id: 1,
  feed_forward_proj: "gated-gelu",
  relative_attention_max_distance: 128,
  tie_word_embeddings: false,
  vocab_size: 32128,
};

describe("transformers 4 configs of hub checkpoints (top-level rope_theta / rope_scaling)", () => {
  it("Llama 2, CodeLlama: rope_theta at the top level, rope_scaling null; float16 checkpoint", () => {
    const l2 = parse(LLAMA2_7B);
    expect(rope(l2)).toMatchObject({
      type: "default",
      theta: 10000,
      rotaryDim: 128,
      frequencyDType: "float16",
    });
    expect([l2.numHeads, blocks(l2).numKvHeads, blocks(l2).headDim, l2.intermediateSize]).toEqual([
      32, 32, 128, 11008,
    ]);
    expect(blocks(l2).slidingWindows).toEqual(new Array(32).fill(null));
    expect(rope(parse(CODELLAMA_7B))).toMatchObject({ type: "default", theta: 1000000, maxPositions: 16384 });
  });

  it("Llama 3.1: llama3 rope_scaling, GQA, a list of eos ids (the first is used)", () => {
    const c = parse(LLAMA31_8B);
    expect(rope(c)).toMatchObject({
      type: "llama3",
      theta: 500000,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositions: 8192,
      maxPositions: 131072,
      frequencyDType: "bfloat16",
    });
    expect(blocks(c).numKvHeads).toBe(8);
    expect([c.bosTokenId, c.eosTokenId]).toEqual([128000, 128001]);
    expect(parse({ ...LLAMA31_8B, eos_token_id: [] }).eosTokenId).toBe(null);
  });

  it("rope_scaling {type: linear}, {type: dynamic}, {type: yarn}, {type: longrope | su}", () => {
    expect(rope(parse({ ...LLAMA2_7B, rope_scaling: { type: "linear", factor: 2 } }))).toMatchObject({
      type: "linear",
      factor: 2,
      theta: 10000,
    });
    expect(rope(parse({ ...LLAMA2_7B, rope_scaling: { type: "dynamic", factor: 2.5 } }))).toMatchObject({
      type: "dynamic",
      factor: 2.5,
      maxPositions: 4096,
    });
    // Qwen2.5 Instruct: yarn with factor 4 over the 32768 positions it was trained with.
    expect(rope(parse(QWEN25_CODER_7B_INSTRUCT))).toMatchObject({
      type: "yarn",
      factor: 4,
      originalMaxPositions: 32768,
      theta: 1000000,
      attentionFactor: null,
      betaFast: 32,
      betaSlow: 1,
      truncate: true,
    });
    const phi3 = rope(parse(PHI3_MINI_128K));
    expect(phi3).toMatchObject({ type: "longrope", originalMaxPositions: 4096, factor: 32, rotaryDim: 96 });
    expect(phi3.longFactor).toEqual(PHI3_MINI_128K.rope_scaling.long_factor);
    expect(phi3.shortFactor).toEqual(PHI3_MINI_128K.rope_scaling.short_factor);
    // Phi-3's first releases called longrope "su".
    const su = rope(
      parse({ ...PHI3_MINI_128K, rope_scaling: { ...PHI3_MINI_128K.rope_scaling, type: "su" } }),
    );
    expect(su).toEqual(phi3);
  });

  it("Mistral: sliding_window on every layer; Qwen2: from max_window_layers on, only with use_sliding_window", () => {
    expect(blocks(parse(MISTRAL_7B)).slidingWindows).toEqual(new Array(32).fill(4096));
    expect(blocks(parse({ ...MISTRAL_7B, sliding_window: null })).slidingWindows).toEqual(
      new Array(32).fill(null),
    );
    expect(blocks(parse(STARCODER2_3B)).slidingWindows).toEqual(new Array(30).fill(4096));
    expect(blocks(parse(PHI3_MINI_128K)).slidingWindows).toEqual(new Array(32).fill(262144));
    // Qwen2.5: sliding_window is stated but use_sliding_window is false.
    expect(blocks(parse(QWEN25_CODER_7B)).slidingWindows).toEqual(new Array(28).fill(null));
    const qwen = {
      ...QWEN25_CODER_7B,
      num_hidden_layers: 5,
      use_sliding_window: true,
      sliding_window: 64,
      max_window_layers: 3,
    };
    expect(blocks(parse(qwen)).slidingWindows).toEqual([null, null, null, 64, 64]);
    expect(blocks(parse({ ...qwen, max_window_layers: 0 })).slidingWindows).toEqual(new Array(5).fill(64));
    expect(blocks(parse({ ...qwen, sliding_window: null })).slidingWindows).toEqual(new Array(5).fill(null));
  });

  it("Qwen2 in transformers 5: layer_types names each layer", () => {
    const lt = ["full_attention", "sliding_attention", "full_attention", "sliding_attention"];
    const qwen = {
      ...QWEN25_CODER_7B,
      num_hidden_layers: 4,
      sliding_window: 32,
      layer_types: lt,
      use_sliding_window: true,
    };
    expect(blocks(parse(qwen)).slidingWindows).toEqual([null, 32, null, 32]);
    // layer_types wins over use_sliding_window / max_window_layers (transformers derives it from them).
    expect(
      blocks(parse({ ...qwen, use_sliding_window: false, max_window_layers: 99 })).slidingWindows,
    ).toEqual([null, 32, null, 32]);
    // The tiny Qwen2 checkpoint: three full_attention layers and sliding_window null.
    expect(
      blocks(parse({ ...qwen, layer_types: new Array(4).fill("full_attention"), sliding_window: null }))
        .slidingWindows,
    ).toEqual(new Array(4).fill(null));
    // A longer list than layers is cut to the layers.
    expect(blocks(parse({ ...qwen, num_hidden_layers: 2 })).slidingWindows).toEqual([null, 32]);
  });

  it("StarCoder2: LayerNorm with bias, plain GELU MLP, biases everywhere (use_bias)", () => {
    const c = parse(STARCODER2_3B);
    expect(blocks(c)).toMatchObject({
      norm: "layer",
      normEps: 1e-5,
      mlp: "plain",
      qkvBias: true,
      outputBias: true,
      mlpBias: true,
      numKvHeads: 2,
      headDim: 128,
      tieWordEmbeddings: true,
    });
    expect(rope(c).theta).toBe(999999.4420358813);
    expect(c.activation).toBe("gelu_pytorch_tanh");
    expect(blocks(parse({ ...STARCODER2_3B, use_bias: false }))).toMatchObject({
      qkvBias: false,
      outputBias: false,
      mlpBias: false,
    });
  });

  it("Gemma: hidden_activation wins over hidden_act, head_dim ≠ hidden / heads, embeddings × √hidden in float32", () => {
    const c = parse(GEMMA_7B);
    expect(c.activation).toBe("gelu_pytorch_tanh");
    expect(c.activationKind).toBe("gelu_tanh");
    expect(blocks(c)).toMatchObject({ headDim: 256, numKvHeads: 16, norm: "rms_one_plus", mlp: "gated" });
    expect(c.headSize).toBe(256);
    expect(blocks(c).attentionScale).toBe(256 ** -0.5);
    // √3072 = 55.42562584…; transformers multiplies by torch.tensor(hidden ** 0.5, dtype=float32).
    expect(blocks(c).embeddingScale).toBe(Math.fround(Math.sqrt(3072)));
    expect(blocks(c).embeddingScale).toBe(55.42562484741211);
    expect(blocks(c).embeddingScale).not.toBe(Math.sqrt(3072));
    // Gemma 2B: multi-query.
    expect(blocks(parse(GEMMA_2B))).toMatchObject({ numKvHeads: 1, headDim: 256 });
    expect(blocks(parse(GEMMA_2B)).embeddingScale).toBe(Math.fround(Math.sqrt(2048)));
    // transformers 5 configs carry only hidden_act; the default is the tanh approximation.
    const { hidden_activation: _, ...v5 } = GEMMA_7B;
    expect(parse(v5).activation).toBe("gelu");
    const { hidden_act: __, ...neither } = v5;
    expect(parse(neither).activation).toBe("gelu_pytorch_tanh");
  });

  it("GPTBigCode: n_embd / n_head / n_inner / n_positions; multi_query false gives one kv head per head", () => {
    const c = parse(STARCODERBASE_1B);
    expect([c.hiddenSize, c.numLayers, c.numHeads, c.intermediateSize, c.maxPositions]).toEqual([
      2048, 24, 16, 8192, 8192,
    ]);
    expect(blocks(c)).toMatchObject({
      numKvHeads: 1,
      headDim: 128,
      positions: "learned",
      rope: null,
      norm: "layer",
    });
    expect(blocks(parse({ ...STARCODERBASE_1B, multi_query: false })).numKvHeads).toBe(16);
    // n_inner null: 4 × n_embd, as GPT-2.
    expect(parse({ ...STARCODERBASE_1B, n_inner: null }).intermediateSize).toBe(8192);
    expect(parse({ ...STARCODERBASE_1B, n_inner: 1000 }).intermediateSize).toBe(1000);
    expect(blocks(parse({ ...STARCODERBASE_1B, scale_attn_weights: false })).attentionScale).toBe(1);
  });

  it("GPT-NeoX (Pythia): rotary_pct and rotary_emb_base; rotary dim 25% of head_dim", () => {
    const c = parse(PYTHIA_160M);
    expect(blocks(c)).toMatchObject({ headDim: 64, parallelResidual: true, norm: "layer", qkvBias: true });
    expect(rope(c)).toMatchObject({ type: "default", theta: 10000, rotaryDim: 16 });
    expect(rope(parse({ ...PYTHIA_160M, rotary_pct: 1.0, rotary_emb_base: 20000 }))).toMatchObject({
      theta: 20000,
      rotaryDim: 64,
    });
    // Without rotary_pct the GPT-NeoX default is 0.25 too.
    const { rotary_pct: _, ...noPct } = PYTHIA_160M;
    expect(rope(parse(noPct)).rotaryDim).toBe(16);
    expect(blocks(parse({ ...PYTHIA_160M, use_parallel_residual: false })).parallelResidual).toBe(false);
  });

  it("T5 encoders: feed_forward_proj relu, gated-gelu (→ gated, gelu_new), gated-silu", () => {
    const codet5 = parse(CODET5_BASE);
    expect(codet5).toMatchObject({
      causal: false,
      activation: "relu",
      hiddenSize: 768,
      numHeads: 12,
      numLayers: 12,
    });
    expect(blocks(codet5)).toMatchObject({
      mlp: "plain",
      headDim: 64,
      attentionScale: 1,
      positions: "relative",
      relative: { numBuckets: 32, maxDistance: 128, bidirectional: true },
      rope: null,
    });
    const flan = parse(FLAN_T5_BASE);
    expect(flan.activation).toBe("gelu_new");
    expect(flan.activationKind).toBe("gelu_tanh");
    expect(blocks(flan).mlp).toBe("gated");
    const silu = parse({ ...FLAN_T5_BASE, feed_forward_proj: "gated-silu" });
    expect([silu.activation, blocks(silu).mlp]).toEqual(["silu", "gated"]);
    const gelu = parse({ ...CODET5_BASE, feed_forward_proj: "gelu" });
    expect([gelu.activation, blocks(gelu).mlp]).toEqual(["gelu", "plain"]);
  });
});

describe("transformers 5 rope_parameters and transformers 4 top-level fields give the same settings", () => {
  const v4ToV5 = (cfg: Json): Json => {
    const { rope_theta, rope_scaling, ...rest } = cfg as Json & { rope_scaling?: Json | null };
    const scaling = rope_scaling ?? {};
    const { type, ...params } = scaling as Json;
    return {
      ...rest,
      rope_parameters: { rope_type: scaling.rope_type ?? type ?? "default", rope_theta, ...params },
    };
  };

  it("default, linear, dynamic, llama3, yarn, longrope", () => {
    for (const cfg of [
      LLAMA2_7B,
      CODELLAMA_7B,
      { ...LLAMA2_7B, rope_scaling: { type: "linear", factor: 2 } },
      { ...LLAMA2_7B, rope_scaling: { type: "dynamic", factor: 2 } },
      LLAMA31_8B,
      QWEN25_CODER_7B_INSTRUCT,
      {
        ...LLAMA2_7B,
        rope_scaling: {
          type: "yarn",
          factor: 40,
          original_max_position_embeddings: 4096,
          mscale: 1,
          mscale_all_dim: 0.8,
          beta_fast: 32,
          beta_slow: 1,
          truncate: false,
          attention_factor: 1.2,
        },
      },
      PHI3_MINI_128K,
    ] as Json[]) {
      const v5 = v4ToV5(cfg);
      expect(v5.rope_scaling).toBeUndefined();
      expect(rope(parse(v5)), JSON.stringify(cfg.rope_scaling)).toEqual(rope(parse(cfg)));
    }
  });

  it("yarn settings: mscale, mscale_all_dim, truncate, attention_factor, beta_fast / beta_slow", () => {
    const r = rope(
      parse({
        ...LLAMA2_7B,
        rope_parameters: {
          rope_type: "yarn",
          rope_theta: 150000,
          factor: 32,
          original_max_position_embeddings: 4096,
          beta_fast: 16,
          beta_slow: 2,
          mscale: 1,
          mscale_all_dim: 0.8,
          truncate: false,
          attention_factor: 1.5,
        },
      }),
    );
    expect(r).toMatchObject({
      type: "yarn",
      theta: 150000,
      factor: 32,
      betaFast: 16,
      betaSlow: 2,
      mscale: 1,
      mscaleAllDim: 0.8,
      truncate: false,
      attentionFactor: 1.5,
    });
    // Without a factor, yarn and longrope use max_position_embeddings / original_max_position_embeddings.
    const derived = rope(
      parse({
        ...LLAMA2_7B,
        max_position_embeddings: 65536,
        rope_parameters: { rope_type: "yarn", rope_theta: 10000, original_max_position_embeddings: 16384 },
      }),
    );
    expect(derived.factor).toBe(4);
    // `or 32` / `or 1`: beta_fast 0 and null mean the defaults.
    const zero = rope(
      parse({ ...LLAMA2_7B, rope_scaling: { type: "yarn", factor: 2, beta_fast: 0, beta_slow: null } }),
    );
    expect([zero.betaFast, zero.betaSlow, zero.originalMaxPositions]).toEqual([32, 1, 4096]);
  });

  it("GPT-NeoX: rope_parameters.partial_rotary_factor as rotary_pct; dtype (transformers 5) as torch_dtype", () => {
    const { rotary_pct: _, rotary_emb_base: __, torch_dtype: ___, ...rest } = PYTHIA_160M;
    const v5 = parse({
      ...rest,
      dtype: "float16",
      rope_parameters: { rope_type: "default", rope_theta: 10000, partial_rotary_factor: 0.25 },
    });
    expect(rope(v5)).toEqual(rope(parse(PYTHIA_160M)));
    expect(rope(v5).frequencyDType).toBe("float16");
  });

  it("yarn / longrope with factor null use max / original positions, as for an absent factor", () => {
    const r = rope(
      parse({
        ...LLAMA2_7B,
        max_position_embeddings: 65536,
        rope_parameters: {
          rope_type: "yarn",
          rope_theta: 10000,
          factor: null,
          original_max_position_embeddings: 16384,
        },
      }),
    );
    expect(r.factor).toBe(4);
  });

  it("a Phi-3 rope_scaling of type 'yarn' is longrope (Phi3Config renames 'su' and 'yarn')", () => {
    const r = rope(
      parse({ ...PHI3_MINI_128K, rope_scaling: { ...PHI3_MINI_128K.rope_scaling, type: "yarn" } }),
    );
    expect(r.type).toBe("longrope");
  });
});

// --- errors -----------------------------------------------------------------------------------------

describe("config.json errors of the LLM families name the file and the field and list what is supported", () => {
  const SUPPORTED_ROPE = "(supported: default, linear, dynamic, llama3, yarn, longrope)";

  it("unknown model_type lists every supported type", () => {
    const err = catchError(() => parse({ ...LLAMA2_7B, model_type: "falcon" }, "falcon/config.json"));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain("falcon/config.json (field 'model_type'): unsupported model_type 'falcon'");
    for (const t of ["bert", "roberta", "gpt2", ...BLOCK_MODEL_TYPES]) expect(err.message).toContain(t);
  });

  it("unsupported RoPE types (mrope, …) in either style", () => {
    expectInputError(
      () => parse({ ...LLAMA2_7B, rope_scaling: { type: "mrope", mrope_section: [16, 24, 24] } }),
      "m/config.json",
      "rope_scaling.rope_type",
      `unsupported RoPE type "mrope" ${SUPPORTED_ROPE}`,
    );
    expectInputError(
      () => parse({ ...LLAMA2_7B, rope_parameters: { rope_type: "ntk-by-parts", rope_theta: 1 } }),
      "m/config.json",
      "rope_parameters.rope_type",
      `unsupported RoPE type "ntk-by-parts" ${SUPPORTED_ROPE}`,
    );
    expectInputError(
      () => parse({ ...LLAMA2_7B, rope_scaling: { type: 3 } }),
      "m/config.json",
      "rope_scaling.rope_type",
      "expected a string",
    );
  });

  it("llama3, linear, dynamic without the fields they need", () => {
    const llama3 = LLAMA31_8B.rope_scaling;
    for (const key of ["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"]) {
      const { [key as keyof typeof llama3]: _, ...missing } = llama3;
      expectInputError(
        () => parse({ ...LLAMA31_8B, rope_scaling: missing }),
        "m/config.json",
        `rope_scaling.${key}`,
        `RoPE type 'llama3' needs ${key}`,
      );
    }
    expectInputError(
      () => parse({ ...LLAMA2_7B, rope_parameters: { rope_type: "linear" } }),
      "m/config.json",
      "rope_parameters.factor",
      "RoPE type 'linear' needs factor",
    );
    expectInputError(
      () => parse({ ...LLAMA2_7B, rope_scaling: { type: "dynamic", factor: null } }),
      "m/config.json",
      "rope_scaling.factor",
      "RoPE type 'dynamic' needs factor",
    );
  });

  it("bad RoPE values: factor, longrope factor lists, partial rotary, per-layer-type parameters", () => {
    const badFactor = catchError(() => parse({ ...LLAMA2_7B, rope_scaling: { type: "linear", factor: -2 } }));
    expect(badFactor).toBeInstanceOf(InputError);
    expect(badFactor.message).toContain("m/config.json");
    expect(badFactor.message).toContain("'factor'");
    expect(badFactor.message).toContain("expected a positive number, got -2");
    const shortList = catchError(() =>
      parse({ ...PHI3_MINI_128K, rope_scaling: { ...PHI3_MINI_128K.rope_scaling, short_factor: [1, 2] } }),
    );
    expect(shortList.message).toContain("m/config.json");
    expect(shortList.message).toContain("'short_factor'");
    expect(shortList.message).toContain("expected 48 positive numbers (one per rotary frequency)");
    expectInputError(
      () => parse({ ...PYTHIA_160M, rotary_pct: 0.01 }),
      "m/config.json",
      "partial_rotary_factor",
      "rotary dimension 0 (head_dim 64 × partial factor 0.01) must be even and at least 2",
    );
    expectInputError(
      () => parse({ ...PYTHIA_160M, rotary_pct: 1.5 }),
      "m/config.json",
      "partial_rotary_factor",
      "above 1",
    );
    expectInputError(
      () =>
        parse({
          ...LLAMA2_7B,
          rope_parameters: {
            full_attention: { rope_type: "default", rope_theta: 1e6 },
            sliding_attention: { rope_type: "default", rope_theta: 1e4 },
          },
        }),
      "m/config.json",
      "rope_parameters",
      "per-layer-type RoPE parameters (full_attention, sliding_attention) are not supported",
    );
  });

  it("unsupported activations, in every family's activation field", () => {
    for (const [cfg, field] of [
      [{ ...LLAMA2_7B, hidden_act: "relu2" }, "hidden_act"],
      [{ ...GEMMA_7B, hidden_activation: "xielu" }, "hidden_activation"],
      [{ ...STARCODERBASE_1B, activation_function: "gelu_magic" }, "activation_function"],
      [{ ...PYTHIA_160M, hidden_act: "gelu_10" }, "hidden_act"],
      [{ ...CODET5_BASE, feed_forward_proj: "gated-swiglu" }, "feed_forward_proj"],
    ] as [Json, string][]) {
      const e = expectInputError(() => parse(cfg), "m/config.json", field, "unsupported activation");
      expect(e.message).toContain("(supported: gelu, gelu_python, gelu_new, gelu_pytorch_tanh");
      expect(e.message).toContain("silu, swish)");
    }
  });

  it("T5: invalid feed_forward_proj and decoder configs", () => {
    for (const proj of ["fast-gelu", "gated-gelu-new"]) {
      expectInputError(
        () => parse({ ...CODET5_BASE, feed_forward_proj: proj }),
        "m/config.json",
        "feed_forward_proj",
        `'${proj}' is not a valid activation (expected 'gated-{ACT_FN}' or '{ACT_FN}')`,
      );
    }
    expectInputError(
      () => parse({ ...CODET5_BASE, is_decoder: true }, "codet5-decoder/config.json"),
      "codet5-decoder/config.json",
      "is_decoder",
      "a T5 decoder config; codeneurons reads T5 encoders",
    );
  });

  it("attention variants that change the maths are refused (null / false / 0 mean off)", () => {
    for (const [key, value, what] of [
      ["attn_logit_softcapping", 50, "attention logit soft-capping"],
      ["final_logit_softcapping", 30, "final logit soft-capping"],
      ["use_qk_norm", true, "query/key normalisation"],
      ["qk_layernorm", true, "query/key layer norms"],
      ["attention_chunk_size", 8192, "chunked attention"],
    ] as [string, unknown, string][]) {
      for (const cfg of [GEMMA_7B, LLAMA2_7B, STARCODERBASE_1B, PYTHIA_160M] as Json[]) {
        expectInputError(
          () => parse({ ...cfg, [key]: value }),
          "m/config.json",
          key,
          `${what} (${key}: ${JSON.stringify(value)}) is not supported`,
        );
      }
      for (const off of [null, false, 0]) expect(parse({ ...GEMMA_7B, [key]: off }).modelType).toBe("gemma");
    }
  });

  it("heads that are not a multiple of the kv heads, and hidden sizes that are not a multiple of the heads", () => {
    expectInputError(
      () => parse({ ...LLAMA31_8B, num_key_value_heads: 5 }),
      "m/config.json",
      "num_key_value_heads",
      "32 attention heads are not a multiple of 5 key/value heads",
    );
    expectInputError(
      () => parse({ ...MISTRAL_7B, hidden_size: 4100 }),
      "m/config.json",
      "num_attention_heads",
      "hidden size 4100 is not a multiple of 32 heads",
    );
    expectInputError(
      () => parse({ ...STARCODERBASE_1B, n_head: 15 }),
      "m/config.json",
      "n_head",
      "hidden size 2048 is not a multiple of 15 heads",
    );
    // An explicit head_dim needs no divisibility (Gemma 7B: 16 × 256 ≠ 3072).
    expect(blocks(parse({ ...LLAMA2_7B, hidden_size: 4000, head_dim: 128 })).headDim).toBe(128);
  });

  it("layer_types: an unknown value, a sliding layer without sliding_window, too few entries", () => {
    const qwen = { ...QWEN25_CODER_7B, num_hidden_layers: 3 };
    expectInputError(
      () => parse({ ...qwen, layer_types: ["full_attention", "chunked_attention", "full_attention"] }),
      "m/config.json",
      "layer_types[1]",
      'unsupported layer type "chunked_attention" (supported: full_attention, sliding_attention)',
    );
    expectInputError(
      () =>
        parse({
          ...qwen,
          sliding_window: null,
          layer_types: ["full_attention", "full_attention", "sliding_attention"],
        }),
      "m/config.json",
      "sliding_window",
      "layer 2 is a sliding_attention layer but sliding_window is null",
    );
    expectInputError(
      () => parse({ ...qwen, layer_types: ["full_attention"] }),
      "m/config.json",
      "layer_types",
      "lists 1 layer types for 3 layers",
    );
    expectInputError(
      () => parse({ ...qwen, layer_types: "full_attention" }),
      "m/config.json",
      "layer_types",
      "list of strings",
    );
  });

  it("missing shape fields are never guessed", () => {
    for (const [cfg, key] of [
      [LLAMA2_7B, "hidden_size"],
      [MISTRAL_7B, "num_hidden_layers"],
      [QWEN25_CODER_7B, "intermediate_size"],
      [GEMMA_7B, "vocab_size"],
      [STARCODERBASE_1B, "n_embd"],
      [STARCODERBASE_1B, "n_layer"],
      [PYTHIA_160M, "num_attention_heads"],
      [CODET5_BASE, "d_kv"],
      [CODET5_BASE, "d_ff"],
    ] as [Json, string][]) {
      const { [key]: _, ...missing } = cfg;
      expectInputError(() => parse(missing), "m/config.json", key, "missing");
    }
  });

  describe("from a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-config-llm-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("the error names the config.json path", () => {
      writeFileSync(
        join(dir, "config.json"),
        JSON.stringify({ ...LLAMA31_8B, rope_scaling: { rope_type: "mrope" } }),
      );
      expectInputError(
        () => readModelConfig(dir),
        join(dir, "config.json"),
        "rope_scaling.rope_type",
        "unsupported RoPE type",
      );
    });
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

function expectInputError(
  fn: () => unknown,
  file: string,
  field: string | undefined,
  text: string,
): InputError {
  const err = catchError(fn);
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.file).toBe(file);
  expect(e.field).toBe(field);
  expect(e.message).toContain(text);
  expect(e.message).toContain(field === undefined ? file : `${file} (field '${field}')`);
  return e;
}
