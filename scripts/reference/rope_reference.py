"""Reference fixture for codeneurons' position maths (test/model/arch/rope.test.ts).

Run by hand, never at test time or in CI (the fixture is committed):
    /usr/bin/python3 scripts/reference/rope_reference.py

Debian's python3 has torch (1.13) and numpy but not transformers, so this script transcribes, line by
line and in torch float32 exactly as transformers 5 writes them:

- modeling_rope_utils: the inverse frequencies and attention scaling of every RoPE type codeneurons
  reads: default (_compute_default_rope_parameters), linear, dynamic NTK (recomputed in the forward pass
  by dynamic_rope_update with seq_len = max(position_ids) + 1 as an int64 tensor once it exceeds
  max_position_embeddings; below that the frequencies of the model's init, computed with a python
  seq_len = max_position_embeddings), llama3, yarn (mscale / mscale_all_dim, truncate, attention_factor,
  factor derived from max / original when absent) and longrope (short factors up to
  original_max_position_embeddings, long ones beyond: longrope_frequency_update recomputes with
  seq_len = original + 1);
- RotaryEmbedding.forward (Llama and the others): freqs = inv_freq[None, :, None] @ position_ids[:, None, :]
  in float32, emb = cat(freqs, freqs), cos = emb.cos() * attention_scaling, sin likewise, for positions
  0 … 4095; the fixture keeps the first half of each row (the second is the same, asserted here) at a
  fixed set of positions (first, last, and spread between) to stay small;
- the bfloat16 / float16 rounding of the inv_freq buffer when a model is built in that dtype
  (inv_freq.to(dtype).float());
- modeling_t5.T5Attention._relative_position_bucket (bidirectional and not, several num_buckets /
  max_distance), for relative positions key − query in −1200 … 1200;
- masking_utils: padding_mask_function, causal_mask_function, sliding_window_overlay, and_masks,
  as the boolean [batch, q, k] mask a layer sees (True = key visible).

Each RoPE case carries a config.json-style dict that rope.test.ts parses with parseModelConfig, so the
config reading (both config styles) and the maths are compared together.

Output: test/fixtures/rope/rope.json. Floats are written as the shortest decimal that rounds back to
the same float32.
"""
import json
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "rope")
MAX_POSITION = 4096  # positions 0 … 4095
POSITIONS = sorted(
    set(range(0, 4))
    | {7, 31, 100, 255, 511, 777, 1000, 1024, 1500, 2047, 2048, 2049, 2500, 3000, 3001, 3333}
    | {3999, 4000, 4001, 4050}
    | set(range(4090, 4096))
)


def f32list(t):
    """float32 values as the shortest decimals that round-trip float32 (repr of np.float32)."""
    return [float(repr(np.float32(v))) for v in t.detach().numpy().astype(np.float32).ravel()]


# ---------------------------------------------------------------------------------------------------
# modeling_rope_utils (transformers 5), with `p` the standardized rope_parameters dict and `cfg` the
# config attributes the functions read (head_dim, max_position_embeddings).
# ---------------------------------------------------------------------------------------------------


def rope_dim(cfg, p):
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return int(head_dim * p.get("partial_rotary_factor", 1.0))


def compute_default(cfg, p, seq_len=None):
    base = p["rope_theta"]
    dim = rope_dim(cfg, p)
    attention_factor = 1.0
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))
    return inv_freq, attention_factor


def compute_linear(cfg, p, seq_len=None):
    factor = p["factor"]
    base = p["rope_theta"]
    dim = rope_dim(cfg, p)
    attention_factor = 1.0
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))
    inv_freq /= factor
    return inv_freq, attention_factor


def compute_dynamic(cfg, p, seq_len=None):
    base = p["rope_theta"]
    dim = rope_dim(cfg, p)
    factor = p["factor"]
    attention_factor = 1.0
    max_pos = cfg["max_position_embeddings"]
    if seq_len is None:
        seq_len = max_pos
    elif isinstance(seq_len, torch.Tensor):
        seq_len = torch.maximum(seq_len, torch.tensor(max_pos, dtype=seq_len.dtype))
    else:
        seq_len = max(seq_len, max_pos)
    base = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))
    return inv_freq, attention_factor


