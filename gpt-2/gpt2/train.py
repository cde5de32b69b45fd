"""The GPT-2 trainer: one of the named experiments (gpt2.configs) on prepared shards, one GPU, many GPUs, or a laptop.

    python gpt-2/train.py --config rope --data data/edu10B                  # one GPU (or CPU)
    torchrun --standalone --nproc_per_node=8 gpt-2/train.py --config rope            # 8 GPUs, one node
    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 --rdzv-backend=c10d \\
        --rdzv-endpoint=HOST:29500 gpt-2/train.py --config rope                      # 2 nodes (node_rank 1 on the other)
    python gpt-2/train.py --config rope --model tiny --data runs/data/shakespeare \\
        --total-batch-tokens 8192 --micro-batch 16 --max-steps 200                   # minutes on a laptop CPU

One optimizer step sees `total_batch_tokens` tokens: micro-batches of (micro_batch, seq_len) on every rank, gradients
accumulated over `grad_accum_steps` micro-steps and averaged across ranks (DDP syncs only on the last micro-step).
AdamW (0.9, 0.95), weight decay 0.1 on matrices, gradient clipping at 1.0, linear warmup then cosine to 10% of the max
lr over one epoch of the training shards (or --max-steps). bf16 autocast + TF32 on CUDA.

Every `eval_every` steps: val loss, bits per byte (val loss / ln 2 / UTF-8 bytes per token, from the shard manifest),
HellaSwag acc_norm, and a short sample. Everything goes to RUN_DIR/log.jsonl (plot with gpt-2/plot.py). Checkpoints
RUN_DIR/ckpt_STEP.pt every `ckpt_every` steps and at the end, the last `keep_last` kept; `--resume` continues exactly
(model, optimizer, loader position, RNG states). SIGTERM / SIGINT save a checkpoint and exit cleanly; a non-finite
loss stops the run before the update, leaving the last good checkpoint as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from gpt2.configs import TrainConfig, model_overrides
from gpt2.schedule import get_lr

CKPT_RE = re.compile(r"ckpt_(\d+)\.pt$")


class NonFiniteLoss(RuntimeError):
    """The loss or gradient norm became NaN/inf; the update was not applied."""


# -----------------------------------------------------------------------------
# distributed setup


@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def ddp(self) -> bool:
        return self.world_size > 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def pick_device(spec: str = "auto") -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def setup_distributed(device: str = "auto") -> Dist:
    """Join the torchrun process group when launched by torchrun (nccl on GPU, gloo on CPU), else a single process."""
    if "RANK" not in os.environ:
        return Dist(device=pick_device(device))
    rank, local_rank, world = (int(os.environ[k]) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    dev = pick_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, local_rank, world, dev)


def all_reduce(t: torch.Tensor, d: Dist, op=None) -> torch.Tensor:
    if d.ddp:
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
    return t


# -----------------------------------------------------------------------------
# RNG state as tensors and ints, so that torch.load(weights_only=True) reads it back


def rng_state() -> dict:
    version, mt, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -----------------------------------------------------------------------------
# checkpoints: RUN_DIR/ckpt_000500.pt, written atomically, the last K kept


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's checkpoints, oldest first (by step)."""
    run_dir = Path(run_dir)
    found = [(int(m.group(1)), p) for p in run_dir.glob("ckpt_*.pt") if (m := CKPT_RE.search(p.name))]
    return [p for _, p in sorted(found)]


def save_rotating(run_dir: str | Path, step: int, state: dict, keep_last: int) -> Path:
    """Save STATE as RUN_DIR/ckpt_STEP.pt (temp file, then rename) and delete all but the newest KEEP_LAST."""
    from gpt2.checkpoint import save_checkpoint

    path = Path(run_dir) / f"ckpt_{step:06d}.pt"
    save_checkpoint(path, state)
    for old in list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)
    return path


