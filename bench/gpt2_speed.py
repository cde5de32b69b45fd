"""The GPT-2 speed ladder (gpt2.speed): ms/step, tokens/s, MFU, peak memory and the loss after N steps for every rung,
cumulative and one rung at a time, each a switch on the real trainer's step (gpt2.train.train_step).

    uv run --no-sync python bench/gpt2_speed.py --threads 2                          # small preset, CPU
    uv run --no-sync python bench/gpt2_speed.py --threads 2 --image images/gpt2-speed-ladder.png \
        --json runs/bench/gpt2_speed.json
    uv run --no-sync python bench/gpt2_speed.py --preset gpt2 --seq-len 1024 --batch 1 --steps 3 --device cuda

Every rung starts from the same initial weights and sees the same batches (the first tokens of --data, GPT-2
tokenizer), so the loss after warm-up + --steps steps differs from the fp32 eager rung's only by numerics. Times are
the median over --steps steps after --warmup steps; the first step (with torch.compile, the compile) is reported apart.
Prints a markdown table; writes a plot (--image) and the figures (--json) only when asked.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path

import psutil
import torch
from tqdm import tqdm

from gpt2 import flops, speed
from gpt2.distributed import Dist
from gpt2.model import PRESETS, GPTConfig
from gpt2.tokenizer import load_tokenizer
from gpt2.train import train_step
from scratch.cli import ArgumentParser, UsageError, positive_float, positive_int, run
from scratch.device import pick_device
from scratch.files import atomic_write
from scratch.plot import plt, save_figure
from scratch.shakespeare import tinyshakespeare_path

ROOT = Path(__file__).resolve().parents[1]
SHARED_TEXT = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
LR, GRAD_CLIP, SEED = 1e-3, 1.0, 1337
# How far a rung's loss may drift from fp32 eager's and still learn "the same": fp32 rungs only reorder float sums;
# bf16 rounds every matmul input to 8 mantissa bits.
TOLERANCE = {"fp32": 2e-3, "bf16": 5e-2}


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every 5 ms by a thread (CPU runs)."""

    def __enter__(self) -> PeakRSS:
        self.proc, self.peak, self.done = psutil.Process(), 0, threading.Event()
        self.base = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss - self.base)

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


def batches(tokens: torch.Tensor, batch: int, seq_len: int):
    """next_batch() over consecutive windows of TOKENS, wrapping around: the same batches for every rung."""
    pos = 0

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal pos
        n = batch * seq_len
        if pos + n + 1 > len(tokens):
            pos = 0
        chunk = tokens[pos : pos + n + 1]
        pos += n
        return chunk[:-1].view(batch, seq_len), chunk[1:].view(batch, seq_len)

    return next_batch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Runner:
    """One rung's model, optimizer and batches, warmed up: `step()` runs one more timed step of the real trainer."""

    def __init__(self, settings: speed.Settings, base: GPTConfig, tokens, batch, seq_len, warmup, device, lr):
        self.settings, self.device, self.lr = settings, torch.device(device), lr
        self.batch, self.seq_len = batch, seq_len
        self.d, self.next_batch = Dist(device=self.device), batches(tokens, batch, seq_len)
        self.times: list[float] = []
        self.losses: list[float] = []
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device) if cuda else 0
        with PeakRSS() as rss:  # memory while building and warming up: weights, optimizer state, activations
            self.model, self.optimizer = speed.build(settings, base, SEED, self.device)
            self.stepper = speed.maybe_compile(self.model, settings)
            for _ in range(warmup):
                self.step()
        self.peak = torch.cuda.max_memory_allocated(self.device) - before if cuda else rss.peak
        self.warmup = warmup

    def step(self) -> None:
        with speed.applied(self.settings):
            sync(self.device)
            t0 = time.perf_counter()
            amp = self.settings.autocast_dtype
            loss, _ = train_step(self.stepper, self.optimizer, self.next_batch, 1, self.lr, GRAD_CLIP, self.d, amp)
            sync(self.device)
        self.times.append(time.perf_counter() - t0)
        self.losses.append(loss)

    def result(self) -> dict:
        step_s = statistics.median(self.times[self.warmup :])
        tok_s = self.batch * self.seq_len / step_s
        return {
            "ms_step": 1e3 * step_s,
            "tok_s": tok_s,
            "mfu": flops.mfu(self.model.flops_per_token(self.seq_len) * tok_s, self.device, torch.bfloat16),
            "peak_mem_mb": self.peak / 2**20,
            "first_step_s": self.times[0],
            "compile_s": self.times[0] - step_s if self.settings.compile else None,
            "loss": self.losses[-1],
            "steps": len(self.times),
        }