def compute_yarn(cfg, p, seq_len=None):
    base = p["rope_theta"]
    dim = rope_dim(cfg, p)
    factor = p.get("factor")
    attention_factor = p.get("attention_factor")
    mscale = p.get("mscale")
    mscale_all_dim = p.get("mscale_all_dim")
    original_max_position_embeddings = p["original_max_position_embeddings"]
    if factor is None:
        factor = cfg["max_position_embeddings"] / original_max_position_embeddings

    def get_mscale(scale, mscale=1):
        if scale <= 1:
            return 1.0
        return 0.1 * mscale * math.log(scale) + 1.0

    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else:
            attention_factor = get_mscale(factor)

    beta_fast = p.get("beta_fast") or 32
    beta_slow = p.get("beta_slow") or 1

    def find_correction_dim(num_rotations, dim, base, max_position_embeddings):
        return (dim * math.log(max_position_embeddings / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

    def find_correction_range(low_rot, high_rot, dim, base, max_position_embeddings, truncate):
        low = find_correction_dim(low_rot, dim, base, max_position_embeddings)
        high = find_correction_dim(high_rot, dim, base, max_position_embeddings)
        if truncate:
            low = math.floor(low)
            high = math.ceil(high)
        return max(low, 0), min(high, dim - 1)

    def linear_ramp_factor(min, max, dim):  # noqa: A002 (transformers' names)
        if min == max:
            max += 0.001
        linear_func = (torch.arange(dim, dtype=torch.float32) - min) / (max - min)
        return torch.clamp(linear_func, 0, 1)

    pos_freqs = base ** (torch.arange(0, dim, 2).to(dtype=torch.float) / dim)
    inv_freq_extrapolation = 1.0 / pos_freqs
    inv_freq_interpolation = 1.0 / (factor * pos_freqs)
    truncate = p.get("truncate", True)
    low, high = find_correction_range(beta_fast, beta_slow, dim, base, original_max_position_embeddings, truncate)
    inv_freq_extrapolation_factor = 1 - linear_ramp_factor(low, high, dim // 2).to(dtype=torch.float)
    inv_freq = (
        inv_freq_interpolation * (1 - inv_freq_extrapolation_factor)
        + inv_freq_extrapolation * inv_freq_extrapolation_factor
    )
    return inv_freq, attention_factor


def compute_longrope(cfg, p, seq_len=None):
    base = p["rope_theta"]
    dim = rope_dim(cfg, p)
    long_factor = p["long_factor"]
    short_factor = p["short_factor"]
    factor = p.get("factor")
    attention_factor = p.get("attention_factor")
    original_max_position_embeddings = p["original_max_position_embeddings"]
    if factor is None:
        factor = cfg["max_position_embeddings"] / original_max_position_embeddings
    if attention_factor is None:
        if factor <= 1.0:
            attention_factor = 1.0
        else:
            attention_factor = math.sqrt(1 + math.log(factor) / math.log(original_max_position_embeddings))
    if seq_len and seq_len > original_max_position_embeddings:
        ext_factors = torch.tensor(long_factor, dtype=torch.float32)
    else:
        ext_factors = torch.tensor(short_factor, dtype=torch.float32)
    inv_freq_shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    inv_freq = 1.0 / (ext_factors * base**inv_freq_shape)
    return inv_freq, attention_factor


def compute_llama3(cfg, p, seq_len=None):
    base = p["rope_theta"]
    dim = rope_dim(cfg, p)
    attention_factor = 1.0
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))
    factor = p["factor"]
    low_freq_factor = p["low_freq_factor"]
    high_freq_factor = p["high_freq_factor"]
    old_context_len = p["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    inv_freq_llama = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    return inv_freq_llama, attention_factor


ROPE_INIT_FUNCTIONS = {
    "default": compute_default,
    "linear": compute_linear,
    "dynamic": compute_dynamic,
    "yarn": compute_yarn,
    "longrope": compute_longrope,
    "llama3": compute_llama3,
}


def standardize(cfg):
    """PreTrainedConfig.convert_rope_params_to_dict + standardize_rope_params, for the cases below:
    rope_scaling, when present, wins over rope_parameters; rope_theta and partial_rotary_factor move
    in; llama3 / yarn / longrope get original_max_position_embeddings, a top-level attribute first
    (Phi3Config always has one: 4096 by default), else max_position_embeddings. Phi3Config then
    renames the old types 'su' and 'yarn' to 'longrope' ('su' is treated so for every model here)."""
    p = dict(cfg.get("rope_scaling") or cfg.get("rope_parameters") or {})
    p.setdefault("rope_theta", cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000.0)))
    partial = cfg.get("partial_rotary_factor", cfg.get("rotary_pct"))
    if partial is not None:
        p.setdefault("partial_rotary_factor", partial)
    p.setdefault("rope_type", p.get("type", "default"))
    phi3 = cfg["model_type"] == "phi3"
    if p["rope_type"] == "su" or (phi3 and p["rope_type"] == "yarn"):
        p["rope_type"] = "longrope"
    if p["rope_type"] in ("llama3", "yarn", "longrope"):
        top = cfg.get("original_max_position_embeddings", 4096 if phi3 else None)
        if top is not None:
            p["original_max_position_embeddings"] = top
        else:
            p.setdefault("original_max_position_embeddings", cfg["max_position_embeddings"])
    return p