def resolve_resume(resume: str, run_dir: Path) -> Path:
    """--resume PATH: that checkpoint (or the newest in that directory); --resume alone: the newest in the run dir."""
    where = run_dir if resume == "latest" else Path(resume)
    if where.is_dir():
        ckpts = list_checkpoints(where)
        if not ckpts:
            raise FileNotFoundError(f"no checkpoint (ckpt_*.pt) in {where} to resume from")
        return ckpts[-1]
    if not where.is_file():
        raise FileNotFoundError(f"checkpoint {where} not found")
    return where


# Settings that must match for a resumed run to continue the same run.
RESUME_MUST_MATCH = ("config", "model", "total_batch_tokens", "micro_batch", "seq_len", "seed")


def check_resume_compatible(saved: dict, cfg: TrainConfig) -> None:
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {getattr(cfg, k)!r}"
             for k in RESUME_MUST_MATCH if saved.get(k) != getattr(cfg, k)]
    if diffs:
        raise ValueError("cannot resume with different settings (" + "; ".join(diffs) + "): use the run's own flags")


# -----------------------------------------------------------------------------
# logging: one JSONL record per event, console lines, wandb when asked


def git_commit() -> str:
    """HEAD of the repository this file lives in (+ '-dirty' with uncommitted changes), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class RunLog:
    """Appends JSON records to RUN_DIR/log.jsonl (one per line, flushed) and mirrors metrics to wandb if enabled."""

    def __init__(self, path: Path, fresh: bool, wandb_run=None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "w" if fresh else "a", encoding="utf-8")
        self.wandb = wandb_run

    def write(self, record: dict) -> None:
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()
        if self.wandb is not None and record.get("type") in ("train", "eval"):
            metrics = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
            self.wandb.log({f"{record['type']}/{k}": v for k, v in metrics.items()}, step=record["step"])

    def close(self) -> None:
        self.f.close()
        if self.wandb is not None:
            self.wandb.finish()


def start_wandb(cfg: TrainConfig, record: dict):
    try:
        import wandb
    except ImportError as e:
        raise SystemExit("--wandb needs the wandb package: `uv pip install wandb` (then `wandb login`)") from e
    return wandb.init(project="gpt2", name=cfg.run_name or cfg.config, config=record)


# -----------------------------------------------------------------------------
# stop on SIGTERM / SIGINT at the next step boundary


class GracefulStop:
    """Context manager: SIGTERM/SIGINT set `.signal` instead of killing; the loop checkpoints and leaves."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal: str | None = None
        self._old = {}

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def __enter__(self):
        if threading_is_main():
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# -----------------------------------------------------------------------------
# one optimizer step, evaluation


def train_step(model, optimizer, next_batch, grad_accum: int, lr: float, grad_clip: float, d: Dist,
               autocast_dtype: torch.dtype | None = None) -> tuple[float, float]:
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


