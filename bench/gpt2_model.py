"""Benchmark the GPT-2 124M model: training-step time against HuggingFace transformers, generation with and without the
KV cache, and on a GPU tokens/s and MFU of bf16 + torch.compile + flash-attention training steps.

    uv run --no-sync python bench/gpt2_model.py                       # CPU: fp32 fwd+bwd at 1 x 1024, generation
    uv run --no-sync python bench/gpt2_model.py --device cuda --batch-size 16   # GPU: training tokens/s and MFU

Prints a markdown table (median of --repeats runs after a warm-up) and saves a plot to images/gpt2_model_bench.png.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from common import machine, markdown_table
from gpt2 import flops
from gpt2.model import GPT, GPTConfig
from scratch.plot import plt, save_figure

LOAD_BEFORE = " ".join(f"{x:.1f}" for x in os.getloadavg())
NANOGPT_CPU_STEP_S = 6.05  # nanoGPT's model, fwd+bwd 1 x 1024 fp32, measured earlier on this machine type (issue 5)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved_medians(fns: dict, repeats: int, device: str, warmup: int = 1) -> dict[str, list[float]]:
    """Time each fn `repeats` times, taking turns (a, b, c, a, b, c, ...) so that a load from other processes on a
    shared machine hits every contender alike. Returns every measured time per name."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
            print(f"  run {r + 1}/{repeats} {name}: {times[name][-1]:.3f}s", file=sys.stderr, flush=True)
    return times


def fwd_bwd(model, idx, hf: bool = False):
    def step():
        model.zero_grad(set_to_none=True)
        loss = model(idx, labels=idx).loss if hf else model(idx[:, :-1], idx[:, 1:])[1]
        loss.backward()

    return step


def cpu_bench(args) -> list[tuple[str, float, str]]:
    from transformers import GPT2Config, GPT2LMHeadModel

    T, B = args.seq_len, args.batch_size
    idx = torch.randint(0, 50257, (B, T + 1))  # T inputs + 1 for the shifted targets
    ours = GPT(GPTConfig.from_preset("gpt2"))
    padded = GPT(GPTConfig.from_preset("gpt2", pad_vocab_to=64))
    hf = GPT2LMHeadModel(GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))  # its default: sdpa attention
    steps = {
        "ours": fwd_bwd(ours, idx),
        "ours, vocab padded to 50304": fwd_bwd(padded, idx),
        "HF GPT2LMHeadModel": fwd_bwd(hf, idx[:, :T], hf=True),
    }  # HF shifts inside: the same T positions
    times = interleaved_medians(steps, args.repeats, "cpu")
    del padded, hf
    rows = [(f"{name}: fwd+bwd {B}x{T} fp32", statistics.median(t), "s/step") for name, t in times.items()]
    ratios = [a / b for a, b in zip(times["ours"], times["HF GPT2LMHeadModel"])]
    rows.append(("ours / HF, same round (median ratio)", statistics.median(ratios), "x"))
    rows.append(
        (
            "nanoGPT model (cited): fwd+bwd 1x1024 fp32, from issue 5, measured earlier on this machine type, "
            "not in this run",
            NANOGPT_CPU_STEP_S,
            "s/step",
        )
    )
    return rows + generation_bench(ours.eval(), args, "cpu")


def generation_bench(model: GPT, args, device: str) -> list[tuple[str, float, str]]:
    prompt = torch.randint(0, 50257, (1, args.prompt_len), device=device)
    n = args.gen_tokens
    runs = {
        label: (lambda c=use_cache: model.generate(prompt, n, temperature=0, use_cache=c))
        for label, use_cache in [("with KV cache", True), ("without KV cache (full recompute)", False)]
    }
    times = interleaved_medians(runs, args.repeats, device)
    return [
        (
            f"{label}: generate {n} tokens after a {args.prompt_len}-token prompt, batch 1",
            n / statistics.median(t),
            "tokens/s",
        )
        for label, t in times.items()
    ]


def gpu_bench(args) -> list[tuple[str, float, str]]:
    """Training steps as train.py runs them on a GPU: bf16 autocast, torch.compile, flash SDPA, fused AdamW."""
    device, T, B = args.device, args.seq_len, args.batch_size
    torch.set_float32_matmul_precision("high")  # TF32 for whatever stays fp32
    model = GPT(GPTConfig.from_preset("gpt2", pad_vocab_to=64)).to(device)
    opt = model.configure_optimizers(0.1, 6e-4, device_type="cuda")
    compiled = torch.compile(model)
    x = torch.randint(0, 50257, (B, T), device=device)
    y = torch.randint(0, 50257, (B, T), device=device)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = compiled(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t = statistics.median(interleaved_medians({"train step": step}, args.repeats, device, warmup=3)["train step"])
    tps = B * T / t
    util = flops.mfu(model.flops_per_token(T) * tps, device, torch.bfloat16)
    name = torch.cuda.get_device_name(device)
    rows = [
        (f"{name}: train step {B}x{T} bf16 + compile", t * 1e3, "ms/step"),
        (f"{name}: training throughput", tps, "tokens/s"),
        (
            f"{name}: MFU (peak {flops.peak_flops(device) or float('nan'):.3g} FLOP/s)",
            100 * util if util is not None else float("nan"),
            "%",
        ),
    ]
    return rows + generation_bench(model.eval(), args, device)


def plot(rows, path: Path) -> None:
    units = [u for u in dict.fromkeys(r[2] for r in rows) if u != "x"]  # ratios are in the table only
    groups = [[r for r in rows if r[2] == unit] for unit in units]
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(9, 1.6 * len(rows) / len(groups) + 1.5 * len(groups)), squeeze=False
    )
    for ax, group in zip(axes[:, 0], groups):
        names = [r[0].split(":")[0].replace("(cited)", "(cited, not this run)") for r in group]  # setting: x label
        ax.barh(names, [r[1] for r in group], color=["tab:gray" if "cited" in n else "tab:blue" for n in names])
        ax.invert_yaxis()
        ax.set_xlabel(f"{group[0][2]} ({group[0][0].split(':', 1)[1].strip()})")
        for i, r in enumerate(group):
            ax.text(r[1], i, f" {r[1]:.3g}", va="center")
    fig.suptitle("GPT-2 124M (bench/gpt2_model.py)")
    save_figure(fig, path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # what to run
    p.add_argument("--device", default="cpu", help="cpu (fwd+bwd vs transformers, generation) or cuda (training MFU)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 1 on CPU, 16 on GPU")
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per figure (the median is reported)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    # generation
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--gen-tokens", type=int, default=32)
    # output
    p.add_argument("--plot", default="images/gpt2_model_bench.png", help="where to save the plot ('' for none)")
    args = p.parse_args()
    args.batch_size = args.batch_size or (1 if args.device == "cpu" else 16)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = cpu_bench(args) if args.device == "cpu" else gpu_bench(args)
    print(
        f"\n{machine()}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, median of {args.repeats} "
        f"runs, load average before: {LOAD_BEFORE}\n"
    )
    print(markdown_table(["what", "value", "unit"], [[what, f"{value:,.3f}", unit] for what, value, unit in rows]))
    if args.plot:
        plot(rows, Path(args.plot))
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