def rotary_embedding(cfg, seq_len, dtype):
    """The module's inv_freq and attention_scaling when it runs a sequence of seq_len tokens (positions
    0 … seq_len − 1): RotaryEmbedding.__init__ plus dynamic_rope_update."""
    p = standardize(cfg)
    rope_type = p["rope_type"]
    fn = ROPE_INIT_FUNCTIONS[rope_type]
    inv_freq, attention_scaling = fn(cfg, p)  # __init__, seq_len None
    if rope_type == "dynamic":
        seq = torch.tensor(seq_len - 1, dtype=torch.int64) + 1  # torch.max(position_ids) + 1
        if seq > cfg["max_position_embeddings"]:
            inv_freq, attention_scaling = fn(cfg, p, seq_len=seq)
    elif rope_type == "longrope":
        original = p["original_max_position_embeddings"]
        if seq_len > original:
            inv_freq, _ = fn(cfg, p, seq_len=original + 1)
    if dtype != "float32":
        # The model built in the checkpoint's dtype rounds the buffer; it stays rounded in float32.
        inv_freq = inv_freq.to(getattr(torch, dtype)).float()
    return inv_freq.float(), attention_scaling


def cos_sin(inv_freq, attention_scaling):
    position_ids = torch.arange(MAX_POSITION)[None, :]
    inv_freq_expanded = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    position_ids_expanded = position_ids[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = emb.cos() * attention_scaling
    sin = emb.sin() * attention_scaling
    half = inv_freq.shape[0]
    assert torch.equal(cos[..., :half], cos[..., half:]) and torch.equal(sin[..., :half], sin[..., half:])
    return cos[0, :, :half], sin[0, :, :half]


def llama(head_dim=128, heads=32, max_pos=4096, **extra):
    cfg = {
        "model_type": "llama",
        "hidden_size": head_dim * heads,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "num_hidden_layers": 2,
        "intermediate_size": 64,
        "vocab_size": 100,
        "max_position_embeddings": max_pos,
    }
    cfg.update(extra)
    return cfg


def default_params(theta, **extra):
    return {"rope_type": "default", "rope_theta": theta, **extra}


def longrope_factors(n, seed, lo, hi):
    rng = np.random.default_rng(seed)
    return [round(float(v), 4) for v in np.sort(rng.uniform(lo, hi, n))]


def rope_cases():
    short96 = longrope_factors(48, 1, 1.0, 1.2)
    long96 = longrope_factors(48, 2, 1.0, 60.0)
    phi3_128k = {
        "model_type": "phi3",
        "hidden_size": 3072,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "num_hidden_layers": 2,
        "intermediate_size": 64,
        "vocab_size": 100,
        "max_position_embeddings": 131072,
        "original_max_position_embeddings": 4096,
        "rope_theta": 10000.0,
        "rope_scaling": {"type": "longrope", "short_factor": short96, "long_factor": long96},
    }
    return [
        # (name, config, sequence length, inv_freq dtype)
        ("default-tiny-v5", llama(16, 4, 512, rope_parameters=default_params(10000.0)), 100, "float32"),
        ("default-llama2-v4", llama(rope_theta=10000.0, rope_scaling=None), 4096, "float32"),
        ("default-theta500k-v5", llama(rope_parameters=default_params(500000.0)), 4096, "float32"),
        ("default-qwen2-theta1e6-v4", {**llama(rope_theta=1000000.0), "model_type": "qwen2"}, 4096, "float32"),
        (
            "default-gpt-neox-rotary-pct-v4",
            {
                "model_type": "gpt_neox",
                "hidden_size": 2048,
                "num_attention_heads": 8,
                "num_hidden_layers": 2,
                "intermediate_size": 64,
                "vocab_size": 100,
                "max_position_embeddings": 2048,
                "rotary_pct": 0.25,
                "rotary_emb_base": 10000,
            },
            4096,
            "float32",
        ),
        (
            "default-partial-0.5-v5",
            llama(64, 8, 4096, rope_parameters=default_params(10000.0, partial_rotary_factor=0.5)),
            4096,
            "float32",
        ),
        ("default-bf16", llama(16, 4, 512, rope_parameters=default_params(10000.0), dtype="bfloat16"), 100, "bfloat16"),
        ("default-f16-v4", llama(torch_dtype="float16", rope_theta=10000.0), 4096, "float16"),
        ("linear-2-v4", llama(rope_theta=10000.0, rope_scaling={"type": "linear", "factor": 2.0}), 4096, "float32"),
        (
            "linear-1.1-v5",
            llama(rope_parameters={"rope_type": "linear", "factor": 1.1, "rope_theta": 10000.0}),
            4096,
            "float32",
        ),
        (
            "dynamic-2-short-v4",
            llama(max_pos=2048, rope_theta=10000.0, rope_scaling={"type": "dynamic", "factor": 2.0}),
            1000,
            "float32",
        ),
        (
            "dynamic-2-long-v4",
            llama(max_pos=2048, rope_theta=10000.0, rope_scaling={"type": "dynamic", "factor": 2.0}),
            4096,
            "float32",
        ),
        (
            "dynamic-1.5-3001-v5",
            llama(max_pos=2048, rope_parameters={"rope_type": "dynamic", "factor": 1.5, "rope_theta": 10000.0}),
            3001,
            "float32",
        ),
        (
            "llama3.1-v4",
            llama(
                max_pos=131072,
                rope_theta=500000.0,
                rope_scaling={
                    "rope_type": "llama3",
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192,
                },
            ),
            4096,
            "float32",
        ),
        (
            "llama3.2-v5",
            llama(
                64,
                32,
                131072,
                rope_parameters={
                    "rope_type": "llama3",
                    "rope_theta": 500000.0,
                    "factor": 32.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192,
                },
            ),
            4096,
            "float32",
        ),
        (
            "yarn-qwen2.5-v4",
            {
                **llama(max_pos=32768, rope_theta=1000000.0),
                "model_type": "qwen2",
                "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
            },
            4096,
            "float32",
        ),
        (
            "yarn-mscale-deepseek-v5",
            llama(
                64,
                16,
                163840,
                rope_parameters={
                    "rope_type": "yarn",
                    "rope_theta": 10000.0,
                    "factor": 40.0,
                    "original_max_position_embeddings": 4096,
                    "beta_fast": 32,
                    "beta_slow": 1,
                    "mscale": 1.0,
                    "mscale_all_dim": 0.707,
                },
            ),
            4096,
            "float32",
        ),
        (
            "yarn-mscale-equal-v5",
            llama(
                64,
                16,
                163840,
                rope_parameters={
                    "rope_type": "yarn",
                    "rope_theta": 10000.0,
                    "factor": 40.0,
                    "original_max_position_embeddings": 4096,
                    "mscale": 0.707,
                    "mscale_all_dim": 0.707,
                },
            ),
            4096,
            "float32",
        ),
        (
            "yarn-no-truncate-gpt-oss-v5",
            llama(
                64,
                64,
                131072,
                rope_parameters={
                    "rope_type": "yarn",
                    "rope_theta": 150000.0,
                    "factor": 32.0,
                    "original_max_position_embeddings": 4096,
                    "beta_fast": 32.0,
                    "beta_slow": 1.0,
                    "truncate": False,
                },
            ),
            4096,
            "float32",
        ),
        (
            "yarn-attention-factor-v5",
            llama(
                128,
                8,
                65536,
                rope_parameters={
                    "rope_type": "yarn",
                    "rope_theta": 10000.0,
                    "factor": 8.0,
                    "original_max_position_embeddings": 8192,
                    "attention_factor": 1.5,
                    "beta_fast": 16,
                    "beta_slow": 2,
                },
            ),
            4096,
            "float32",
        ),
        (
            "yarn-factor-from-lengths-v5",
            llama(
                128,
                8,
                65536,
                rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "original_max_position_embeddings": 16384},
            ),
            4096,
            "float32",
        ),
        ("longrope-phi3-short-v4", phi3_128k, 1000, "float32"),
        ("longrope-phi3-long-v4", phi3_128k, 4097, "float32"),
        (
            "longrope-su-attention-factor-v4",
            {**phi3_128k, "rope_scaling": {**phi3_128k["rope_scaling"], "type": "su", "attention_factor": 1.25}},
            5000,
            "float32",
        ),
        # Phi-3 configs that call longrope 'yarn' (Phi3Config renames it), and one without
        # original_max_position_embeddings (Phi3Config's default, 4096, applies).
        ("longrope-phi3-yarn-alias-v4", {**phi3_128k, "rope_scaling": {**phi3_128k["rope_scaling"], "type": "yarn"}}, 5000, "float32"),
        (
            "longrope-phi3-default-original-v4",
            {k: v for k, v in phi3_128k.items() if k != "original_max_position_embeddings"},
            5000,
            "float32",
        ),
        (
            "longrope-factor-v5",
            llama(
                96,
                32,
                131072,
                rope_parameters={
                    "rope_type": "longrope",
                    "rope_theta": 10000.0,
                    "factor": 16.0,
                    "original_max_position_embeddings": 8192,
                    "short_factor": short96,
                    "long_factor": long96,
                },
            ),
            100,
            "float32",
        ),
    ]


