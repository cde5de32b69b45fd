"""Compare training runs: val loss, bits per byte and HellaSwag against steps, plus a results table.

    python gpt-2/plot.py runs/gpt2/baseline runs/gpt2/rope          # -> runs/gpt2/runs.png
    python gpt-2/plot.py runs/gpt2/rope                              # -> runs/gpt2/rope/plot.png
    python gpt-2/plot.py runs/gpt2/baseline runs/gpt2/rope --out runs/compare.png --gpt2-hellaswag

The plot goes beside the runs unless --out says where; an existing file is replaced only with --overwrite. Each RUN
is a run directory (or its log.jsonl) written by gpt-2/train.py. The table has, per run, the minimum val loss, minimum
bits per byte and maximum HellaSwag acc_norm over the run, as in the original's README.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from scratch.cli import ArgumentParser, UsageError, positive_float
from scratch.cli import run as run_cli
from scratch.plot import plt, save_figure


@dataclass
class RunLogData:
    name: str
    header: dict = field(default_factory=dict)
    train: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)


def load_run(path: str | Path) -> RunLogData:
    """Read a run's log.jsonl; for a resumed run, later records of a step replace earlier ones."""
    path = Path(path)
    log = path / "log.jsonl" if path.is_dir() else path
    if not log.is_file():
        raise FileNotFoundError(f"{log} not found: pass run directories written by gpt-2/train.py")
    run = RunLogData(name=log.parent.name)
    train, evals = {}, {}
    with open(log, encoding="utf-8") as f:
        for i, line in enumerate(f):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f"{log}:{i + 1}: not a JSON record ({e.msg}): is this a log.jsonl of train.py?"
                ) from None
            kind = rec.get("type")
            if kind == "config" and not run.header:
                run.header = rec
            elif kind == "train":
                train[rec["step"]] = rec
            elif kind == "eval":
                evals[rec["step"]] = rec
    run.train = [train[s] for s in sorted(train)]
    run.evals = [evals[s] for s in sorted(evals)]
    return run


def summarize(run: RunLogData) -> dict:
    """Min val loss / bpb, max HellaSwag, steps and tokens seen, mean tokens/s."""

    def best(key, fn):
        vals = [e[key] for e in run.evals if e.get(key) is not None]
        return fn(vals) if vals else None

    steps = run.train[-1]["step"] if run.train else 0
    tps = [r["tokens_per_sec"] for r in run.train[1:]] or [r["tokens_per_sec"] for r in run.train]
    return {
        "run": run.name,
        "config": run.header.get("train_config", {}).get("config", "?"),
        "model": run.header.get("train_config", {}).get("model", "?"),
        "steps": steps,
        "tokens": steps * run.header.get("train_config", {}).get("total_batch_tokens", 0),
        "min_val_loss": best("val_loss", min),
        "min_val_bpb": best("val_bpb", min),
        "max_hellaswag": best("hellaswag", max),
        "tokens_per_sec": sum(tps) / len(tps) if tps else None,
    }


def results_table(runs: list[RunLogData]) -> str:
    """A markdown table, one row per run."""

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    rows = [
        "| run | config | model | steps | tokens | min val loss | min val bpb | max HellaSwag | tok/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in map(summarize, runs):
        rows.append(
            f"| {s['run']} | {s['config']} | {s['model']} | {s['steps']} | {s['tokens']:,} | "
            f"{f(s['min_val_loss'], '.4f')} | {f(s['min_val_bpb'], '.4f')} | {f(s['max_hellaswag'], '.4f')} | "
            f"{f(s['tokens_per_sec'], ',.0f')} |"
        )
    return "\n".join(rows)


# OpenAI GPT-2 124M's HellaSwag acc_norm with this scoring, as build-nanogpt reports it (not measured here)
GPT2_HELLASWAG = 0.2955


def plot_runs(
    runs: list[RunLogData], out: str | Path, title: str | None = None, reference: dict[str, float] | None = None
) -> Path:
    """Four panels (train loss, val loss, val bits per byte, HellaSwag acc_norm vs step), a line per run; saved.
    REFERENCE ({"val_loss": x, "hellaswag": y, ...}) draws OpenAI GPT-2 124M's values as horizontal lines, as the
    original's plots do."""
    panels = [
        ("val_loss", "val loss (nats/token)"),
        ("val_bpb", "val bits per byte"),
        ("hellaswag", "HellaSwag acc_norm"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
    for run in runs:
        axes[0].plot([r["step"] for r in run.train], [r["loss"] for r in run.train], lw=0.8, label=run.name)
    axes[0].set_title("train loss")
    axes[3].axhline(0.25, color="gray", ls="--", lw=0.8, label="random (0.25)")
    for ax, (key, label) in zip(axes[1:], panels):
        for run in runs:
            pts = [(e["step"], e[key]) for e in run.evals if e.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), marker=".", label=run.name)
        ax.set_title(label)
        if reference and key in reference:
            ax.axhline(reference[key], color="red", ls=":", lw=1, label=f"OpenAI GPT-2 124M ({reference[key]:.4g})")
            ax.legend()
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[3].legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, out)


def run_arg(text: str) -> str:
    """A run folder holding log.jsonl, or a log.jsonl file."""
    path = Path(text)
    log = path / "log.jsonl" if path.is_dir() else path
    if not log.is_file():
        raise argparse.ArgumentTypeError(f"{log} not found: pass run folders written by gpt-2/train.py")
    return text


def default_out(runs: list[str]) -> Path:
    """Beside the runs: RUN_DIR/plot.png for one run, PARENT/runs.png (their common folder) for several."""
    dirs = [Path(r) if Path(r).is_dir() else Path(r).parent for r in runs]
    if len(dirs) == 1:
        return dirs[0] / "plot.png"
    return Path(os.path.commonpath([d.resolve() for d in dirs])) / "runs.png"


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=run_arg, help="run directories (or log.jsonl files)")
    p.add_argument("--out", default=None, help="where to save the plot (default: beside the runs)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--title", default=None)
    # OpenAI GPT-2 124M's reference lines
    p.add_argument(
        "--gpt2-hellaswag", action="store_true", help=f"draw GPT-2 124M's HellaSwag {GPT2_HELLASWAG} (build-nanogpt's)"
    )
    p.add_argument(
        "--gpt2-val-loss",
        type=positive_float,
        default=None,
        help="draw GPT-2 124M's val loss on the same val split, as measured by python -m gpt2.evaluate --ckpt gpt2",
    )
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else default_out(args.runs)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give an image file name (e.g. {out / 'runs.png'})")
    if out.exists() and not args.overwrite:
        raise UsageError(f"{out} exists: pass --overwrite to replace it, or another --out")
    runs = [load_run(r) for r in args.runs]
    print(results_table(runs))
    reference = {"hellaswag": GPT2_HELLASWAG} if args.gpt2_hellaswag else {}
    if args.gpt2_val_loss:
        reference["val_loss"] = args.gpt2_val_loss
    print(f"saved {plot_runs(runs, out, args.title, reference)}")


if __name__ == "__main__":
    run_cli(main)
