"""How good is a model: val loss, bits per byte, HellaSwag accuracy and a short sample, as the trainer measures them
every `eval_every` steps (all ranks together) and as the demo measures a finished checkpoint.

    loss = val_loss(model, "data/edu10B", batch_size=64, seq_len=1024, d=Dist(), max_batches=20)
    bpb = bits_per_byte(loss, bytes_per_token("data/edu10B", "val"))    # comparable across tokenizers
    loss, bpb, bpt = evaluate_checkpoint("runs/demo/model/ckpt_000500.pt", "runs/demo/data", 16, 128, device)

    python -m gpt2.evaluate --ckpt runs/demo/model --data runs/demo/data --seq-len 128     # the whole val split
    python -m gpt2.evaluate --ckpt gpt2 --data data/edu10B        # OpenAI's GPT-2 124M: the reference line of plot.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from gpt2 import hellaswag
from gpt2.checkpoint import load_checkpoint, load_init_source, model_from_checkpoint
from gpt2.configs import TrainConfig
from gpt2.data import iter_eval_batches
from gpt2.distributed import Dist, all_reduce
from gpt2.model import GPT
from gpt2.shards import bytes_per_token, read_manifest
from scratch.cli import ArgumentParser, UsageError, positive_int, run
from scratch.device import pick_device

PROGRESS_AFTER_S = 3  # an evaluation shorter than this shows no progress bar (most in-training ones on a GPU)


@torch.no_grad()
def val_loss(
    model,
    data_dir: str,
    batch_size: int,
    seq_len: int,
    d: Dist,
    max_batches: int | None,
    autocast_dtype: torch.dtype | None = None,
) -> float:
    """Mean next-token loss (nats) over the val split, all ranks together (a progress bar on rank 0 once it has
    taken PROGRESS_AFTER_S seconds)."""
    model.eval()
    total = torch.zeros(2, device=d.device, dtype=torch.float64)  # (sum of batch losses, number of batches)
    batches = iter_eval_batches(
        data_dir, batch_size, seq_len, split="val", rank=d.rank, world_size=d.world_size, max_batches=max_batches
    )
    n = eval_batch_count(data_dir, batch_size, seq_len, d.world_size, max_batches)
    for x, y in tqdm(batches, total=n, desc="val loss", leave=False, delay=PROGRESS_AFTER_S, disable=not d.master):
        with torch.autocast(d.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            _, loss = model(x.to(d.device), y.to(d.device))
        total[0] += loss.double()
        total[1] += 1
    all_reduce(total, d)
    if total[1] == 0:
        raise ValueError(f"no val batches of {batch_size}x{seq_len} tokens in {data_dir}: lower --micro-batch")
    return (total[0] / total[1]).item()


def eval_batch_count(data_dir, batch_size: int, seq_len: int, world_size: int, max_batches: int | None) -> int:
    """How many batches iter_eval_batches yields (for the progress bar's estimate): full global batches of the val
    split's windows of seq_len + 1 tokens, at most max_batches."""
    shards = [s for s in read_manifest(data_dir, check_shards=False)["shards"] if s["split"] == "val"]
    n = sum(max(s["tokens"] - 1, 0) // seq_len for s in shards) // (world_size * batch_size)
    return n if max_batches is None else min(n, max_batches)


def bits_per_byte(loss_nats_per_token: float, bytes_per_token: float) -> float:
    """Tokenizer-independent loss: nats/token -> bits/token (/ ln 2) -> bits/byte (/ bytes per token)."""
    return loss_nats_per_token / math.log(2) / bytes_per_token


@torch.no_grad()
def sample_text(model, tok, prompt: str, max_new_tokens: int, device: torch.device, seed: int = 42) -> str:
    """A short top-k sample with its own generator (the training RNG stream is not touched)."""
    model.eval()
    g = torch.Generator(device=device).manual_seed(seed)
    idx = torch.tensor([tok.encode_ordinary(prompt)], dtype=torch.long, device=device)
    out = model.generate(idx, max_new_tokens, temperature=1.0, top_k=50, generator=g)
    return tok.decode(out[0].tolist())


def load_hellaswag(cfg: TrainConfig, master: bool) -> list[dict] | None:
    """The HellaSwag examples a run evaluates on (cfg.hellaswag: "auto", a path or None), or None to skip them."""
    if cfg.hellaswag is None:
        return None
    try:
        path = hellaswag.resolve_path(cfg.hellaswag)
    except ConnectionError:  # "auto" offline: train anyway, say so and how to choose
        if master:
            print(
                f"HellaSwag disabled: cannot download {hellaswag.URL} (offline?). Give a local copy with "
                "--hellaswag PATH/hellaswag_val.jsonl, or --hellaswag none to skip it without this message",
                file=sys.stderr,
            )
        return None
    return list(hellaswag.iter_examples(path, limit=cfg.hellaswag_examples))


def hellaswag_accuracy(
    model, tok, examples: list[dict], d: Dist, autocast_dtype: torch.dtype | None, block_size: int
) -> dict:
    """{"acc", "acc_norm", "n"} over EXAMPLES, each rank scoring its share and the counts summed across ranks."""
    counts = hellaswag.evaluate(
        model.eval(), tok, examples, d.device, d.rank, d.world_size, autocast_dtype, block_size, progress=d.master
    )
    t = torch.tensor([counts["n"], counts["correct"], counts["correct_norm"]], device=d.device)
    all_reduce(t, d)
    return hellaswag.accuracy(dict(zip(("n", "correct", "correct_norm"), t.tolist())))


def evaluate_checkpoint(
    path: str | Path, data_dir: str | Path, batch_size: int, seq_len: int, device: torch.device
) -> tuple[float, float, float]:
    """(val loss in nats/token, bits per byte, bytes per token) of a saved model over the whole val split (whose
    tokenizer must be the one the model was trained with)."""
    state = load_checkpoint(path)
    check_same_tokenizer(state, path, data_dir)
    model = model_from_checkpoint(state).to(device)
    amp = torch.bfloat16 if device.type == "cuda" else None
    loss = val_loss(model, str(data_dir), batch_size, seq_len, Dist(device=device), None, amp)
    bpt = bytes_per_token(data_dir, "val")
    return loss, bits_per_byte(loss, bpt), bpt


def check_same_tokenizer(state: dict, path, data_dir) -> None:
    """A checkpoint is evaluated only on shards of the tokenizer it was trained with (compared by hash)."""
    want, have = state.get("tokenizer_hash"), read_manifest(data_dir, check_shards=False)["tokenizer_hash"]
    if want is not None and want != have:
        raise ValueError(
            f"checkpoint {path} was trained with another tokenizer than the shards in {data_dir} were made with "
            f"(sha256 {want[:12]}... vs {have[:12]}...): evaluate it on shards of its own tokenizer"
        )


def main(argv: list[str] | None = None) -> int:
    """Val loss, bits per byte and bytes per token of a checkpoint (or run folder, or OpenAI's `gpt2`) over the whole
    val split of shards made with its tokenizer."""
    p = ArgumentParser(description="Evaluate a checkpoint on the val split of prepared shards; see gpt2/evaluate.py.")
    p.add_argument("--ckpt", required=True, help="a checkpoint or run folder of gpt-2/train.py, or gpt2 (OpenAI's)")
    p.add_argument("--data", required=True, help="shards written by gpt-2/prepare.py with the model's tokenizer")
    p.add_argument("--seq-len", type=positive_int, default=None, help="default: the model's block size")
    p.add_argument("--micro-batch", type=positive_int, default=8)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    args = p.parse_args(argv)
    # the same loading and tokenizer record as fine-tuning's
    source = load_init_source(args.ckpt, instead="evaluate a checkpoint instead with --ckpt PATH")
    manifest = read_manifest(args.data)
    if source.provenance["tokenizer_hash"] != manifest["tokenizer_hash"]:
        raise ValueError(
            f"--ckpt {args.ckpt} was trained with tokenizer {source.provenance['tokenizer']} but the shards in "
            f"{args.data} were made with {manifest['tokenizer']}: evaluate it on shards of its own tokenizer"
        )
    device = pick_device(args.device)
    model = GPT(source.config)
    model.load_state_dict(source.weights)
    seq_len = args.seq_len or source.config.block_size
    if seq_len > source.config.block_size:
        raise UsageError(f"--seq-len {seq_len}: the model's context is {source.config.block_size} tokens")
    amp = torch.bfloat16 if device.type == "cuda" else None
    loss = val_loss(model.to(device), args.data, args.micro_batch, seq_len, Dist(device=device), None, amp)
    bpt = bytes_per_token(args.data, "val")
    print(f"val loss {loss:.4f} | bits per byte {bits_per_byte(loss, bpt):.4f} | bytes per token {bpt:.3f}")
    return 0


if __name__ == "__main__":
    run(main)
