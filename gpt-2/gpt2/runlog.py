"""What a training run writes down: one JSON record per event in RUN_DIR/log.jsonl (plot it with gpt-2/plot.py),
mirrored to Weights & Biases when asked, and the git commit of the code that ran.

    log = RunLog(run_dir / "log.jsonl", fresh=True, wandb_run=start_wandb(cfg, header) if cfg.wandb else None)
    log.write({"type": "train", "step": 1, "loss": 10.9})
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gpt2.configs import TrainConfig


def git_commit() -> str:
    """HEAD of the repository this file lives in (+ '-dirty' with uncommitted changes), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        )
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
    """A wandb run named after the config, with RECORD (the run's header) as its config."""
    try:
        import wandb  # optional: not a dependency of gpt2, only --wandb needs it
    except ImportError as e:
        raise SystemExit("--wandb needs the wandb package: `uv pip install wandb` (then `wandb login`)") from e
    return wandb.init(project="gpt2", name=cfg.run_name or cfg.config, config=record)
