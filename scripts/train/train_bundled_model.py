"""Trains codeneurons' bundled model, models/codeneurons-java-tiny: a small RoBERTa masked LM on Java.

Run from the repository root (Debian's python3 with python3-torch 1.13; about 30 minutes on 2 cores):

    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 scripts/train/train_bundled_model.py \
        --steps 900 --batch-tokens 2048

(the shipped model was trained with exactly this command. Debian's OpenBLAS 0.3.21 does not recognise
AVX-512 CPUs like this machine's and, with OPENBLAS_CORETYPE unset, falls back to kernels about 4x
slower; name the kernel your CPU supports: SkylakeX for AVX-512, Haswell for AVX2).
It is a one-off: codeneurons never runs Python. The script
1. trains a byte-level BPE tokenizer (RoBERTa style, bpe.py) on ../shared/data/java-token-lines/train.in
   only, and writes vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json;
2. trains RobertaForMaskedLM (scripts/reference/hf_models.py) with the standard MLM objective (15% of
   tokens; 80% <mask>, 10% random, 10% unchanged), AdamW with linear warm-up and decay, batches of
   similar-length lines plus some packed runs of consecutive lines (so that every position is trained),
   checkpointing to scratch/train-bundled/ (rerun with --resume after a crash);
3. evaluates masked-token accuracy on a fixed, seeded masking of valid.in lines against the unigram
   baseline (always predict the most frequent train token), overall and per coarse word kind;
4. saves config.json, model.safetensors (float16, transformers' names; the tied decoder weight is omitted
   as transformers omits it), training.json and the model card README.md;
5. runs verify_bundled_model.py: reloads the saved files by hand, re-evaluates, checks tokenizer.json
   against vocab.json + merges.txt, and writes the reference hidden states under test/fixtures/bundled/.

Every random choice derives from --seed; with the same seed and thread count the files are identical.
"""
import argparse
import hashlib
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
import mlm  # noqa: E402
import verify_bundled_model  # noqa: E402

MODEL_NAME = "codeneurons-java-tiny"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.normpath(os.path.join(REPO, "..", "shared", "data", "java-token-lines")))
    p.add_argument("--out", default=os.path.join(REPO, "models", MODEL_NAME))
    p.add_argument("--work", default=os.path.join(REPO, "scratch", "train-bundled"), help="checkpoints (not committed)")
    p.add_argument("--fixtures", default=os.path.join(REPO, "test", "fixtures", "bundled"))
    p.add_argument("--seed", type=int, default=20230501)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocab-size", type=int, default=5000)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch-tokens", type=int, default=1024, help="padded tokens per batch")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    p.add_argument("--pack-fraction", type=float, default=0.1, help="packed multi-line chunks per epoch, as a fraction")
    p.add_argument("--eval-lines", type=int, default=3000)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--resume", action="store_true")
    return p.parse_args()


def model_config(vocab_size):
    return {
        "architectures": ["RobertaForMaskedLM"],
        "model_type": "roberta",
        "vocab_size": vocab_size,
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 258,  # 256 tokens: RoBERTa's position ids start at pad + 1 = 2
        "type_vocab_size": 1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-05,
        "pad_token_id": mlm.PAD,
        "bos_token_id": mlm.BOS,
        "eos_token_id": mlm.EOS,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "use_cache": True,
        "torch_dtype": "float16",
    }


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def write_json_atomic(path, value):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ tokenizer
def build_tokenizer(train_words, vocab_size, out_dir, max_tokens):
    counts = bpe.count_pieces(" ".join(words) for words in train_words)
    vocab, merges = bpe.train_bpe(counts, vocab_size, progress=log)
    tmp = f"{out_dir}/.tokenizer-tmp"
    os.makedirs(tmp, exist_ok=True)
    bpe.write_vocab_and_merges(tmp, vocab, merges)
    os.replace(f"{tmp}/vocab.json", f"{out_dir}/vocab.json")
    os.replace(f"{tmp}/merges.txt", f"{out_dir}/merges.txt")
    os.rmdir(tmp)
    write_json_atomic(f"{out_dir}/tokenizer.json", bpe.tokenizer_json(vocab, merges))
    write_json_atomic(f"{out_dir}/tokenizer_config.json", bpe.tokenizer_config(max_tokens))
    write_json_atomic(f"{out_dir}/special_tokens_map.json", bpe.special_tokens_map())
    return bpe.ByteLevelBPE(vocab, merges)