@torch.no_grad()
def val_loss(model, data_dir: str, batch_size: int, seq_len: int, d: Dist, max_batches: int | None,
             autocast_dtype: torch.dtype | None = None) -> float:
    """Mean next-token loss (nats) over the val split, all ranks together."""
    from gpt2.data import iter_eval_batches

    model.eval()
    total = torch.zeros(2, device=d.device, dtype=torch.float64)  # (sum of batch losses, number of batches)
    for x, y in iter_eval_batches(data_dir, batch_size, seq_len, split="val", rank=d.rank, world_size=d.world_size,
                                  max_batches=max_batches):
        with torch.autocast(d.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            _, loss = model(x.to(d.device), y.to(d.device))
        total[0] += loss.double()
        total[1] += 1
    all_reduce(total, d)
    if total[1] == 0:
        raise ValueError(f"no val batches of {batch_size}x{seq_len} tokens in {data_dir}: lower --micro-batch")
    return (total[0] / total[1]).item()


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


def _load_hellaswag(cfg: TrainConfig, master: bool):
    from gpt2 import hellaswag

    if cfg.hellaswag is None:
        return None
    try:
        path = hellaswag.resolve_path(cfg.hellaswag)
    except RuntimeError as e:  # "auto" offline: train anyway, say so
        if master:
            print(f"HellaSwag disabled: {e}")
        return None
    return list(hellaswag.iter_examples(path, limit=cfg.hellaswag_examples))


def train(cfg: TrainConfig, resume: str | None = None) -> Run:
    """Run (or with RESUME = "latest" | PATH, continue) the training described by CFG."""
    from gpt2 import flops, hellaswag
    from gpt2.data import bytes_per_token, make_loader, read_manifest
    from gpt2.model import GPT, GPTConfig
    from gpt2.tokenizer import load_tokenizer

    d = setup_distributed(cfg.device)
    cuda = d.device.type == "cuda"
    if cuda:
        torch.set_float32_matmul_precision("high")  # TF32 for the float32 matmuls left outside autocast
    amp = torch.bfloat16 if cuda else None
    run_dir = Path(cfg.out) / (cfg.run_name or cfg.config)

    # data and model
    manifest = read_manifest(cfg.data)
    tok = load_tokenizer(manifest["tokenizer"])
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model_cfg = GPTConfig.from_preset(cfg.model, vocab_size=manifest["vocab_size"], pad_vocab_to=64,  # 50257 -> 50304
                                       **model_overrides(cfg))
    seq_len = cfg.seq_len or model_cfg.block_size
    if seq_len > model_cfg.block_size:
        raise ValueError(f"--seq-len {seq_len} exceeds the {cfg.model} block size {model_cfg.block_size}")
    per_micro = cfg.micro_batch * seq_len * d.world_size
    if cfg.total_batch_tokens % per_micro:
        raise ValueError(f"--total-batch-tokens {cfg.total_batch_tokens} is not a multiple of micro-batch x seq-len x "
                         f"ranks = {cfg.micro_batch} x {seq_len} x {d.world_size} = {per_micro}")
    grad_accum = cfg.total_batch_tokens // per_micro
    raw_model = GPT(model_cfg).to(d.device)
    optimizer = raw_model.configure_optimizers(cfg.weight_decay, cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                               device_type=d.device.type)
    loader = make_loader(cfg.exp.loader, cfg.data, cfg.micro_batch, seq_len, split="train", rank=d.rank,
                         world_size=d.world_size, seed=cfg.seed)
    max_steps = cfg.max_steps or loader.batches_per_epoch // grad_accum  # one epoch
    if max_steps < 1:
        raise ValueError(f"the training shards hold less than one step of {cfg.total_batch_tokens} tokens: "
                         "lower --total-batch-tokens or prepare more data")
    warmup = cfg.warmup(max_steps)

    # resume: weights, optimizer moments, loader position, RNG streams
    start, ckpt_path = 0, None
    if resume:
        ckpt_path = resolve_resume(resume, run_dir)
        from gpt2.checkpoint import load_checkpoint

        state = load_checkpoint(ckpt_path)
        check_resume_compatible(state["train_config"], cfg)
        raw_model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loader.load_state_dict(state["loader"])
        set_rng_state(state["rng"])
        start = state["step"]
        if cfg.max_steps is None:
            max_steps = state["max_steps"]
            warmup = cfg.warmup(max_steps)
        del state
    elif list_checkpoints(run_dir):
        raise FileExistsError(f"{run_dir} already has checkpoints: pass --resume to continue, or --run-name NEW")

    model = torch.compile(raw_model) if cfg.compile else raw_model
    if d.ddp:
        model = DDP(model, device_ids=[d.local_rank] if cuda else None)

    hs_examples = _load_hellaswag(cfg, d.master) if cfg.eval_every else None
    bpt = bytes_per_token(cfg.data, "val")
    flops_per_token = raw_model.flops_per_token(seq_len)
    header = {
        "type": "config", "step": start, "resumed_from": str(ckpt_path) if ckpt_path else None,
        "train_config": cfg.to_dict(), "model_config": dataclasses.asdict(model_cfg), "git_commit": git_commit(),
        "tokenizer": manifest["tokenizer"], "world_size": d.world_size, "device": str(d.device),
        "grad_accum_steps": grad_accum, "seq_len": seq_len, "max_steps": max_steps, "warmup_steps": warmup,
        "max_lr": cfg.lr, "num_params": raw_model.num_params(), "val_bytes_per_token": bpt,
        "hellaswag_examples": len(hs_examples) if hs_examples else 0,
    }
    log = None
    if d.master:
        run_dir.mkdir(parents=True, exist_ok=True)
        log = RunLog(run_dir / "log.jsonl", fresh=not resume, wandb_run=start_wandb(cfg, header) if cfg.wandb else None)
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
            counts = hellaswag.evaluate(raw_model.eval(), tok, hs_examples, d.device, d.rank, d.world_size, amp,
                                        block_size=model_cfg.block_size)
            t = torch.tensor([counts["n"], counts["correct"], counts["correct_norm"]], device=d.device)
            all_reduce(t, d)
            acc = hellaswag.accuracy(dict(zip(("n", "correct", "correct_norm"), t.tolist())))
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
            "model": raw_model.state_dict(), "optimizer": optimizer.state_dict(),
            "config": dataclasses.asdict(model_cfg), "tokenizer": manifest["tokenizer"],
            "step": step, "max_steps": max_steps, "loader": loader.state_dict(), "rng": rng_state(),
            "train_config": cfg.to_dict(), "world_size": d.world_size,
        }
        path = save_rotating(run_dir, step, state, cfg.keep_last)
        emit({"type": "checkpoint", "step": step, "path": str(path)}, f"saved {path}")
        return path

    losses, last_eval, saved, stopped = [], None, None, None
    step = start
    try:
        with GracefulStop() as stop:
            while step < max_steps:
                if cfg.eval_every and step % cfg.eval_every == 0:  # a resumed run evaluates where the stopped one did not
                    last_eval = evaluate(step)
                t0 = time.perf_counter()
                lr = get_lr(step, cfg.lr, warmup, max_steps, cfg.min_lr_ratio)
                try:
                    loss, norm = train_step(model, optimizer, loader.next_batch, grad_accum, lr, cfg.grad_clip, d, amp)
                except NonFiniteLoss as e:
                    last = list_checkpoints(run_dir)
                    raise NonFiniteLoss(f"non-finite training loss at step {step} ({e}); stopped before the update. "
                                        f"Last good checkpoint: {last[-1] if last else 'none'}. Lower --max-lr or "
                                        "check the data, then --resume.") from None
                if cuda:
                    torch.cuda.synchronize()
                dt = time.perf_counter() - t0
                step += 1
                losses.append(loss)
                tps = cfg.total_batch_tokens / dt
                util = flops.mfu(flops_per_token * tps / d.world_size, d.device, amp or torch.float32)  # per GPU
                rec = {"type": "train", "step": step, "loss": loss, "lr": lr, "grad_norm": norm, "dt_ms": dt * 1e3,
                       "tokens_per_sec": tps, "mfu": util, "epoch": getattr(loader, "epoch", None)}
                line = None
                if step % cfg.log_every == 0 or step == max_steps:
                    line = (f"step {step:5d}/{max_steps} | loss {loss:.6f} | lr {lr:.2e} | norm {norm:.3f} | "
                            f"dt {dt * 1e3:.0f}ms | tok/s {tps:,.0f}" + (f" | mfu {util:.1%}" if util else ""))
                emit(rec, line)
                signalled = torch.tensor(float(stop.signal is not None), device=d.device)
                all_reduce(signalled, d, dist.ReduceOp.MAX if d.ddp else None)  # every rank stops at the same step
                if signalled.item():
                    stopped = stop.signal or "signal"
                elif cfg.stop_at is not None and step >= cfg.stop_at and step < max_steps:
                    stopped = "stop_at"
                if stopped or step % cfg.ckpt_every == 0 or step == max_steps:
                    saved = checkpoint(step) or saved
                if stopped:
                    emit({"type": "stopped", "step": step, "reason": stopped},
                         f"stopped ({stopped}) after step {step}; continue with --resume")
                    break
            if step == max_steps and cfg.eval_every and not stopped:
                last_eval = evaluate(step)
        emit({"type": "end", "step": step, "stopped": stopped, **({k: v for k, v in last_eval.items() if k != "type"}
                                                                   if last_eval else {})})
    finally:
        if log is not None:
            log.close()
    return Run(run_dir, step, max_steps, losses, last_eval, saved, stopped)


