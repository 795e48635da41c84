import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseModelConfig, readModelConfig } from "../../../src/model/config.js";
import { InputError, UserError } from "../../../src/util/errors.js";
import { Rng } from "../../../src/util/rng.js";

// config.json contents of the hub models codeneurons targets, as published (dropout and other training
// fields kept, so that the parser is seen to ignore them).
const ROBERTA_BASE = {
  architectures: ["RobertaForMaskedLM"],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  eos_token_id: 2,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: "roberta",
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  type_vocab_size: 1,
  vocab_size: 50265,
};
const CODEBERT = { ...ROBERTA_BASE, architectures: ["RobertaModel"], output_past: true };
const GRAPHCODEBERT = { ...ROBERTA_BASE, gradient_checkpointing: false, output_past: true };
const UNIXCODER = {
  ...ROBERTA_BASE,
  _name_or_path: "microsoft/unixcoder-base",
  architectures: ["RobertaModel"],
  classifier_dropout: null,
  max_position_embeddings: 1026,
  position_embedding_type: "absolute",
  torch_dtype: "float32",
  transformers_version: "4.12.5",
  type_vocab_size: 10,
  use_cache: true,
  vocab_size: 51416,
};
const CODEBERTA = { ...ROBERTA_BASE, num_hidden_layers: 6, vocab_size: 52000, output_past: true };
const BERT_BASE_UNCASED = {
  architectures: ["BertForMaskedLM"],
  attention_probs_dropout_prob: 0.1,
  gradient_checkpointing: false,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  model_type: "bert",
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 0,
  position_embedding_type: "absolute",
  transformers_version: "4.6.0.dev0",
  type_vocab_size: 2,
  use_cache: true,
  vocab_size: 30522,
};
const GPT2 = {
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: "cls_index",
  summary_use_proj: true,
  task_specific_params: { "text-generation": { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};
const CODEGPT_JAVA = {
  _num_labels: 2,
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  attn_pdrop: 0.1,
  bos_token_id: 0,
  embd_pdrop: 0.1,
  eos_token_id: 2,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  output_past: true,
  pad_token_id: 1,
  resid_pdrop: 0.1,
  vocab_size: 52000,
};
// A CodeGPT-small-py fine-tune whose n_ctx (912) differs from n_positions (1024, the table size).
const CODEGPT_PY_FT = {
  ...CODEGPT_JAVA,
  max_length: 912,
  n_ctx: 912,
  n_inner: null,
  reorder_and_upcast_attn: false,
  scale_attn_by_inverse_layer_idx: false,
  scale_attn_weights: true,
  vocab_size: 50001,
};

describe("config.json of the supported hub models", () => {
  it("RoBERTa family: position offset 2, usable positions, token types, layers", () => {
    for (const [cfg, layers, maxLen, types, vocab] of [
      [CODEBERT, 12, 512, 1, 50265],
      [GRAPHCODEBERT, 12, 512, 1, 50265],
      [UNIXCODER, 12, 1024, 10, 51416],
      [CODEBERTA, 6, 512, 1, 52000],
      [ROBERTA_BASE, 12, 512, 1, 50265],
    ] as const) {
      const c = parseModelConfig(cfg);
      expect(c.modelType).toBe("roberta");
      expect(c.numLayers).toBe(layers);
      expect(c.positionOffset).toBe(2);
      expect(c.maxSequenceLength).toBe(maxLen);
      expect(c.maxPositions).toBe(maxLen + 2);
      expect(c.typeVocabSize).toBe(types);
      expect(c.vocabSize).toBe(vocab);
      expect([c.hiddenSize, c.numHeads, c.headSize, c.intermediateSize]).toEqual([768, 12, 64, 3072]);
      expect([c.layerNormEps, c.activationKind, c.padTokenId, c.causal]).toEqual([
        1e-5,
        "gelu_erf",
        1,
        false,
      ]);
    }
  });

  it("BERT (bert-base-uncased, JavaBERT)", () => {
    const c = parseModelConfig(BERT_BASE_UNCASED);
    expect(c).toMatchObject({
      modelType: "bert",
      positionOffset: 0,
      maxSequenceLength: 512,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      padTokenId: 0,
      architectures: ["BertForMaskedLM"],
    });
  });

  it("GPT-2 family: n_positions sizes the table, n_inner null means 4 × n_embd, causal", () => {
    for (const cfg of [GPT2, CODEGPT_JAVA, CODEGPT_PY_FT]) {
      const c = parseModelConfig(cfg);
      expect(c).toMatchObject({
        modelType: "gpt2",
        hiddenSize: 768,
        numLayers: 12,
        numHeads: 12,
        intermediateSize: 3072,
        maxPositions: 1024,
        maxSequenceLength: 1024,
        typeVocabSize: 0,
        activationKind: "gelu_tanh",
        causal: true,
        scaleAttnWeights: true,
        scaleAttnByInverseLayerIdx: false,
      });
    }
    expect(parseModelConfig(GPT2).padTokenId).toBe(null);
    expect(parseModelConfig(CODEGPT_JAVA).padTokenId).toBe(1);
    // Configs from before n_positions existed: n_ctx is the table size.
    const { n_positions: _, ...old } = GPT2;
    expect(parseModelConfig({ ...old, n_ctx: 512 }).maxPositions).toBe(512);
  });

  it("old configs without model_type are recognised from their architecture", () => {
    const { model_type: _, ...noType } = CODEBERT;
    expect(parseModelConfig(noType).modelType).toBe("roberta");
  });
});

describe("config.json errors name the file and field", () => {
  it("unsupported model_type lists the supported ones", () => {
    const err = catchError(() => parseModelConfig({ ...CODEBERT, model_type: "falcon" }, "m/config.json"));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(
      "m/config.json (field 'model_type'): unsupported model_type 'falcon' (supported: bert, roberta, gpt2, " +
        "llama, mistral, qwen2, starcoder2, gemma, phi3, gpt_bigcode, gpt_neox, t5)",
    );
  });

  it("missing and ill-typed fields", () => {
    const { num_hidden_layers: _, ...missing } = CODEBERT;
    expectInputError(() => parseModelConfig(missing, "c.json"), "c.json", "num_hidden_layers", "missing");
    expectInputError(
      () => parseModelConfig({ ...CODEBERT, hidden_size: "768" }, "c.json"),
      "c.json",
      "hidden_size",
      "expected an integer",
    );
    expectInputError(
      () => parseModelConfig({ ...CODEBERT, num_attention_heads: 5 }, "c.json"),
      "c.json",
      "num_attention_heads",
      "not a multiple",
    );
    expectInputError(
      () => parseModelConfig({ ...GPT2, activation_function: "gelu_magic" }, "c.json"),
      "c.json",
      "activation_function",
      "unsupported activation",
    );
    expectInputError(
      () => parseModelConfig({ ...CODEBERT, layer_norm_eps: "1e-5" }, "c.json"),
      "c.json",
      "layer_norm_eps",
      "expected a non-negative number",
    );
    expectInputError(() => parseModelConfig([1, 2], "c.json"), "c.json", undefined, "expected a JSON object");
  });

  it("relative position embeddings are refused", () => {
    const err = catchError(() =>
      parseModelConfig({ ...BERT_BASE_UNCASED, position_embedding_type: "relative_key" }),
    );
    expect(err.message).toContain("position_embedding_type 'relative_key' is not supported");
  });
});

describe("readModelConfig (file) fuzzing", () => {
  const dir = mkdtempSync(join(tmpdir(), "cn-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (text: string) => {
    writeFileSync(join(dir, "config.json"), text);
    return () => readModelConfig(dir);
  };

  it("reads a real config from disk, and names a missing file", () => {
    expect(write(JSON.stringify(UNIXCODER, null, 2))().maxSequenceLength).toBe(1024);
    expectInputError(
      () => readModelConfig(join(dir, "nope")),
      join(dir, "nope", "config.json"),
      undefined,
      "cannot read",
    );
  });

  it("random truncations and mutations give a clean UserError or a valid config, never a crash", () => {
    const rng = new Rng(42);
    const sources = [CODEBERT, UNIXCODER, BERT_BASE_UNCASED, GPT2, CODEGPT_PY_FT].map((c) =>
      JSON.stringify(c, null, 1),
    );
    const junk = ['"x"', "-1", "1.5", "null", "[]", "{}", "true", "1e400", '"gelu"', "0"];
    let errors = 0;
    for (let trial = 0; trial < 400; trial++) {
      const src = sources[rng.int(sources.length)];
      let text: string;
      if (trial % 2 === 0) {
        text = src.slice(0, rng.int(src.length));
      } else {
        // Replace one value with junk of another type.
        const values = [...src.matchAll(/: ([^,\n{}[\]]+)/g)];
        const m = values[rng.int(values.length)];
        const at = m.index! + 2;
        text = src.slice(0, at) + junk[rng.int(junk.length)] + src.slice(at + m[1].length);
      }
      try {
        const c = write(text)();
        expect(c.hiddenSize % c.numHeads).toBe(0);
        expect(c.maxSequenceLength).toBeGreaterThan(0);
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        expect((e as Error).message).toContain("config.json");
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(200);
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

function expectInputError(fn: () => unknown, file: string, field: string | undefined, text: string): void {
  const err = catchError(fn);
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.file).toBe(file);
  expect(e.field).toBe(field);
  expect(e.message).toContain(text);
}