def measure_all(
    settings: list[speed.Settings],
    base: GPTConfig,
    tokens: torch.Tensor,
    batch: int,
    seq_len: int,
    steps: int,
    warmup: int = 1,
    device: torch.device | str = "cpu",
    lr: float = LR,
) -> list[dict]:
    """Warm up every setting (building and compiling in turn), then take STEPS timed steps in rounds, one step of each
    setting per round, so that a change in the load from other processes hits every rung alike."""
    rungs = [Runner(s, base, tokens, batch, seq_len, warmup, device, lr) for s in tqdm(settings, desc="warm-up")]
    for _ in tqdm(range(steps), desc="timed rounds"):
        for rung in rungs:
            rung.step()
    return [r.result() for r in rungs]


def measure(settings: speed.Settings, base: GPTConfig, tokens: torch.Tensor, batch: int, seq_len: int, steps: int,
            warmup: int = 1, device: torch.device | str = "cpu", lr: float = LR) -> dict:  # fmt: skip
    """Train warmup + steps steps of SETTINGS from the shared seed; the timings, memory and the final loss."""
    return measure_all([settings], base, tokens, batch, seq_len, steps, warmup, device, lr)[0]


def load_tokens(path: str | None, needed: int) -> tuple[torch.Tensor, str]:
    """The first NEEDED GPT-2 tokens of the text at PATH (default: tinyshakespeare), and where they came from."""
    source = Path(path) if path else SHARED_TEXT if SHARED_TEXT.is_file() else tinyshakespeare_path()
    if not source.is_file():
        raise UsageError(f"--data {source}: no such text file")
    with open(source, encoding="utf-8", errors="replace") as f:
        text = f.read(8 * needed)  # ~4 characters per token: twice what is needed
    ids = load_tokenizer("gpt2").encode_ordinary(text)[:needed]
    if len(ids) < 2:
        raise UsageError(f"--data {source}: too little text for one batch")
    return torch.tensor(ids, dtype=torch.long), str(source)


def run_ladder(args, base: GPTConfig, tokens: torch.Tensor, device: torch.device) -> list[dict]:
    """Measure every cumulative and ablation row (an ablation row equal to a measured one is not run twice)."""
    chosen = speed.rungs(args.rungs)
    plan = [("ladder", n, s) for n, s in speed.cumulative(chosen)] if args.mode != "ablation" else []
    if args.mode != "ladder":
        plan += [("ablation", n, s) for n, s in speed.ablation(chosen)[int(args.mode == "both") :]]
    # one discarded step first: the first model in a process pays one-off costs (oneDNN set-up, page faults) that
    # would otherwise land on the fp32 eager row's time and memory
    measure(speed.Settings(), base, tokens, args.batch, args.seq_len, 1, 0, device, args.lr)
    runnable = list(dict.fromkeys(s for _, n, s in plan if speed.unavailable(n, device) is None))
    shape = (args.batch, args.seq_len, args.steps, args.warmup)
    done = dict(zip(runnable, measure_all(runnable, base, tokens, *shape, device, args.lr)))
    rows = []
    for mode, name, settings in plan:
        why_not = speed.unavailable(name, device)
        rows.append({"mode": mode, "rung": name, "settings": settings.__dict__, "unavailable": why_not,
                     **({} if why_not else done[settings])})  # fmt: skip
    base_row = next(r for r in rows if r["rung"] == speed.BASE)
    for r in rows:
        if r["unavailable"] is None:
            r["speedup"] = r["tok_s"] / base_row["tok_s"]
            r["loss_diff"] = r["loss"] - base_row["loss"]
            r["tolerance"] = TOLERANCE["bf16" if r["settings"]["bf16"] else "fp32"]
    return rows