# ---------------------------------------------------------------------------------------------------
# modeling_t5.T5Attention._relative_position_bucket
# ---------------------------------------------------------------------------------------------------


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1)
    )
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


# ---------------------------------------------------------------------------------------------------
# masking_utils
# ---------------------------------------------------------------------------------------------------


def and_masks(*mask_functions):
    def and_mask(batch_idx, head_idx, q_idx, kv_idx):
        result = q_idx.new_ones((), dtype=torch.bool)
        for mask in mask_functions:
            result = result & mask(batch_idx, head_idx, q_idx, kv_idx).to(result.device)
        return result

    return and_mask


def causal_mask_function(batch_idx, head_idx, q_idx, kv_idx):
    return kv_idx <= q_idx


def sliding_window_overlay(sliding_window):
    def inner_mask(batch_idx, head_idx, q_idx, kv_idx):
        return kv_idx > q_idx - sliding_window

    return inner_mask


def padding_mask_function(padding_mask):
    def inner_mask(batch_idx, head_idx, q_idx, kv_idx):
        return padding_mask[batch_idx, kv_idx]

    return inner_mask


def mask_case(lengths, seq, causal, window):
    padding = torch.tensor([[k < n for k in range(seq)] for n in lengths])
    fns = [padding_mask_function(padding)]
    if causal:
        fns.append(causal_mask_function)
    if window is not None:
        fns.append(sliding_window_overlay(window))
    fn = and_masks(*fns)
    b = torch.arange(len(lengths))[:, None, None]
    q = torch.arange(seq)[None, :, None]
    k = torch.arange(seq)[None, None, :]
    visible = fn(b, None, q, k).expand(len(lengths), seq, seq)
    return {"lengths": lengths, "seq": seq, "causal": causal, "window": window,
            "visible": visible.to(torch.int64).flatten().tolist()}


