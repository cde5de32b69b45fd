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


def run_ladder(
    ds: Dataset,
    stages: list[str],
    out_md: Path,
    out_png: Path,
    max_iters: int | None = None,
    eval_interval: int | None = None,
    progress: bool = True,
) -> list[dict]:
    results = []
    for name in stages:
        results.append(run_stage(name, ds, max_iters, eval_interval=eval_interval, progress=progress))
        print(f"{name}: val {results[-1]['val_loss']:.4f}", flush=True)
    table = markdown_table(results)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_md, table + "\n")
    atomic_write(out_md.with_suffix(".json"), json.dumps(results))
    plot_val_curves(
        {r["stage"]: r["history"] for r in results},
        out_png,
        "basic-gpt: validation loss as each idea is added",
        ylim=(1.4, 4.4),
    )
    print(table)
    return results
