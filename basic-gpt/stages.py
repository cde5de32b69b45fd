"""Train every stage of the ladder under its stated budget; print and save the markdown table and the loss curves.

uv run --no-sync python basic-gpt/stages.py                     # all eight stages (~12 min on 2 shared CPU cores)
uv run --no-sync python basic-gpt/stages.py --stages bigram,residual --max-iters 500
"""

import argparse
from pathlib import Path

import torch

from basic_gpt.data import load_dataset
from basic_gpt.ladder import run_ladder
from basic_gpt.stages import STAGES

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset, in ladder order")
    p.add_argument("--max-iters", type=int, default=None, help="override every stage's budget (for a quick look)")
    p.add_argument("--eval-interval", type=int, default=None)
    p.add_argument("--data", default=None, help="local text file (default: download Tiny Shakespeare, cached)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="runs/basic-gpt/ladder.md")
    p.add_argument("--plot", default="images/basic-gpt-loss-curves.png")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    stages = args.stages.split(",")
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; choose from {', '.join(STAGES)}")
    run_ladder(load_dataset(args.data), stages, Path(args.out), Path(args.plot), args.max_iters, args.eval_interval)