def main():
    torch.set_num_threads(1)
    cases = []
    for name, cfg, seq_len, dtype in rope_cases():
        inv_freq, scaling = rotary_embedding(cfg, seq_len, dtype)
        cos, sin = cos_sin(inv_freq, scaling)
        idx = torch.tensor(POSITIONS)
        cases.append({
            "name": name,
            "config": cfg,
            "seq_len": seq_len,
            "rope_type": standardize(cfg)["rope_type"],
            "inv_freq": f32list(inv_freq),
            "attention_scaling": float(scaling),
            "cos": f32list(cos[idx]),
            "sin": f32list(sin[idx]),
        })
        print(f"{name:34s} dim {2 * inv_freq.shape[0]:4d} scaling {scaling:.6f} inv_freq[-1] {inv_freq[-1].item():.6e}")

    rel = torch.arange(-1200, 1201)
    buckets = []
    for nb, md, bi in [(32, 128, True), (32, 128, False), (64, 256, True), (128, 512, False), (16, 20, True),
                       (16, 20, False), (8, 16, True), (4, 8, True), (320, 128, True)]:
        buckets.append({"num_buckets": nb, "max_distance": md, "bidirectional": bi,
                        "buckets": relative_position_bucket(rel, bi, nb, md).tolist()})

    masks = []
    for causal in (True, False):
        for window in (None, 1, 2, 3, 16):
            masks.append(mask_case([5, 3, 7, 1], 7, causal, window))
    masks.append(mask_case([20, 17], 20, True, 16))

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "rope.json"), "w") as f:
        json.dump({
            "generator": "scripts/reference/rope_reference.py",
            "torch": torch.__version__,
            "max_position": MAX_POSITION,
            "positions": POSITIONS,
            "rope": cases,
            "relative_first": -1200,
            "relative_buckets": buckets,
            "masks": masks,
        }, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(os.path.join(OUT, "rope.json")))


if __name__ == "__main__":
    main()
