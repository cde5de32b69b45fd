"""CPU record for the scaled stage at nanoGPT's "baby GPT" size: equal iterations and equal wall-clock.

    uv run --no-sync python bench/basic_gpt_cpu.py                  # ~15 min on a quiet 2-core machine
    uv run --no-sync python bench/basic_gpt_cpu.py --budgets 100    # skip the 7-minute run

Compares nanoGPT's documented CPU baby GPT (learned positions, untied, lr 1e-3 cosine to 1e-4, warmup 100) with
our scaled stage's defaults (RoPE, tied weights, lr 3e-3 cosine to 3e-4), both 4 layers x 4 heads x 128 dims,
context 64, batch 12 (768 tokens per iteration), no dropout, AdamW. Prints a markdown table:
- ms/iter: median over --runs short timing runs at 1 and 2 threads, wall clock (perf_counter) and CPU time of
  this process (process_time; on a machine shared with other jobs it shows the work done, wall what we waited);
- val loss over the whole validation split after --iters iterations, and within each time budget (seconds of
  training, evaluation excluded; the cosine schedule then runs on elapsed time).
Saves images/basic-gpt-cpu-record.png (val loss against training seconds) and runs/basic-gpt/bench-cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from basic_gpt.data import get_batch, load_dataset
from basic_gpt.plot import plot_val_curves
from basic_gpt.stages import SCALED_CPU, SCALED_CPU_TRAIN
from basic_gpt.train import TrainConfig, build_model, make_optimizer, train, train_step
from scratch.files import atomic_write

CONFIGS = {
    "nanoGPT baby GPT": (
        SCALED_CPU | dict(rope=False, tie_weights=False),
        SCALED_CPU_TRAIN | dict(lr=1e-3, min_lr=1e-4),
    ),
    "ours (scaled stage)": (SCALED_CPU, SCALED_CPU_TRAIN),
}


def time_iters(model_kw: dict, train_kw: dict, ds, iters: int, runs: int) -> tuple[float, float]:
    """Median ms per training iteration (wall, CPU) over `runs` runs of `iters` steps, after 5 warm-up steps."""
    walls, cpus = [], []
    for r in range(runs):
        torch.manual_seed(r)
        model = build_model("scaled", ds.tokenizer.vocab_size, **model_kw)
        opt = make_optimizer(model, TrainConfig(**train_kw))
        gen = torch.Generator().manual_seed(r)
        for i in range(iters + 5):
            if i == 5:
                t0, c0 = time.perf_counter(), time.process_time()
            train_step(model, opt, *get_batch(ds.train, model.config.block_size, train_kw["batch_size"], gen))
        walls.append(1000 * (time.perf_counter() - t0) / iters)
        cpus.append(1000 * (time.process_time() - c0) / iters)
    return statistics.median(walls), statistics.median(cpus)


def run(model_kw: dict, train_kw: dict, ds, **overrides) -> dict:
    torch.manual_seed(1337)
    model = build_model("scaled", ds.tokenizer.vocab_size, **model_kw)
    hist = train(model, ds.train, ds.val, TrainConfig(**(train_kw | overrides)), progress=False)
    last = hist[-1]
    return dict(
        params=model.num_params(),
        history=hist,
        val_loss=last["val_loss"],
        iters=last["iter"],
        time_s=last["time_s"],
        cpu_s=last["cpu_s"],
    )


def main() -> None:
    p = argparse.ArgumentParser(description="CPU record for the scaled stage at baby-GPT size")
    p.add_argument("--threads", type=int, default=2, help="torch threads for the training runs")
    p.add_argument("--timing-threads", default="1,2", help="thread counts for the ms/iter timing runs")
    p.add_argument("--runs", type=int, default=3, help="timing runs per config (median)")
    p.add_argument("--timing-iters", type=int, default=50)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--budgets", default="100,420", help="comma-separated training-time budgets in seconds")
    p.add_argument("--data", default=None)
    p.add_argument("--plot", default="images/basic-gpt-cpu-record.png")
    p.add_argument("--out", default="runs/basic-gpt/bench-cpu.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    load_before = os.getloadavg()[0]

    timing = {}  # (config, threads) -> median (wall, cpu) ms/iter
    for threads in [int(t) for t in args.timing_threads.split(",")]:
        torch.set_num_threads(threads)
        for name, (mkw, tkw) in CONFIGS.items():
            timing[name, threads] = time_iters(mkw, tkw, ds, args.timing_iters, args.runs)
    torch.set_num_threads(args.threads)

    rows, curves = [], {}
    for name, (mkw, tkw) in CONFIGS.items():
        r = run(mkw, tkw, ds, max_iters=args.iters, eval_interval=250)
        curves[f"{name}, {args.iters} iters"] = r["history"]
        rows.append(
            dict(
                name=name,
                params=r["params"],
                budget=f"{args.iters} iters",
                iters=r["iters"],
                train_s=r["time_s"],
                val=r["val_loss"],
                run_wall_ms=1000 * r["time_s"] / r["iters"],
                run_cpu_ms=1000 * r["cpu_s"] / r["iters"],
            )
        )
        print(rows[-1], flush=True)
    mkw, tkw = CONFIGS["ours (scaled stage)"]
    for budget in [float(b) for b in args.budgets.split(",") if b]:
        r = run(mkw, tkw, ds, time_budget_s=budget, max_iters=10**9, eval_interval=500)
        curves[f"ours, {budget:.0f} s budget"] = r["history"]
        rows.append(
            dict(
                name="ours (scaled stage)",
                params=r["params"],
                budget=f"{budget:.0f} s",
                iters=r["iters"],
                train_s=r["time_s"],
                val=r["val_loss"],
                run_wall_ms=1000 * r["time_s"] / r["iters"],
                run_cpu_ms=1000 * r["cpu_s"] / r["iters"],
            )
        )
        print(rows[-1], flush=True)
    load_after = os.getloadavg()[0]

    print(
        f"\n{os.cpu_count()} CPUs; 1-min load average {load_before:.1f} at start, {load_after:.1f} at end "
        f"(above the thread count: other jobs were competing for the cores)\n"
    )
    print(f"ms per iteration, median of {args.runs} runs of {args.timing_iters} iterations:\n")
    print("| config | threads | wall ms/iter | CPU ms/iter |\n|---|---:|---:|---:|")
    for (name, threads), (wall, cpu) in timing.items():
        print(f"| {name} | {threads} | {wall:.1f} | {cpu:.1f} |")
    print(f"\ntraining runs ({args.threads} threads):\n")
    print("| config | params | budget | iters done | train s | val loss (whole split) | ms/iter wall / CPU |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['name']} | {r['params']:,} | {r['budget']} | {r['iters']} | {r['train_s']:.0f} | "
            f"{r['val']:.3f} | {r['run_wall_ms']:.1f} / {r['run_cpu_ms']:.1f} |"
        )

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        args.out,
        json.dumps(
            dict(
                rows=rows,
                curves=curves,
                threads=args.threads,
                timing=[[n, t, *v] for (n, t), v in timing.items()],
                load=[load_before, load_after],
            )
        ),
    )
    plot_val_curves(
        curves,
        Path(args.plot),
        "basic-gpt scaled stage vs nanoGPT baby GPT on CPU",
        x="time_s",
        xlabel="training time, s (evaluation excluded)",
        hlines=(1.80, 1.50),
        ylim=(1.3, 2.6),
    )


if __name__ == "__main__":
    main()