# -----------------------------------------------------------------------------
# command line (gpt-2/train.py)


def parse_args(argv: list[str] | None = None):
    import argparse

    from gpt2.configs import EXPERIMENTS

    D = TrainConfig()
    p = argparse.ArgumentParser(description="Train GPT-2 (one of the named experiments); see gpt2/train.py.")
    # experiment and model
    p.add_argument("--config", choices=list(EXPERIMENTS), default=D.config, help="which experiment (gpt2/configs.py)")
    p.add_argument("--model", default=D.model, help="model preset: gpt2 (124M), tiny, mini, small, ...")
    p.add_argument("--data", default=D.data, help="shard directory written by gpt-2/prepare.py")
    # batch
    p.add_argument("--total-batch-tokens", type=int, default=D.total_batch_tokens, help="tokens per optimizer step")
    p.add_argument("--micro-batch", type=int, default=D.micro_batch, help="sequences per forward pass per rank")
    p.add_argument("--seq-len", type=int, default=D.seq_len, help="tokens per sequence (default: block size)")
    # optimization
    p.add_argument("--max-steps", type=int, default=D.max_steps, help="default: one epoch of the train shards")
    p.add_argument("--max-lr", type=float, default=D.max_lr, help="default: the experiment's")
    p.add_argument("--warmup-steps", type=int, default=D.warmup_steps, help="default: the experiment's, scaled")
    p.add_argument("--weight-decay", type=float, default=D.weight_decay)
    p.add_argument("--grad-clip", type=float, default=D.grad_clip)
    p.add_argument("--seed", type=int, default=D.seed)
    # evaluation
    p.add_argument("--eval-every", type=int, default=D.eval_every, help="0: never")
    p.add_argument("--val-batches", type=int, default=D.val_batches, help="val micro-batches per evaluation per rank")
    p.add_argument("--hellaswag", default=D.hellaswag, help="'auto' (download + cache), a jsonl path, or 'none'")
    p.add_argument("--hellaswag-examples", type=int, default=D.hellaswag_examples, help="default: all 10,042")
    p.add_argument("--sample-tokens", type=int, default=D.sample_tokens, help="0: no sample at evaluations")
    # checkpoints and logs
    p.add_argument("--out", default=D.out, help="runs go to OUT/RUN_NAME")
    p.add_argument("--run-name", default=D.run_name, help="default: the config name")
    p.add_argument("--ckpt-every", type=int, default=D.ckpt_every)
    p.add_argument("--keep-last", type=int, default=D.keep_last, help="checkpoints kept")
    p.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="continue from the newest checkpoint of the run (or from PATH)")
    p.add_argument("--stop-at", type=int, default=D.stop_at, help="save and exit after this step")
    p.add_argument("--log-every", type=int, default=D.log_every, help="console line every N steps (log.jsonl: all)")
    # system
    p.add_argument("--device", default=D.device, help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases")
    args = p.parse_args(argv)
    if args.hellaswag in ("none", ""):
        args.hellaswag = None
    return args


def main(argv: list[str] | None = None) -> int:
    from gpt2.configs import resolve

    args = vars(parse_args(argv))
    resume = args.pop("resume")
    cfg = resolve(args.pop("config"), **args)
    try:
        train(cfg, resume=resume)
    except NonFiniteLoss as e:
        print(f"error: {e}")
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0  # finished, or stopped by --stop-at / SIGTERM / SIGINT with a checkpoint to --resume from
