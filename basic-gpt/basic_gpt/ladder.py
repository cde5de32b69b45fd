"""Train every stage under one stated budget; write the ladder as a markdown table and plot the loss curves.

The budget is each stage's default settings (see basic_gpt.stages): the lecture's for the seven small stages, and
the CPU baby-GPT size for the scaled stage. Run it with basic-gpt/stages.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from basic_gpt.data import Dataset
from basic_gpt.plot import plot_val_curves
from basic_gpt.stages import STAGES
from basic_gpt.train import TrainConfig, build_model, stage_settings, train
from scratch.files import atomic_write


def run_stage(
    name: str,
    ds: Dataset,
    max_iters: int | None = None,
    seed: int = 1337,
    eval_interval: int | None = None,
    progress: bool = True,
) -> dict:
    model_settings, train_settings = stage_settings(name)
    if max_iters is not None:
        train_settings["max_iters"] = max_iters
    if eval_interval is not None:
        train_settings["eval_interval"] = eval_interval
    cfg = TrainConfig(**(train_settings | dict(seed=seed)))
    torch.manual_seed(seed)
    model = build_model(name, ds.tokenizer.vocab_size)
    history = train(model, ds.train, ds.val, cfg, progress=progress)
    return dict(
        stage=name,
        params=model.num_params(),
        iters=cfg.max_iters,
        batch=cfg.batch_size,
        block=model.config.block_size,
        lr=cfg.lr,
        history=history,
        val_loss=history[-1]["val_loss"],
        train_loss=history[-1]["train_loss"],
        time_s=history[-1]["time_s"],
        original=STAGES[name].original,
    )


def markdown_table(results: list[dict]) -> str:
    rows = [
        "| stage | adds | params | iters x batch x context | train | val (whole split) | original val | train time |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        orig = "" if r["original"] is None else f"{r['original']:.2f}"
        rows.append(
            f"| {r['stage']} | {STAGES[r['stage']].idea} | {r['params']:,} | "
            f"{r['iters']} x {r['batch']} x {r['block']} | {r['train_loss']:.3f} | {r['val_loss']:.3f} | "
            f"{orig} | {r['time_s']:.0f} s |"
        )
    return "\n".join(rows)


LADDER_ARTEFACTS = ("ladder.md", "ladder.json", "loss-curves.png")


def describe_source(source: dict) -> str:
    """One line naming the text a run was made from (path, size, start of its sha256)."""
    return f"data {source.get('path')} ({source.get('size', 0):,} bytes, sha256 {source.get('sha256', '?')[:12]})"


def run_ladder(
    ds: Dataset,
    stages: list[str],
    out_dir: Path,
    max_iters: int | None = None,
    eval_interval: int | None = None,
    progress: bool = True,
    image: Path | None = None,
    seed: int = 1337,
) -> list[dict]:
    """Train `stages`; write ladder.md (table), ladder.json (results and what they were made from) and
    loss-curves.png into out_dir, and the plot also to `image` when given (e.g. the README's images/ figure)."""
    results = []
    for name in stages:
        results.append(run_stage(name, ds, max_iters, seed, eval_interval=eval_interval, progress=progress))
        print(f"{name}: val {results[-1]['val_loss']:.4f}", flush=True)
    made_from = f"{describe_source(ds.source)}; seed {seed}; iterations: " + (
        f"{max_iters} per stage" if max_iters else "each stage's budget"
    )
    table = markdown_table(results)
    run = dict(data=ds.source, seed=seed, max_iters=max_iters, eval_interval=eval_interval, stages=stages)
    atomic_write(out_dir / "ladder.md", f"{table}\n\nMade from: {made_from}.\n")
    atomic_write(out_dir / "ladder.json", json.dumps(dict(run=run, results=results)))
    title = "basic-gpt: validation loss as each idea is added"
    for png in [out_dir / "loss-curves.png", *([image] if image else [])]:
        plot_val_curves({r["stage"]: r["history"] for r in results}, png, title, ylim=(1.4, 4.4), note=made_from)
    print(table)
    return results