def format_table(rows: list[dict]) -> str:
    head = (
        "| | rung | ms/step | tokens/s | x fp32 eager | MFU | peak mem MB | first step s (compile) | loss "
        "| loss - fp32 | original's A6000 tok/s (theirs) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r["unavailable"]:
            lines.append(f"| {r['mode']} | {r['rung']} | {r['unavailable']} | | | | | | | | |")
            continue
        mfu = "n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
        first = f"{r['first_step_s']:.2f}" + (f" ({r['compile_s']:.1f})" if r["compile_s"] is not None else "")
        ok = "ok" if abs(r["loss_diff"]) <= r["tolerance"] else f"> {r['tolerance']:g}"
        lines.append(
            f"| {r['mode']} | {r['rung']} | {r['ms_step']:.1f} | {r['tok_s']:,.0f} | {r['speedup']:.2f} | {mfu} "
            f"| {r['peak_mem_mb']:.0f} | {first} | {r['loss']:.4f} | {r['loss_diff']:+.5f} ({ok}) | {original(r)} |"
        )
    return "\n".join(lines)


def original(row: dict) -> str:
    """The original's A6000 tokens/s for a ladder row (their order differs: compile came before flash there)."""
    value = speed.ORIGINAL_A6000.get(row["rung"]) if row["mode"] == "ladder" else None
    return f"{value / 1e3:.1f}K" if value else ""


def plot(rows: list[dict], title: str, out: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, mode in zip(axes, ("ladder", "ablation")):
        shown = [r for r in rows if r["mode"] == mode or r["rung"] == speed.BASE]
        names = [r["rung"] for r in shown]
        values = [0 if r["unavailable"] else r["tok_s"] for r in shown]
        bars = ax.bar(range(len(shown)), values, color=["#bbb" if r["unavailable"] else "C0" for r in shown])
        for bar, r in zip(bars, shown):
            label = "n/a" if r["unavailable"] else f"{r['speedup']:.2f}x"
            ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=8)  # fmt: skip
        ax.set_xticks(range(len(shown)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title("cumulative ladder" if mode == "ladder" else "one rung at a time on fp32 eager", fontsize=10)
    axes[0].set_ylabel("tokens/s")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out)


def check_outputs(args) -> None:
    for path in (args.image, args.json):
        if path and Path(path).exists() and not args.overwrite:
            raise UsageError(f"{path} exists: pass --overwrite to replace it")


def parse_args(argv: list[str] | None):
    p = ArgumentParser(description="GPT-2 training-step speed ladder (gpt2/speed.py).")
    p.add_argument("--preset", choices=list(PRESETS), default="small", help="model size (gpt2 = 124M)")
    p.add_argument("--steps", type=positive_int, default=3, help="timed steps per rung (median)")
    p.add_argument("--warmup", type=positive_int, default=1, help="untimed steps first (the compile is in the first)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--seq-len", type=positive_int, default=128)
    p.add_argument("--batch", type=positive_int, default=4)
    p.add_argument("--mode", choices=("both", "ladder", "ablation"), default="both", help="which rows to measure")
    p.add_argument("--rungs", nargs="+", default=None, help=f"a subset of: {', '.join(r.name for r in speed.RUNGS)}")
    p.add_argument("--data", default=None, help="a text file (default: tinyshakespeare)")
    p.add_argument("--image", default=None, help="write the plot here (e.g. images/gpt2-speed-ladder.png)")
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --image / --json")
    p.add_argument("--lr", type=positive_float, default=LR, help="constant learning rate of every step")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_outputs(args)
    speed.rungs(args.rungs)  # an unknown rung name fails here, before any work
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    base = GPTConfig.from_preset(args.preset)
    if args.seq_len > base.block_size:
        raise UsageError(f"--seq-len {args.seq_len} is longer than the {args.preset} block size {base.block_size}")
    tokens, source = load_tokens(args.data, (args.warmup + args.steps) * args.batch * args.seq_len + 1)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = run_ladder(args, base, tokens, device)
    title = (
        f"{args.preset}, B={args.batch} T={args.seq_len}, {device}, {torch.get_num_threads()} threads, "
        f"{args.warmup}+{args.steps} steps, torch {torch.__version__}"
    )
    print(f"\n{title}; load average before {load}, after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"TF32 changes a float32 matmul on {device}: {speed.tf32_changes_matmuls(device)}\n")
    print(format_table(rows))
    if args.json:
        meta = {"title": title, "data": source, "load_before": load, "argv": vars(args)}
        atomic_write(args.json, json.dumps({**meta, "rows": rows}, indent=1))
    if args.image:
        print(f"wrote {plot(rows, title, Path(args.image))}")
    return 0


if __name__ == "__main__":
    run(main)
