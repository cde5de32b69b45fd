"""The GPT-2 trainer: one of the named experiments (gpt2.configs) on prepared shards, one GPU, many GPUs, or a laptop.

    python gpt-2/train.py --config rope --data data/edu10B                  # one GPU (or CPU)
    torchrun --standalone --nproc_per_node=8 gpt-2/train.py --config rope            # 8 GPUs, one node
    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 --rdzv-backend=c10d \\
        --rdzv-endpoint=HOST:29500 gpt-2/train.py --config rope                      # 2 nodes (node_rank 1 there)
    python gpt-2/train.py --config rope --model tiny --data runs/data/shakespeare \\
        --total-batch-tokens 8192 --micro-batch 16 --max-steps 200                   # minutes on a laptop CPU
    python gpt-2/train.py --config rope --init-from runs/gpt2/rope --data runs/data/shakespeare \
        --run-name rope-shakespeare --max-lr 3e-5 --max-steps 100                    # fine-tune (or --init-from gpt2)

--init-from takes the weights and architecture of its source (nanoGPT's finetune) but starts a fresh optimizer,
schedule and loader; its shards must have the source's tokenizer. --block-size widens a preset's context.

One optimizer step sees `total_batch_tokens` tokens: micro-batches of (micro_batch, seq_len) on every rank, gradients
accumulated over `grad_accum_steps` micro-steps and averaged across ranks (DDP syncs only on the last micro-step).
AdamW (0.9, 0.95), weight decay 0.1 on matrices, gradient clipping at 1.0, linear warmup then cosine to 10% of the max
lr over one epoch of the training shards (or --max-steps). bf16 autocast + TF32 on CUDA.

Every `eval_every` steps: val loss, bits per byte (val loss / ln 2 / UTF-8 bytes per token, from the shard manifest),
HellaSwag acc_norm, and a short sample. Everything goes to RUN_DIR/log.jsonl (plot with gpt-2/plot.py). Checkpoints
RUN_DIR/ckpt_STEP.pt every `ckpt_every` steps and at the end, the last `keep_last` kept; `--resume` continues exactly
(model, optimizer, loader position, RNG states). SIGTERM / SIGINT save a checkpoint and exit cleanly; a non-finite
loss stops the run before the update, leaving the last good checkpoint as it was.

This file is the algorithm: `train_step` (one optimizer step) and `train` (setup, then the loop), and the CLI. The
machinery around it has its own modules: gpt2.distributed (ranks, all-reduce, the graceful stop), gpt2.checkpoint
(rotation, resume, RNG state), gpt2.evaluate (val loss, bits per byte, HellaSwag, samples), gpt2.runlog (log.jsonl,
wandb), gpt2.configs (the experiments and the checks of a TrainConfig).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from gpt2 import flops
from gpt2.checkpoint import (
    PRETRAINED,
    check_run_dir,
    checked_tokenizer,
    clear_run_dir,
    init_model_config,
    list_checkpoints,
    load_init_source,
    resolve_resume,
    restore_run,
    rng_state,
    save_rotating,
)
from gpt2.configs import EXPERIMENTS, TrainConfig, model_overrides, resolve
from gpt2.data import make_loader
from gpt2.distributed import Dist, GracefulStop, all_reduce, setup_distributed, stop_agreed, teardown
from gpt2.evaluate import bits_per_byte, hellaswag_accuracy, load_hellaswag, sample_text, val_loss
from gpt2.model import GPT, GPTConfig
from gpt2.runlog import RunLog, git_commit, start_wandb
from gpt2.schedule import get_lr
from gpt2.shards import MANIFEST, bytes_per_token, read_manifest
from scratch.cli import (
    ArgumentParser,
    UsageError,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run,
)
from scratch.files import remove_stale_temps


class NonFiniteLoss(RuntimeError):
    """The loss or gradient norm became NaN/inf; the update was not applied."""


# -----------------------------------------------------------------------------
# one optimizer step


def train_step(
    model,
    optimizer,
    next_batch,
    grad_accum: int,
    lr: float,
    grad_clip: float,
    d: Dist,
    autocast_dtype: torch.dtype | None = None,
) -> tuple[float, float]:
    """Accumulate GRAD_ACCUM micro-batches (syncing DDP gradients only on the last), clip, update.

    Returns (mean loss over the step's micro-batches and ranks, gradient norm before clipping). Raises NonFiniteLoss
    (before touching the parameters) when either is NaN/inf.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss_accum = torch.zeros((), device=d.device)
    for micro in range(grad_accum):
        x, y = next_batch()
        x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
        last = micro == grad_accum - 1
        sync = contextlib.nullcontext() if last or not isinstance(model, DDP) else model.no_sync()
        with sync:
            with torch.autocast(d.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                _, loss = model(x, y)
            loss = loss / grad_accum  # the gradient of the mean over all micro-batches
            loss_accum += loss.detach()
            loss.backward()
    all_reduce(loss_accum, d, dist.ReduceOp.AVG if d.ddp else None)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    loss_val, norm_val = loss_accum.item(), norm.item()
    if not (math.isfinite(loss_val) and math.isfinite(norm_val)):
        raise NonFiniteLoss(f"loss {loss_val} / grad norm {norm_val}")
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    return loss_val, norm_val


# -----------------------------------------------------------------------------
# the run


@dataclass
class Run:
    """What train() hands back: where things are and how it ended."""

    run_dir: Path
    step: int
    max_steps: int
    losses: list[float]  # the train losses of the steps this call ran
    last_eval: dict | None
    checkpoint: Path | None
    stopped: str | None  # "SIGTERM" / "SIGINT" / "stop_at" when the run ended early


def shards_tokenizer(cfg: TrainConfig, manifest: dict):
    """The tokenizer the shards name, checked to be the one they were made with."""
    dataset = manifest.get("settings", {}).get("dataset")
    remake = shlex.join(
        ["python", "gpt-2/prepare.py", "--dataset", str(dataset or "SOURCE"), "--tokenizer", manifest["tokenizer"]]
    )
    return checked_tokenizer(
        manifest["tokenizer"],
        manifest["tokenizer_hash"],
        f"the shards in {cfg.data} were made",
        f"put the old tokenizer back, or re-make the shards with the new one (`{remake} --out NEW_DIR`) and train "
        "with --data NEW_DIR",
    )


def check_data_fits(cfg: TrainConfig, manifest: dict, seq_len: int, world_size: int) -> None:
    """Refuse, naming the flag to change, data that holds less than one micro-batch of windows of seq_len + 1 tokens
    (train split; val too when evaluating): the loaders would fail later with less to go on."""
    for split, flag_off in (("train", None), ("val", "--eval-every 0")):
        if split == "val" and not cfg.eval_every:
            continue
        tokens = [s["tokens"] for s in manifest["shards"] if s["split"] == split]
        if not tokens:
            raise ValueError(f"{cfg.data} has no {split} shard: prepare more data or a smaller --shard-tokens")
        windows = sum(max(t - 1, 0) // seq_len for t in tokens)
        fits = windows // world_size  # sequences per micro-batch this split can give every rank
        if fits >= cfg.micro_batch:
            continue
        if fits == 0:
            raise ValueError(
                f"--seq-len {seq_len}: the {split} split of {cfg.data} ({sum(tokens):,} tokens, the longest shard "
                f"{max(tokens):,}) is shorter than one sequence: use --seq-len <= {max(tokens) - 1}"
                + (f" or {flag_off}" if flag_off else "")
            )
        raise ValueError(
            f"--micro-batch {cfg.micro_batch}: the {split} split of {cfg.data} holds only {windows} sequences of "
            f"{seq_len} tokens{f' ({world_size} ranks)' if world_size > 1 else ''}: use --micro-batch <= {fits} "
            "(and a --total-batch-tokens it divides)" + (f", or {flag_off}" if flag_off else "")
        )


def train(cfg: TrainConfig, resume: str | None = None, overwrite: bool = False) -> Run:
    """Run (or with RESUME = "latest" | PATH, continue) the training described by CFG. A run folder that holds a run
    is continued only from its newest checkpoint, and replaced only with OVERWRITE (gpt2.checkpoint.check_run_dir)."""
    if resume and overwrite:
        raise UsageError("--resume continues a run and --overwrite replaces it: pass one of them")
    d = setup_distributed(cfg.device)
    cfg.check(d.world_size)
    cuda = d.device.type == "cuda"
    if cuda:
        torch.set_float32_matmul_precision("high")  # TF32 for the float32 matmuls left outside autocast
    amp = torch.bfloat16 if cuda else None
    run_dir = Path(cfg.out) / (cfg.run_name or cfg.config)
    ckpt_path = resolve_resume(resume, run_dir) if resume else None
    check_run_dir(run_dir, ckpt_path, overwrite)  # before anything is written
    # fine-tuning (fails fast: offline, no file); with --resume too, the source gives the architecture, the checkpoint
    # the weights
    init = load_init_source(cfg.init_from) if cfg.init_from else None

    # data and model
    manifest = read_manifest(cfg.data)
    tok = shards_tokenizer(cfg, manifest)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    if init is not None:  # the source's architecture and weights; a fresh optimizer, schedule and loader
        model_cfg = init_model_config(init, cfg, manifest)
        cfg.check(d.world_size, model_cfg.block_size)  # --seq-len against the source's context
    else:
        model_cfg = GPTConfig.from_preset(
            cfg.model,
            vocab_size=manifest["vocab_size"],
            pad_vocab_to=64,  # 50257 -> 50304
            **model_overrides(cfg),
            **({"block_size": cfg.block_size} if cfg.block_size else {}),
        )
    seq_len = cfg.seq_len or model_cfg.block_size
    check_data_fits(cfg, manifest, seq_len, d.world_size)
    grad_accum = cfg.total_batch_tokens // (cfg.micro_batch * seq_len * d.world_size)  # exact: cfg.check() said so
    raw_model = GPT(model_cfg)
    if init is not None:
        raw_model.load_state_dict(init.weights)
    raw_model = raw_model.to(d.device)
    optimizer = raw_model.configure_optimizers(
        cfg.weight_decay, cfg.lr, betas=(cfg.beta1, cfg.beta2), device_type=d.device.type
    )
    loader = make_loader(
        cfg.exp.loader,
        cfg.data,
        cfg.micro_batch,
        seq_len,
        split="train",
        rank=d.rank,
        world_size=d.world_size,
        seed=cfg.seed,
    )
    max_steps = cfg.max_steps or loader.batches_per_epoch // grad_accum  # one epoch
    if max_steps < 1:
        raise ValueError(
            f"the training shards hold less than one step of {cfg.total_batch_tokens} tokens: "
            "lower --total-batch-tokens or prepare more data"
        )

    # resume: weights, optimizer moments, loader position, RNG streams (gpt2.checkpoint)
    start = 0
    if ckpt_path is not None:
        resumed = restore_run(ckpt_path, cfg, raw_model, optimizer, loader)
        start = resumed["step"]
        if cfg.max_steps is None:  # the schedule of the run being continued (its epoch, as it measured it)
            max_steps = resumed["max_steps"]
    continuing = ckpt_path is not None and ckpt_path.resolve().parent == run_dir.resolve()
    warmup = cfg.warmup(max_steps)

    model = torch.compile(raw_model) if cfg.compile else raw_model
    if d.ddp:
        model = DDP(model, device_ids=[d.local_rank] if cuda else None)

    hs_examples = load_hellaswag(cfg, d.master) if cfg.eval_every else None
    bpt = bytes_per_token(cfg.data, "val")
    flops_per_token = raw_model.flops_per_token(seq_len)
    header = {
        "type": "config",
        "step": start,
        "resumed_from": str(ckpt_path) if ckpt_path else None,
        "init_from": init.provenance if init else None,
        "train_config": cfg.to_dict(),
        "model_config": dataclasses.asdict(model_cfg),
        "git_commit": git_commit(),
        "tokenizer": manifest["tokenizer"],
        "tokenizer_hash": manifest["tokenizer_hash"],
        "world_size": d.world_size,
        "device": str(d.device),
        "grad_accum_steps": grad_accum,
        "seq_len": seq_len,
        "max_steps": max_steps,
        "warmup_steps": warmup,
        "max_lr": cfg.lr,
        "num_params": raw_model.num_params(),
        "val_bytes_per_token": bpt,
        "hellaswag_examples": len(hs_examples) if hs_examples else 0,
    }
    log = None
    if d.master:
        run_dir.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for gone in clear_run_dir(run_dir):
                print(f"--overwrite: removed {gone}")
        for stale in remove_stale_temps(run_dir):  # a checkpoint save killed by SIGKILL leaves its temp file
            print(f"removed {stale.name}, left by an interrupted checkpoint save")
        log = RunLog(
            run_dir / "log.jsonl", fresh=not continuing, wandb_run=start_wandb(cfg, header) if cfg.wandb else None
        )
        log.write(header)
        print(json.dumps(header, indent=1))

    t_start = time.time()

    def emit(record: dict, line: str | None = None) -> None:
        if log is not None:
            log.write({**record, "time_s": round(time.time() - t_start, 3)})  # wall time since this process started
            if line:
                print(line, flush=True)

    def evaluate(step: int) -> dict:
        vl = val_loss(raw_model, cfg.data, cfg.micro_batch, seq_len, d, cfg.val_batches, amp)
        rec = {"type": "eval", "step": step, "val_loss": vl, "val_bpb": bits_per_byte(vl, bpt)}
        if hs_examples:
            acc = hellaswag_accuracy(raw_model, tok, hs_examples, d, amp, block_size=model_cfg.block_size)
            rec.update(hellaswag=acc["acc_norm"], hellaswag_acc=acc["acc"])
        line = f"step {step:5d} | val loss {vl:.4f} | val bpb {rec['val_bpb']:.4f}"
        if "hellaswag" in rec:
            line += f" | hellaswag {rec['hellaswag']:.4f}"
        emit(rec, line)
        if d.master and cfg.sample_tokens:
            text = sample_text(raw_model, tok, cfg.sample_prompt, cfg.sample_tokens, d.device)
            emit({"type": "sample", "step": step, "text": text}, f"sample: {text!r}")
        return rec

    def checkpoint(step: int) -> Path | None:
        if not d.master:  # every rank's loader is at the same stream position: rank 0's state resumes them all
            return None
        state = {
            "model": raw_model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "config": dataclasses.asdict(model_cfg),
            "tokenizer": manifest["tokenizer"],
            "tokenizer_hash": manifest["tokenizer_hash"],
            "step": step,
            "max_steps": max_steps,
            "loader": loader.state_dict(),
            "rng": rng_state(),
            "train_config": cfg.to_dict(),
            "world_size": d.world_size,
            "init_from": init.provenance if init else None,
        }
        path = save_rotating(run_dir, step, state, cfg.keep_last, protect=(ckpt_path,) if ckpt_path else ())
        emit({"type": "checkpoint", "step": step, "path": str(path)}, f"saved {path}")
        return path

    losses, last_eval, saved, stopped = [], None, None, None
    step = start
    try:
        with GracefulStop() as stop:
            while step < max_steps:
                # at step 0, every eval_every steps, and where a resumed run starts (the stopped one did not)
                if cfg.eval_every and step % cfg.eval_every == 0:
                    last_eval = evaluate(step)
                t0 = time.perf_counter()
                lr = get_lr(step, cfg.lr, warmup, max_steps, cfg.min_lr_ratio)
                try:
                    loss, norm = train_step(model, optimizer, loader.next_batch, grad_accum, lr, cfg.grad_clip, d, amp)
                except NonFiniteLoss as e:
                    last = list_checkpoints(run_dir)
                    raise NonFiniteLoss(
                        f"non-finite training loss at step {step} ({e}); stopped before the update. "
                        f"Last good checkpoint: {last[-1] if last else 'none'}. Lower --max-lr or "
                        "check the data, then --resume."
                    ) from None
                if cuda:
                    torch.cuda.synchronize()
                dt = time.perf_counter() - t0
                step += 1
                losses.append(loss)
                tps = cfg.total_batch_tokens / dt
                util = flops.mfu(flops_per_token * tps / d.world_size, d.device, amp or torch.float32)  # per GPU
                rec = {
                    "type": "train",
                    "step": step,
                    "loss": loss,
                    "lr": lr,
                    "grad_norm": norm,
                    "dt_ms": dt * 1e3,
                    "tokens_per_sec": tps,
                    "mfu": util,
                    "epoch": getattr(loader, "epoch", None),
                }
                line = None
                if step % cfg.log_every == 0 or step == max_steps:
                    line = (
                        f"step {step:5d}/{max_steps} | loss {loss:.6f} | lr {lr:.2e} | norm {norm:.3f} | "
                        f"dt {dt * 1e3:.0f}ms | tok/s {tps:,.0f}" + (f" | mfu {util:.1%}" if util else "")
                    )
                emit(rec, line)
                if stop_agreed(stop, d):  # SIGTERM / SIGINT on any rank: every rank stops after this step
                    stopped = stop.signal or "signal"
                elif cfg.stop_at is not None and step >= cfg.stop_at and step < max_steps:
                    stopped = "stop_at"
                if stopped or step % cfg.ckpt_every == 0 or step == max_steps:
                    saved = checkpoint(step) or saved
                if stopped:
                    emit(
                        {"type": "stopped", "step": step, "reason": stopped},
                        f"stopped ({stopped}) after step {step}; continue with --resume",
                    )
                    break
            if step == max_steps and cfg.eval_every and not stopped:
                last_eval = evaluate(step)
        final = {k: v for k, v in (last_eval or {}).items() if k not in ("type", "step")}
        # the step the run ended at; the last evaluation's own step beside it (it may be older)
        emit({"type": "end", "step": step, "stopped": stopped, "eval_step": (last_eval or {}).get("step"), **final})
    finally:
        if log is not None:
            log.close()
    return Run(run_dir, step, max_steps, losses, last_eval, saved, stopped)


# -----------------------------------------------------------------------------
# command line (gpt-2/train.py)


DEMO_DATA = Path("runs/demo/data")  # where `make demo` leaves shards of the offline default corpus
# A run the demo's shards can feed on a CPU (the demo's settings, gpt2.demo.DemoConfig), offered when --data is empty
DEMO_RUN = (
    "python gpt-2/train.py --config rope --model mini --data runs/demo/data --total-batch-tokens 4096 --micro-batch 16 "
    "--seq-len 128 --max-steps 500 --hellaswag none"
)
TEXT_SUFFIXES = (".txt", ".jsonl", ".parquet", ".md")


def check_data_flag(data: str) -> None:
    """--data must be a shard folder; say exactly what to run when it is missing or is the text itself."""
    path = Path(data)
    if path.is_file():
        fix = (
            f"make shards from it first: `python gpt-2/prepare.py --dataset {shlex.quote(data)} --tokenizer gpt2 "
            f"--out runs/data/{shlex.quote(path.stem)}`, then --data runs/data/{shlex.quote(path.stem)}"
            if path.suffix in TEXT_SUFFIXES
            else "give the folder gpt-2/prepare.py wrote (it holds manifest.json)"
        )
        raise UsageError(f"--data {data} is a file, not a folder of token shards: {fix}")
    if not (path / MANIFEST).is_file():
        demo = "" if (DEMO_DATA / MANIFEST).is_file() else "`make demo` (about 5 min, offline), then "
        raise UsageError(
            f"--data {data}: no token shards there ({MANIFEST} missing). Offline: {demo}`{DEMO_RUN}`. FineWeb-Edu "
            f"(needs the Hugging Face hub): `python gpt-2/prepare.py --dataset fineweb-edu --subset sample-10BT "
            f"--tokenizer gpt2 --out {shlex.quote(data)}` first"
        )


def check_path_flags(cfg: TrainConfig, resume: str | None) -> None:
    """The path flags, before any work: --data (a shard folder), --hellaswag (auto, none or a file), --out (a folder),
    --resume PATH (a checkpoint file or a run folder)."""
    check_data_flag(cfg.data)
    if cfg.hellaswag not in (None, "auto") and not Path(cfg.hellaswag).is_file():
        raise UsageError(
            f"--hellaswag {cfg.hellaswag}: no such file; give the path of hellaswag_val.jsonl, 'auto' (download and "
            "cache it) or 'none'"
        )
    if Path(cfg.out).is_file():
        raise UsageError(f"--out {cfg.out} is a file: give a folder for the run folders")
    if resume not in (None, "latest") and not Path(resume).exists():
        raise UsageError(f"--resume {resume}: no such checkpoint or run folder")
    if cfg.init_from and cfg.init_from not in PRETRAINED and not Path(cfg.init_from).exists():
        raise UsageError(
            f"--init-from {cfg.init_from}: no such checkpoint or run folder (or one of {', '.join(PRETRAINED)})"
        )


def parse_args(argv: list[str] | None = None):
    D = TrainConfig()
    p = ArgumentParser(description="Train GPT-2 (one of the named experiments); see gpt2/train.py.")
    # experiment and model
    p.add_argument("--config", choices=list(EXPERIMENTS), default=D.config, help="which experiment (gpt2/configs.py)")
    p.add_argument(
        "--model",
        default=None,
        help="model preset: gpt2 (124M, the default), tiny, mini, small, ... (not with --init-from)",
    )
    p.add_argument(
        "--block-size", type=positive_int, default=D.block_size, help="context length (default: the preset's)"
    )
    p.add_argument(
        "--init-from",
        default=D.init_from,
        help="fine-tune: start from the weights and architecture of a checkpoint (or run folder) of train.py, or "
        "gpt2 (OpenAI's, needs internet); fresh optimizer and schedule",
    )
    p.add_argument("--data", default=D.data, help="shard directory written by gpt-2/prepare.py")
    # batch
    p.add_argument("--total-batch-tokens", type=positive_int, default=D.total_batch_tokens, help="tokens per step")
    p.add_argument("--micro-batch", type=positive_int, default=D.micro_batch, help="sequences per forward per rank")
    p.add_argument("--seq-len", type=positive_int, default=D.seq_len, help="tokens per sequence (default: block size)")
    # optimization
    p.add_argument("--max-steps", type=positive_int, default=D.max_steps, help="default: one epoch of the train shards")
    p.add_argument("--max-lr", type=positive_float, default=D.max_lr, help="default: the experiment's")
    p.add_argument("--warmup-steps", type=non_negative_int, default=D.warmup_steps, help="default: the experiment's")
    p.add_argument("--weight-decay", type=non_negative_float, default=D.weight_decay)
    p.add_argument("--grad-clip", type=positive_float, default=D.grad_clip)
    p.add_argument("--seed", type=non_negative_int, default=D.seed)
    # evaluation
    p.add_argument("--eval-every", type=non_negative_int, default=D.eval_every, help="0: never")
    p.add_argument(
        "--val-batches", type=positive_int, default=D.val_batches, help="val micro-batches per eval per rank"
    )
    p.add_argument("--hellaswag", default=D.hellaswag, help="'auto' (download + cache), a jsonl path, or 'none'")
    p.add_argument("--hellaswag-examples", type=positive_int, default=D.hellaswag_examples, help="default: all 10,042")
    p.add_argument("--sample-tokens", type=non_negative_int, default=D.sample_tokens, help="0: no sample at evals")
    # checkpoints and logs
    p.add_argument("--out", default=D.out, help="runs go to OUT/RUN_NAME")
    p.add_argument("--run-name", default=D.run_name, help="default: the config name")
    p.add_argument("--ckpt-every", type=positive_int, default=D.ckpt_every)
    p.add_argument("--keep-last", type=non_negative_int, default=D.keep_last, help="checkpoints kept (0: all)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="continue from the newest checkpoint of the run; --resume PATH --run-name NEW branches from PATH",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace the run folder's checkpoints and log.jsonl (else: refused)"
    )
    p.add_argument("--stop-at", type=positive_int, default=D.stop_at, help="save and exit after this step")
    p.add_argument("--log-every", type=positive_int, default=D.log_every, help="console line every N steps")
    # system
    p.add_argument("--device", default=D.device, help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: torch's, all cores); 1 on a machine shared with other jobs",
    )
    args = p.parse_args(argv)
    if args.hellaswag in ("none", ""):
        args.hellaswag = None
    return args


def config_from_argv(argv: list[str] | None = None) -> tuple[TrainConfig, str | None]:
    """The TrainConfig a command line describes, and its --resume (None, "latest" or a path)."""
    cfg, resume, _ = options_from_argv(argv)
    return cfg, resume


def options_from_argv(argv: list[str] | None = None) -> tuple[TrainConfig, str | None, dict]:
    """(TrainConfig, --resume, the flags that are not settings of the run: overwrite, threads)."""
    args = vars(parse_args(argv))
    resume = args.pop("resume")
    extra = {k: args.pop(k) for k in ("overwrite", "threads")}
    if args["model"] is None and not args["init_from"]:
        args["model"] = TrainConfig.model  # with --init-from, the source's architecture; --model only restates it
    return resolve(args.pop("config"), **args), resume, extra


def main(argv: list[str] | None = None) -> int:
    cfg, resume, extra = options_from_argv(argv)
    cfg.check(int(os.environ.get("WORLD_SIZE", 1)))  # the rules between flags, before any path is touched
    check_path_flags(cfg, resume)
    if extra["threads"]:
        torch.set_num_threads(extra["threads"])
    try:
        train(cfg, resume=resume, overwrite=extra["overwrite"])
    except NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        teardown()
    return 0  # finished, or stopped by --stop-at / SIGTERM / SIGINT with a checkpoint to --resume from


if __name__ == "__main__":
    run(main)