def encode_corpus(tok, lines, lead_space=False):
    """Token ids per line and the kind of the word each token belongs to."""
    ids_out, kinds_out = [], []
    for words in lines:
        ids, word_of = tok.encode_words(([""] if lead_space else []) + words)
        if lead_space:  # "" as a first word makes every real word carry its leading space
            word_of = [w - 1 for w in word_of]
        kinds = [mlm.word_kind(words[w]) for w in word_of]
        ids_out.append(ids)
        kinds_out.append(kinds)
    return ids_out, kinds_out


# ------------------------------------------------------------------------------------------ batches
def epoch_batches(epoch, seed, train_ids, spaced_ids, batch_tokens, pack_fraction, max_tokens):
    """The batches of one epoch, a pure function of (seed, epoch) so that --resume replays them.

    Single lines are shuffled, sorted by length within windows of 64 batches (little padding), and cut
    into batches of at most batch_tokens padded tokens; a pack_fraction share of chunks of consecutive
    lines (joined by spaces, as one longer line, up to max_tokens) trains the positions that single
    lines never reach. Batches are then shuffled.
    """
    rnd = random.Random(seed * 1000 + epoch)
    sequences = [ids[: max_tokens] for ids in train_ids]
    order = list(range(len(sequences)))
    rnd.shuffle(order)
    sequences = [sequences[i] for i in order]
    sequences += [c for c in _packed_chunks(rnd, train_ids, spaced_ids, max_tokens) if rnd.random() < pack_fraction]
    window = max(1, batch_tokens // 20) * 64
    batches = []
    for start in range(0, len(sequences), window):
        part = sorted(sequences[start : start + window], key=len)
        idx = list(range(len(part)))
        batches += [[part[i] for i in b] for b in mlm._length_batches(idx, lambda i: len(part[i]) + 2, batch_tokens)]
    rnd.shuffle(batches)
    return batches


def _packed_chunks(rnd, train_ids, spaced_ids, max_tokens):
    start = rnd.randrange(len(train_ids))
    chunk = []
    for k in range(len(train_ids)):
        i = (start + k) % len(train_ids)
        piece = train_ids[i] if not chunk else spaced_ids[i]
        if chunk and len(chunk) + len(piece) > max_tokens:
            yield chunk
            chunk, piece = [], train_ids[i]
        chunk = chunk + piece[: max_tokens]
    if chunk:
        yield chunk


def batch_stream(seed, train_ids, spaced_ids, args, max_tokens):
    epoch = 0
    while True:
        for batch in epoch_batches(epoch, seed, train_ids, spaced_ids, args.batch_tokens, args.pack_fraction, max_tokens):
            yield epoch, batch
        epoch += 1


def mask_batch(seqs, step, seed, vocab_size):
    """Standard MLM corruption: 15% of non-special tokens; of those 80% <mask>, 10% random, 10% kept."""
    g = torch.Generator().manual_seed(seed * 100003 + step)
    ids, att = mlm.pad_batch([[mlm.BOS] + s + [mlm.EOS] for s in seqs])
    special = ids < mlm.N_SPECIAL
    selected = (torch.rand(ids.shape, generator=g) < 0.15) & ~special
    labels = ids[selected]
    r = torch.rand(ids.shape, generator=g)
    random_ids = torch.randint(mlm.N_SPECIAL, vocab_size, ids.shape, generator=g)
    corrupted = ids.clone()
    corrupted[selected & (r < 0.8)] = mlm.MASK
    swap = selected & (r >= 0.8) & (r < 0.9)
    corrupted[swap] = random_ids[swap]
    return corrupted, att, selected, labels


# ------------------------------------------------------------------------------------------ training
def make_optimizer(model, args):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, int(args.warmup * args.steps))

    def schedule(step):
        return (step + 1) / warmup if step < warmup else max(0.0, (args.steps - step) / max(1, args.steps - warmup))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule), warmup


