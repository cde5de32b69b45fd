"""Command line for training one stage: basic-gpt/gpt.py and basic-gpt/bigram.py are thin wrappers around main().

python basic-gpt/gpt.py --stage pre-layernorm
python basic-gpt/gpt.py --stage scaled --preset full --device cuda
python basic-gpt/gpt.py --init-from runs/basic-gpt/scaled --data input.txt --out-dir runs/basic-gpt/ft  # fine-tune

Every flag is checked when it is parsed (and against the data before training starts); a mistake is one line on
stderr and exit code 2 (scratch.cli). A run never replaces the ckpt.pt, log.jsonl or summary.json of an earlier run
unless --overwrite is given, and each of them records what it was made from (data identity, configs, command).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from basic_gpt.data import CharTokenizer, Dataset, check_text_file, load_dataset
from basic_gpt.stages import PRESETS, STAGES
from basic_gpt.train import (
    TrainConfig,
    build_model,
    load_checkpoint,
    sample,
    save_checkpoint,
    stage_settings,
    train,
)
from scratch.cli import (
    ArgumentParser,
    UsageError,
    non_negative_float,
    non_negative_int,
    one_line,
    positive_float,
    positive_int,
)
from scratch.device import pick_device
from scratch.files import atomic_write, remove_stale_temps

ARTEFACTS = ("ckpt.pt", "log.jsonl", "summary.json")
THREADS_HELP = "torch CPU threads (default: torch's choice, every core; 1 is kinder on a shared machine)"


# ------------------------------------------------------------------------------------------------ flag types
def text_file(text: str) -> Path:
    """argparse type: an existing, non-empty regular file."""
    try:
        return check_text_file(text)
    except (OSError, ValueError) as e:
        raise argparse.ArgumentTypeError(one_line(e)) from None


def dropout_rate(text: str) -> float:
    """argparse type: a probability in [0, 1) (1 would drop everything)."""
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} is out of range: must be a number in [0, 1)")
    return value


def prompt_text(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("the prompt is empty: give at least one character (default: a newline)")
    return text


def checkpoint_file(text: str) -> Path:
    """argparse type: a ckpt.pt written by gpt.py, or a run folder holding one."""
    path = Path(text) / "ckpt.pt" if Path(text).is_dir() else Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such checkpoint (a ckpt.pt written by gpt.py, or its folder)")
    return path


def output_folder(text: str) -> Path:
    """argparse type: a folder, existing or not (an existing file is refused: nothing is written over it)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder: pass a folder for the run's files")
    return path


# ------------------------------------------------------------------------------------------------ run folders
def check_run_folder(out: Path, overwrite: bool, names: Sequence[str] = ARTEFACTS) -> None:
    """Refuse to write into a folder that already holds one of this command's artefacts, unless overwrite."""
    taken = [name for name in names if (out / name).exists()]
    if taken and not overwrite:
        raise UsageError(
            f"{out} already holds a run ({', '.join(taken)}): pass another --out-dir, or --overwrite to replace "
            f"its {', '.join(names)}"
        )


def claim_run_folder(out: Path, overwrite: bool, names: Sequence[str] = ARTEFACTS) -> None:
    """check_run_folder, then make the folder ready: with overwrite the earlier run's artefacts (only those) are
    removed now, so the folder never mixes two runs; temp files of a killed earlier save are removed too."""
    check_run_folder(out, overwrite, names)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        (out / name).unlink(missing_ok=True)
    remove_stale_temps(out)


