import { createSession, ort } from "../linalg/runtime.js";
import { attr, GraphBuilder } from "../onnx/graph.js";
import { UserError } from "../util/errors.js";
import { activate } from "./arch/ops.js";
import type { ActivationKind, ModelConfig } from "./config.js";
import type { CheckpointReader } from "./weights/tensor.js";

/**
 * The model's own prediction head on top of its last hidden state (transformers' output, final norm
 * included), for measuring what an intervention does to the model's predictions:
 * - masked LMs (BERT, RoBERTa): transform (dense → activation → LayerNorm) then the decoder, tied to the
 *   word embeddings, plus a bias: BertLMPredictionHead / RobertaLMHead;
 * - causal LMs (GPT-2 and the decoder families): lm_head (or the tied token embeddings; GPT-NeoX's
 *   embed_out), no bias.
 * T5 encoders and checkpoints saved without a head have none (`openLmHead` returns null).
 * The head runs as its own small graph on the rows that are scored only, so the vocabulary-sized
 * product is paid for the scored positions, not for every token.
 */
export type HeadKind = "masked" | "causal";

export interface HeadScores {
  /** log p(target) per scored row. */
  logProb: Float32Array;
  /** 1 where the target is the most likely token. */
  correct: Uint8Array;
}

export interface LmHead {
  readonly kind: HeadKind;
  readonly vocabSize: number;
  /** Scores `rows` hidden vectors [rows, hidden] against their target token ids. */
  score(hidden: Float32Array, rows: number, targets: Int32Array): Promise<HeadScores>;
  release(): Promise<void>;
}

/** Where each family keeps its head, after its prefix-free names; the first name found is used. */
interface HeadLayout {
  kind: HeadKind;
  decoder: string[];
  bias?: string[];
  transform?: { dense: string; norm: string; activation: ActivationKind | "config" };
}

const EMBEDDINGS: Record<string, string[]> = {
  bert: ["bert.embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"],
  roberta: ["roberta.embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"],
  gpt2: ["transformer.wte.weight", "wte.weight"],
  gpt_bigcode: ["transformer.wte.weight", "wte.weight"],
  gpt_neox: [],
  default: ["model.embed_tokens.weight", "embed_tokens.weight"],
};

function layoutOf(cfg: ModelConfig): HeadLayout | null {
  switch (cfg.modelType) {
    case "bert":
      return {
        kind: "masked",
        decoder: ["cls.predictions.decoder.weight", ...EMBEDDINGS.bert],
        bias: ["cls.predictions.bias", "cls.predictions.decoder.bias"],
        transform: {
          dense: "cls.predictions.transform.dense",
          norm: "cls.predictions.transform.LayerNorm",
          activation: "config",
        },
      };
    case "roberta":
      return {
        kind: "masked",
        decoder: ["lm_head.decoder.weight", ...EMBEDDINGS.roberta],
        bias: ["lm_head.bias", "lm_head.decoder.bias"],
        // RobertaLMHead applies gelu (the erf form) whatever hidden_act says.
        transform: { dense: "lm_head.dense", norm: "lm_head.layer_norm", activation: "gelu_erf" },
      };
    case "t5":
      return null;
    case "gpt_neox":
      return { kind: "causal", decoder: ["embed_out.weight"] };
    case "gpt2":
    case "gpt_bigcode":
      return { kind: "causal", decoder: ["lm_head.weight", ...EMBEDDINGS[cfg.modelType]] };
    default: {
      const tied = cfg.blocks?.tieWordEmbeddings ?? false;
      return {
        kind: "causal",
        decoder: tied ? ["lm_head.weight", ...EMBEDDINGS.default] : ["lm_head.weight"],
      };
    }
  }
}

/** The head of the checkpoint `reader` holds, or null when the model has none (T5 encoders, base models). */
export async function openLmHead(
  cfg: ModelConfig,
  reader: CheckpointReader,
  threads?: number,
): Promise<LmHead | null> {
  const layout = layoutOf(cfg);
  if (!layout) return null;
  const names = new Set(reader.names());
  const find = (candidates: readonly string[]) => candidates.find((n) => names.has(n));
  const decoderName = find(layout.decoder);
  if (!decoderName) return null;
  const H = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const tensor = (name: string, shape: number[]): Float32Array => {
    const t = reader.read(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new UserError(
        `${reader.path}: head tensor '${name}' has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`,
      );
    }
    return t.data;
  };
  const g = new GraphBuilder(`codeneurons_${cfg.modelType}_head`);
  const hidden = g.input("hidden", "float32", ["rows", H]);
  const targets = g.input("targets", "int64", ["rows"]);
  let x = hidden;
  if (layout.transform) {
    const t = layout.transform;
    const required = (name: string, shape: number[]) => {
      if (!names.has(name)) throw new UserError(`${reader.path}: the masked-LM head lacks '${name}'`);
      return g.initializer(name.replaceAll(".", "_"), {
        dtype: "float32",
        dims: shape,
        data: tensor(name, shape),
      });
    };
    const dense = g.op1(
      "Gemm",
      [x, required(`${t.dense}.weight`, [H, H]), required(`${t.dense}.bias`, [H])],
      {
        transB: 1,
      },
    );
    const kind = t.activation === "config" ? cfg.activationKind : t.activation;
    const act = activate(g, dense, kind);
    x = g.op1(
      "LayerNormalization",
      [act, required(`${t.norm}.weight`, [H]), required(`${t.norm}.bias`, [H])],
      {
        axis: -1,
        epsilon: attr.float(cfg.layerNormEps),
      },
    );
  }
  const decoder = g.initializer("decoder", {
    dtype: "float32",
    dims: [V, H],
    data: tensor(decoderName, [V, H]),
  });
  const biasName = layout.bias ? find(layout.bias) : undefined;
  const logits = g.op1(
    "Gemm",
    biasName
      ? [
          x,
          decoder,
          g.initializer("decoder_bias", { dtype: "float32", dims: [V], data: tensor(biasName, [V]) }),
        ]
      : [x, decoder],
    { transB: 1 },
  );
  const logProbs = g.op1("LogSoftmax", [logits], { axis: -1 });
  const picked = g.op1("GatherElements", [logProbs, g.op1("Unsqueeze", [targets, g.int64s([1])])], {
    axis: 1,
  });
  g.op("Squeeze", [picked, g.int64s([1])], {}, { outputs: ["log_prob"] });
  const best = g.op1("ArgMax", [logits], { axis: 1, keepdims: 0 });
  g.op("Equal", [best, targets], {}, { outputs: ["correct"] });
  g.output("log_prob", "float32", ["rows"]);
  g.output("correct", "bool", ["rows"]);
  const session = await createSession(
    g.toModel({ opset: 17 }),
    threads ? { intraOpNumThreads: threads } : {},
  );
  return {
    kind: layout.kind,
    vocabSize: V,
    async score(hiddenRows: Float32Array, rows: number, targetIds: Int32Array): Promise<HeadScores> {
      if (rows === 0) return { logProb: new Float32Array(0), correct: new Uint8Array(0) };
      const out = await session.run({
        hidden: new ort.Tensor("float32", hiddenRows.subarray(0, rows * H), [rows, H]),
        targets: new ort.Tensor(
          "int64",
          BigInt64Array.from(targetIds.subarray(0, rows), (v) => BigInt(v)),
          [rows],
        ),
      });
      return {
        logProb: out.log_prob.data as Float32Array,
        correct: Uint8Array.from(out.correct.data as ArrayLike<number | boolean>, (v) => (v ? 1 : 0)),
      };
    },
    release: () => session.release(),
  };
}
