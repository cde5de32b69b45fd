"""Command line for training one stage: basic-gpt/gpt.py and basic-gpt/bigram.py are thin wrappers around main().

python basic-gpt/gpt.py --stage pre-layernorm
python basic-gpt/gpt.py --stage scaled --preset full --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from basic_gpt.data import load_dataset
from basic_gpt.stages import PRESETS, STAGES
from basic_gpt.train import TrainConfig, build_model, sample, save_checkpoint, stage_settings, train
from scratch.device import pick_device
from scratch.files import atomic_write


def parser(default_stage: str = "scaled") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train one stage of the character-level GPT on Tiny Shakespeare.")
    # what to train
    p.add_argument("--stage", choices=list(STAGES), default=default_stage)
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="scaled stage only: cpu (baby GPT, 0.8M params) or full (the lecture's 10.8M); default cpu",
    )
    p.add_argument("--data", default=None, help="local text file (default: download Tiny Shakespeare, cached)")
    # model (default: the stage's settings)
    p.add_argument("--block-size", type=int)
    p.add_argument("--n-layer", type=int)
    p.add_argument("--n-head", type=int)
    p.add_argument("--n-embd", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--rope", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument(
        "--flash",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scaled stage: F.scaled_dot_product_attention instead of the written-out attention",
    )
    # training (default: the stage's settings)
    p.add_argument("--max-iters", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--min-lr", type=float)
    p.add_argument("--warmup-iters", type=int)
    p.add_argument("--schedule", choices=["constant", "cosine"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--eval-interval", type=int)
    p.add_argument(
        "--time-budget-s", type=float, help="train for this many seconds (evaluation excluded) instead of --max-iters"
    )
    p.add_argument("--seed", type=int, default=1337)
    # system
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    # output
    p.add_argument("--out-dir", default=None, help="default: runs/basic-gpt/STAGE")
    p.add_argument("--sample-len", type=int, default=500)
    p.add_argument("--prompt", default="\n")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, default_stage: str = "scaled") -> dict:
    args = parser(default_stage).parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    preset = args.preset or ("cpu" if args.stage == "scaled" else None)
    ds = load_dataset(args.data)
    ds.tokenizer.encode(args.prompt)  # a bad prompt fails now, not after training

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    train_cfg = TrainConfig(
        **(stage_settings(args.stage, preset)[1] | {k: v for k, v in overrides.items() if v is not None})
    )
    torch.manual_seed(args.seed)
    model = build_model(
        args.stage,
        ds.tokenizer.vocab_size,
        preset,
        block_size=args.block_size,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=args.dropout,
        rope=args.rope,
        tie_weights=args.tie_weights,
        flash=args.flash,
    ).to(device)
    out = Path(args.out_dir or f"runs/basic-gpt/{args.stage}")
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.jsonl"
    log.unlink(missing_ok=True)
    print(f"stage {args.stage}: {model.num_params():,} parameters, {model.config}, {train_cfg}, device {device}")

    history = train(model, ds.train, ds.val, train_cfg, log_path=log, progress=not args.no_progress)
    last = history[-1]
    save_checkpoint(out / "ckpt.pt", model, ds.tokenizer, args.stage, iter=last["iter"], val_loss=last["val_loss"])
    n = last["iter"]
    print(
        f"iter {n}: train {last['train_loss']:.4f}, val {last['val_loss']:.4f} (whole split); "
        f"{last['time_s']:.1f} s training ({1000 * last['time_s'] / max(n, 1):.1f} ms/iter wall, "
        f"{1000 * last['cpu_s'] / max(n, 1):.1f} ms/iter CPU); log {log}, checkpoint {out / 'ckpt.pt'}"
    )
    print("---\n" + sample(model, ds.tokenizer, args.prompt, args.sample_len, seed=args.seed))
    atomic_write(out / "summary.json", json.dumps(last | {"stage": args.stage, "params": model.num_params()}))
    return last