# ------------------------------------------------------------------------------------------------ gpt.py
def parser(default_stage: str = "scaled") -> argparse.ArgumentParser:
    p = ArgumentParser(description="Train one stage of the character-level GPT on Tiny Shakespeare.")
    # what to train
    p.add_argument("--stage", choices=list(STAGES), default=default_stage)
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="scaled stage only: cpu (baby GPT, 0.8M params) or full (the lecture's 10.8M); default cpu",
    )
    p.add_argument(
        "--data", type=text_file, default=None, help="local text file (default: download Tiny Shakespeare, cached)"
    )
    p.add_argument(
        "--init-from",
        type=checkpoint_file,
        default=None,
        help="fine-tune: start from this ckpt.pt (or run folder) of gpt.py: its stage, model and vocabulary; a fresh "
        "optimizer and schedule (not with the model flags)",
    )
    # model (default: the stage's settings)
    p.add_argument("--block-size", type=positive_int, help="context length; at most the val split's length - 1")
    p.add_argument("--n-layer", type=positive_int)
    p.add_argument("--n-head", type=positive_int, help="must divide --n-embd")
    p.add_argument("--n-embd", type=positive_int)
    p.add_argument("--dropout", type=dropout_rate, help="in [0, 1)")
    p.add_argument("--rope", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument(
        "--flash",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scaled stage: F.scaled_dot_product_attention instead of the written-out attention",
    )
    # training (default: the stage's settings)
    p.add_argument("--max-iters", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=positive_float)
    p.add_argument("--min-lr", type=non_negative_float, help="cosine floor, at most --lr")
    p.add_argument("--warmup-iters", type=non_negative_int)
    p.add_argument("--schedule", choices=["constant", "cosine"])
    p.add_argument("--weight-decay", type=non_negative_float)
    p.add_argument("--eval-interval", type=non_negative_int, help="0: evaluate only at the start and the end")
    p.add_argument(
        "--time-budget-s",
        type=positive_float,
        help="train for this many seconds (evaluation excluded) instead of --max-iters",
    )
    p.add_argument("--seed", type=non_negative_int, default=1337)
    # system
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--threads", type=positive_int, default=None, help=THREADS_HELP)
    # output
    p.add_argument("--out-dir", type=output_folder, default=None, help="default: runs/basic-gpt/STAGE")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the ckpt.pt, log.jsonl and summary.json of --out-dir"
    )
    p.add_argument("--sample-len", type=non_negative_int, default=500)
    p.add_argument("--prompt", type=prompt_text, default="\n")
    p.add_argument("--no-progress", action="store_true")
    return p