def save_checkpoint(path, model, opt, sched, step, losses, probes, elapsed):
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step, "losses": losses, "probes": probes, "elapsed": elapsed}, tmp)
    os.replace(tmp, path)


def train(model, cfg, train_ids, spaced_ids, valid_probe, unigram_id, args, max_tokens):
    opt, sched, warmup = make_optimizer(model, args)
    ckpt_path = os.path.join(args.work, "checkpoint.pt")
    step, losses, elapsed, probes = 0, [], 0.0, []
    if args.resume and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, losses, probes, elapsed = state["step"], state["losses"], state["probes"], state["elapsed"]
        log(f"resumed at step {step}")
    stream = batch_stream(args.seed, train_ids, spaced_ids, args, max_tokens)
    for _ in range(step):
        next(stream)  # replay the batch order up to the checkpoint
    model.train()
    started, tokens, epoch = time.time() - elapsed, 0, 0
    while step < args.steps:
        epoch, seqs = next(stream)
        ids, att, selected, labels = mask_batch(seqs, step, args.seed, cfg["vocab_size"])
        loss = F.cross_entropy(mlm.masked_logits(model, ids, att, selected), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        tokens += int(att.sum())
        losses.append(round(loss.item(), 4))
        if step % 10 == 0 or step == args.steps:
            spent = time.time() - started
            recent = sum(losses[-10:]) / len(losses[-10:])
            eta = spent / step * (args.steps - step)
            log(f"step {step}/{args.steps} epoch {epoch} loss {recent:.3f} lr {sched.get_last_lr()[0]:.2e} {spent:.0f}s eta {eta:.0f}s")
        if step % 200 == 0 or step == args.steps:
            acc = mlm.evaluate(model, valid_probe, unigram_id)["all"]["accuracy"]
            probes.append({"step": step, "valid_probe_accuracy": round(acc, 4)})
            log(f"step {step}: masked-token accuracy on {len(valid_probe)} valid lines {acc:.4f}")
        if step % args.checkpoint_every == 0 or step == args.steps:
            save_checkpoint(ckpt_path, model, opt, sched, step, losses, probes, time.time() - started)
    return {"steps": step, "epochs_seen": epoch + 1, "warmup_steps": warmup, "seconds": round(time.time() - started, 1), "losses": losses, "probes": probes}


def loss_summary(losses, buckets=20):
    size = max(1, len(losses) // buckets)
    return [{"steps": f"{i + 1}-{min(i + size, len(losses))}", "mean_loss": round(sum(losses[i : i + size]) / len(losses[i : i + size]), 4)} for i in range(0, len(losses), size)]


# ------------------------------------------------------------------------------------------ saving
def save_model(model, cfg, out_dir):
    """float16 safetensors with transformers' names; the tied lm_head.decoder.* are left out, as
    transformers leaves them out (decoder.weight is the word embeddings, decoder.bias is lm_head.bias)."""
    state = {k: v.to(torch.float16) for k, v in model.state_dict().items() if not k.startswith("lm_head.decoder.")}
    for name, t in state.items():
        if not torch.isfinite(t).all():
            raise RuntimeError(f"{name} overflows float16")
    tmp = f"{out_dir}/model.safetensors.tmp-{os.getpid()}"
    verify_bundled_model.hf_models.save_safetensors(tmp, state, metadata={"format": "pt"})
    os.replace(tmp, f"{out_dir}/model.safetensors")
    write_json_atomic(f"{out_dir}/config.json", cfg)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    wall_start = time.time()

    train_path, valid_path = os.path.join(args.data, "train.in"), os.path.join(args.data, "valid.in")
    train_words, valid_words = mlm.read_lines(train_path), mlm.read_lines(valid_path)
    cfg = model_config(args.vocab_size)
    # RoBERTa's position ids run from pad + 1 = 2, so a sequence holds max_position_embeddings - 2 = 256
    # tokens, <s> and </s> included.
    max_sequence = cfg["max_position_embeddings"] - mlm.PAD - 1
    max_tokens = max_sequence - 2
    log(f"{len(train_words)} train lines, {len(valid_words)} valid lines; training the tokenizer")
    tok = build_tokenizer(train_words, args.vocab_size, args.out, max_sequence)
    train_ids, _ = encode_corpus(tok, train_words)
    spaced_ids, _ = encode_corpus(tok, train_words, lead_space=True)
    valid_ids, valid_kinds = encode_corpus(tok, valid_words)
    counts = torch.bincount(torch.tensor([t for ids in train_ids for t in ids]), minlength=args.vocab_size)
    unigram_id = int(counts.argmax())
    n_train_tokens = int(counts.sum())
    log(f"{n_train_tokens} train tokens; most frequent {tok_name(tok, unigram_id)!r}")

    model = mlm.build_model(cfg)
    for layer in model.roberta.encoder.layer:
        layer.intermediate.act = F.gelu  # the same exact-erf GELU as hf_models' gelu_erf, in one fused op
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters")
    probe = mlm.eval_set(valid_ids, valid_kinds, args.seed + 1, 300)
    history = train(model, cfg, train_ids, spaced_ids, probe, unigram_id, args, max_tokens)

    log("evaluating (float32 weights)")
    items = mlm.eval_set(valid_ids, valid_kinds, args.seed, args.eval_lines)
    eval32 = mlm.evaluate(model, items, unigram_id)
    save_model(model, cfg, args.out)
    record = {
        "model": MODEL_NAME,
        "seed": args.seed,
        "torch_threads": args.threads,
        "torch_version": torch.__version__,
        "corpus": {
            "train": {"file": "java-token-lines/train.in", "sha256": sha256_of(train_path), "lines": len(train_words), "tokens": n_train_tokens},
            "valid": {"file": "java-token-lines/valid.in", "sha256": sha256_of(valid_path), "lines": len(valid_words)},
        },
        "tokenizer": {"type": "byte-level BPE (GPT-2/RoBERTa)", "vocab_size": len(tok.vocab), "merges": len(tok.ranks), "trained_on": "train.in only"},
        "model_parameters": n_params,
        "hyperparameters": {
            "objective": "masked LM: 15% of tokens; 80% <mask>, 10% random, 10% unchanged",
            "optimizer": "AdamW betas (0.9, 0.98) eps 1e-6, weight decay 0.01 (not on biases and LayerNorm)",
            "lr": args.lr,
            "schedule": "linear warm-up then linear decay to 0",
            "warmup_steps": history["warmup_steps"],
            "steps": args.steps,
            "batch_tokens": args.batch_tokens,
            "pack_fraction": args.pack_fraction,
            "grad_clip": 1.0,
            "dropout": 0.0,
        },
        "training": {
            "seconds": history["seconds"],
            "epochs_seen": history["epochs_seen"],
            "first_loss": history["losses"][0],
            "final_loss_mean_last_50": round(sum(history["losses"][-50:]) / len(history["losses"][-50:]), 4),
            "loss_curve": loss_summary(history["losses"]),
            "valid_probes": history["probes"],
        },
        "evaluation": {
            "set": f"{len(items)} valid.in lines (seed {args.seed}), 15% of their tokens replaced by <mask>",
            "unigram_token": tok_name(tok, unigram_id),
            "float32": eval32,
        },
    }
    write_json_atomic(f"{args.out}/training.json", record)
    log("verifying the saved files")
    verify_bundled_model.verify(args.out, args.data, args.fixtures, args.seed, args.eval_lines, args.threads)
    record = json.load(open(f"{args.out}/training.json", encoding="utf-8"))
    record["training"]["wall_seconds_total"] = round(time.time() - wall_start, 1)
    write_json_atomic(f"{args.out}/training.json", record)
    verify_bundled_model.write_model_card(args.out)
    log(f"done in {time.time() - wall_start:.0f}s")


def tok_name(tok, token_id):
    inverse = {v: k for k, v in tok.vocab.items()}
    return inverse[token_id]


if __name__ == "__main__":
    main()
