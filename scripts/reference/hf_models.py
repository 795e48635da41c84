"""Reference PyTorch implementations of the Hugging Face architectures codeneurons supports.

Debian has python3-torch but not `transformers`, so this module re-implements BERT, RoBERTa and GPT-2
with PyTorch's own modules (nn.Embedding, nn.Linear, nn.LayerNorm, F.softmax), using the Hugging Face
parameter names, so that a state dict saved from here loads in `transformers` and vice versa. It is
used only to build test fixtures (tiny random models + reference hidden states) and to train the
bundled model; codeneurons itself never runs Python.

Semantics follow transformers' modeling_bert / modeling_roberta / modeling_gpt2 (v4.x):
- hidden_states[0] is the embedding output; hidden_states[i] the output of block i. For GPT-2 the last
  entry has the final layer norm ln_f applied, exactly as transformers returns it.
- RoBERTa position ids start at padding_idx + 1 and skip padding tokens.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):  # "gelu_new" in transformers (GPT-2)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACTIVATIONS = {"gelu": gelu_erf, "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh, "relu": F.relu}


# ----------------------------------------------------------------------------------------- BERT/RoBERTa
class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"], padding_idx=cfg.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])
        self.token_type_embeddings = nn.Embedding(cfg.get("type_vocab_size", 2), cfg["hidden_size"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, input_ids, position_ids, token_type_ids):
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(position_ids)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def split(self, x):
        b, s, h = x.shape
        return x.view(b, s, self.heads, h // self.heads).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + additive_mask
        ctx = torch.matmul(F.softmax(scores, dim=-1), v)
        b, _, s, _ = ctx.shape
        return ctx.permute(0, 2, 1, 3).reshape(b, s, -1)


class BertSelfOutput(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.act = ACTIVATIONS[cfg.get("hidden_act", "gelu")]

    def forward(self, x):
        return self.act(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["intermediate_size"], cfg["hidden_size"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class BertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        inter = self.intermediate(a)
        return self.output(inter, a), inter


class BertEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg["num_hidden_layers"])])


class BertModel(nn.Module):
    """BERT and RoBERTa encoders (RoBERTa differs only in position ids and config values)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)

    def position_ids(self, input_ids):
        if self.cfg["model_type"] == "roberta":
            pad = self.cfg.get("pad_token_id", 1)
            not_pad = (input_ids != pad).int()
            return (torch.cumsum(not_pad, dim=1) * not_pad).long() + pad
        return torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        additive = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = self.embeddings(input_ids, self.position_ids(input_ids), token_type_ids)
        hidden, intermediates = [x], []
        for layer in self.encoder.layer:
            x, inter = layer(x, additive)
            hidden.append(x)
            intermediates.append(inter)
        return hidden, intermediates


class RobertaLMHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.dense = nn.Linear(h, h)
        self.layer_norm = nn.LayerNorm(h, eps=cfg.get("layer_norm_eps", 1e-12))
        self.decoder = nn.Linear(h, cfg["vocab_size"])
        self.bias = self.decoder.bias

    def forward(self, x):
        return self.decoder(self.layer_norm(gelu_erf(self.dense(x))))


class RobertaForMaskedLM(nn.Module):
    """State dict names: roberta.* and lm_head.* (decoder weight tied to the word embeddings)."""

    def __init__(self, cfg):
        super().__init__()
        self.roberta = BertModel(cfg)
        self.lm_head = RobertaLMHead(cfg)
        self.lm_head.decoder.weight = self.roberta.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask=None):
        hidden, _ = self.roberta(input_ids, attention_mask)
        return self.lm_head(hidden[-1])


# ------------------------------------------------------------------------------------------------ GPT-2
class Conv1D(nn.Module):
    """transformers' Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class GPT2Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["n_embd"]
        self.heads = cfg["n_head"]
        self.c_attn = Conv1D(h, 3 * h)
        self.c_proj = Conv1D(h, h)

    def forward(self, x, additive_mask):
        b, s, h = x.shape
        q, k, v = self.c_attn(x).split(h, dim=2)
        split = lambda t: t.view(b, s, self.heads, h // self.heads).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(h // self.heads)
        causal = torch.tril(torch.ones(s, s, dtype=torch.bool))
        scores = torch.where(causal, scores, torch.tensor(torch.finfo(scores.dtype).min)) + additive_mask
        ctx = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(b, s, h)
        return self.c_proj(ctx)


class GPT2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["n_embd"]
        inner = cfg.get("n_inner") or 4 * h
        self.c_fc = Conv1D(h, inner)
        self.c_proj = Conv1D(inner, h)
        self.act = ACTIVATIONS[cfg.get("activation_function", "gelu_new")]

    def forward(self, x):
        inter = self.act(self.c_fc(x))
        return self.c_proj(inter), inter


class GPT2Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["n_embd"]
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(h, eps=eps)
        self.attn = GPT2Attention(cfg)
        self.ln_2 = nn.LayerNorm(h, eps=eps)
        self.mlp = GPT2MLP(cfg)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        m, inter = self.mlp(self.ln_2(x))
        return x + m, inter


class GPT2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        self.h = nn.ModuleList([GPT2Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg.get("layer_norm_epsilon", 1e-5))

    def forward(self, input_ids, attention_mask=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        additive = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        hidden, intermediates = [], []
        for block in self.h:
            hidden.append(x)
            x, inter = block(x, additive)
            intermediates.append(inter)
        hidden.append(self.ln_f(x))
        return hidden, intermediates


def build_model(cfg):
    """The bare model (no LM head) for a config dict as found in config.json."""
    if cfg["model_type"] in ("bert", "roberta"):
        return BertModel(cfg)
    if cfg["model_type"] == "gpt2":
        return GPT2Model(cfg)
    raise ValueError(f"unsupported model_type {cfg['model_type']}")


# ------------------------------------------------------------------------------------------ file output
def save_safetensors(path, tensors, metadata=None):
    """Writes the safetensors format by hand (Debian has no `safetensors` package)."""
    import json
    import struct

    names = sorted(tensors)
    header, offset, blobs = {}, 0, []
    dtype_names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.float64: "F64", torch.int32: "I32"}
    for name in names:
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype_names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata:
        header["__metadata__"] = metadata
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - (8 + len(js)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