def check_against_data(stage: str, model: dict, cfg: TrainConfig, ds: Dataset, prompt: str | None) -> None:
    """The checks that need the data or several flags at once; UsageError naming the flag."""
    T, shortest = model["block_size"], min(len(ds.train), len(ds.val))
    if T >= shortest:
        raise UsageError(
            f"argument --block-size: {T} is too long for {ds.source.get('path')}: its shorter split has {shortest} "
            f"characters (val is the last 10%), so --block-size must be <= {shortest - 1}; or pass a longer --data"
        )
    if stage not in ("bigram", "single-head"):
        if model["n_embd"] % model["n_head"]:
            raise UsageError(f"argument --n-head: {model['n_head']} must divide --n-embd {model['n_embd']}")
        if model.get("rope") and (model["n_embd"] // model["n_head"]) % 2:
            raise UsageError("argument --n-head: with --rope the head size (--n-embd / --n-head) must be even")
    if cfg.min_lr is not None and cfg.min_lr > cfg.lr:
        raise UsageError(f"argument --min-lr: {cfg.min_lr} must be <= --lr {cfg.lr}")
    try:
        if prompt is not None:
            ds.tokenizer.encode(prompt)  # a bad prompt fails now, not after training
    except ValueError as e:
        raise UsageError(f"argument --prompt: {e}") from None


def provenance(stage: str, preset: str | None, model_cfg: dict, cfg: TrainConfig, ds: Dataset, argv) -> dict:
    """What a run was made from: recorded in its log, checkpoint and summary."""
    return dict(
        stage=stage,
        preset=preset,
        model_config=model_cfg,
        train_config=dataclasses.asdict(cfg),
        data=ds.source,
        vocab=ds.tokenizer.chars,
        command=list(sys.argv) if argv is None else ["basic_gpt.cli.main", *argv],
        torch=str(torch.__version__),  # a plain str: torch.load(weights_only=True) refuses TorchVersion
    )


def fine_tune_source(path: Path, ds: Dataset, model_overrides: dict, device) -> tuple:
    """--init-from: (model, its stage, its preset, the data encoded with its vocabulary, provenance). The new text
    may use only characters the source's vocabulary has (the embedding rows are the vocabulary)."""
    if model_overrides:
        flags = ", ".join("--" + k.replace("_", "-") for k in model_overrides)
        raise UsageError(f"--init-from takes the model from {path}: leave out {flags}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model, tok = load_checkpoint(path, device)
    missing = [c for c in ds.tokenizer.chars if c not in tok.stoi]
    if missing:
        raise UsageError(
            f"--data {ds.source.get('path')} has {len(missing)} character(s) the vocabulary of --init-from {path} "
            f"lacks (e.g. {''.join(missing[:8])!r}): fine-tune on text made of its {tok.vocab_size} characters"
        )
    lut = torch.tensor(tok.encode(ds.tokenizer.chars), dtype=torch.long)  # new id -> the source's id
    data = Dataset(lut[ds.train], lut[ds.val], CharTokenizer(tok.chars), ds.source)
    run = ckpt.get("run", {})
    info = {"path": str(path.resolve()), "iter": ckpt.get("iter"), "data": run.get("data"), "stage": ckpt["stage"]}
    return model, ckpt["stage"], run.get("preset"), data, info


def train_run(argv: list[str] | None = None, default_stage: str = "scaled") -> dict:
    """Parse, check, train, checkpoint, sample; returns the last evaluation record."""
    args = parser(default_stage).parse_args(argv)
    out = args.out_dir or Path(f"runs/basic-gpt/{args.stage}")
    check_run_folder(out, args.overwrite)  # before the data loads (it may download)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    preset = args.preset or ("cpu" if args.stage == "scaled" else None)
    ds = load_dataset(args.data)
    model_flags = ("block_size", "n_layer", "n_head", "n_embd", "dropout", "rope", "tie_weights", "flash")
    model_overrides = {k: getattr(args, k) for k in model_flags if getattr(args, k) is not None}
    source = init = None
    if args.init_from:  # the source's stage, model and vocabulary; the run's own optimizer and schedule
        source, args.stage, preset, ds, init = fine_tune_source(args.init_from, ds, model_overrides, device)
        model_overrides = dataclasses.asdict(source.config)
        model_overrides.pop("vocab_size")

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    train_cfg = TrainConfig(
        **(stage_settings(args.stage, preset)[1] | {k: v for k, v in overrides.items() if v is not None})
    )
    check_against_data(args.stage, stage_settings(args.stage, preset)[0] | model_overrides, train_cfg, ds, args.prompt)
    torch.manual_seed(args.seed)
    model = source or build_model(args.stage, ds.tokenizer.vocab_size, preset, **model_overrides).to(device)

    claim_run_folder(out, args.overwrite)
    record = provenance(args.stage, preset, dataclasses.asdict(model.config), train_cfg, ds, argv) | {"init_from": init}
    log = out / "log.jsonl"
    log.write_text(json.dumps({"run": record}) + "\n")  # first line: what the losses below were made from
    print(f"stage {args.stage}: {model.num_params():,} parameters, {model.config}, {train_cfg}, device {device}")

    history = train(model, ds.train, ds.val, train_cfg, log_path=log, progress=not args.no_progress)
    last = history[-1]
    save_checkpoint(
        out / "ckpt.pt", model, ds.tokenizer, args.stage, iter=last["iter"], val_loss=last["val_loss"], run=record
    )
    n = last["iter"]
    print(
        f"iter {n}: train {last['train_loss']:.4f}, val {last['val_loss']:.4f} (whole split); "
        f"{last['time_s']:.1f} s training ({1000 * last['time_s'] / max(n, 1):.1f} ms/iter wall, "
        f"{1000 * last['cpu_s'] / max(n, 1):.1f} ms/iter CPU); log {log}, checkpoint {out / 'ckpt.pt'}"
    )
    if args.sample_len:
        print("---\n" + sample(model, ds.tokenizer, args.prompt, args.sample_len, seed=args.seed))
    summary = last | {"stage": args.stage, "params": model.num_params(), "run": record}
    atomic_write(out / "summary.json", json.dumps(summary, indent=1))
    return last


def main(argv: list[str] | None = None, default_stage: str = "scaled") -> int:
    """Entry point for scratch.cli.run: train_run, exit code 0."""
    train_run(argv, default_stage)
    return 0
