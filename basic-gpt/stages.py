"""Train every stage of the ladder under its stated budget; write the markdown table and the loss curves into the
run folder (default runs/basic-gpt/ladder/: ladder.md, ladder.json, loss-curves.png).

uv run --no-sync python basic-gpt/stages.py                     # all eight stages (~12 min on 2 shared CPU cores)
uv run --no-sync python basic-gpt/stages.py --stages bigram,residual --max-iters 500 --out-dir runs/quick
uv run --no-sync python basic-gpt/stages.py --image images/basic-gpt-loss-curves.png   # also the README's figure

A second run into the same --out-dir is refused unless --overwrite is given; images/ is written only by --image.
"""

import argparse
from pathlib import Path

import torch

from basic_gpt.cli import THREADS_HELP, check_against_data, check_run_folder, claim_run_folder, output_folder, text_file
from basic_gpt.data import load_dataset
from basic_gpt.ladder import LADDER_ARTEFACTS, run_ladder
from basic_gpt.stages import STAGES
from basic_gpt.train import TrainConfig, stage_settings
from scratch.cli import ArgumentParser, non_negative_int, positive_int, run


def stage_list(text: str) -> list[str]:
    """argparse type: comma-separated stage names, each known."""
    stages = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {unknown or [text]}: choose from {', '.join(STAGES)}")
    return stages


def image_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: pass a file name ending in .png")
    return path


def parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", type=stage_list, default=list(STAGES), help="comma-separated subset, in ladder order")
    p.add_argument("--max-iters", type=positive_int, default=None, help="override every stage's budget (quick look)")
    p.add_argument("--eval-interval", type=non_negative_int, default=None, help="0: evaluate at start and end only")
    p.add_argument(
        "--data", type=text_file, default=None, help="local text file (default: download Tiny Shakespeare, cached)"
    )
    p.add_argument("--seed", type=non_negative_int, default=1337)
    p.add_argument("--threads", type=positive_int, default=None, help=THREADS_HELP)
    p.add_argument("--out-dir", type=output_folder, default=Path("runs/basic-gpt/ladder"), help="the run folder")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier ladder's files in --out-dir")
    p.add_argument(
        "--image", type=image_file, default=None, help="also write the plot here (replacing it), e.g. images/...png"
    )
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    check_run_folder(args.out_dir, args.overwrite, LADDER_ARTEFACTS)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    for name in args.stages:  # every stage must fit the data before the first one trains
        model, train = stage_settings(name)
        check_against_data(name, model, TrainConfig(**train), ds, prompt=None)
    claim_run_folder(args.out_dir, args.overwrite, LADDER_ARTEFACTS)
    run_ladder(
        ds,
        args.stages,
        args.out_dir,
        args.max_iters,
        args.eval_interval,
        progress=not args.no_progress,
        image=args.image,
        seed=args.seed,
    )
    print(f"wrote {args.out_dir}/{{{','.join(LADDER_ARTEFACTS)}}}" + (f" and {args.image}" if args.image else ""))
    return 0


if __name__ == "__main__":
    run(main)
