"""How long each notebook takes, run top to bottom at its full settings (what a learner runs), for the README's
"Learn" section. The notebooks' outputs are not saved (the repository keeps them output-free).

    uv run --no-sync python bench/notebooks.py                       # every notebook, a markdown table
    uv run --no-sync python bench/notebooks.py --threads 1 bpe/notebooks/bpe-dev.ipynb

Each notebook runs in a fresh kernel from its own folder (as Jupyter would), so a notebook that trains or downloads
does it here too; tests/ runs the same notebooks at small settings (NOTEBOOK_SMOKE=1).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm import tqdm

from scratch.cli import ArgumentParser, positive_int, run

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [
    "bpe/notebooks/bpe-dev.ipynb",
    "bpe/notebooks/tokenization-quirks.ipynb",
    "basic-gpt/notebooks/bigram-dev.ipynb",
    "basic-gpt/notebooks/self-attention-dev.ipynb",
    "basic-gpt/notebooks/layer-norm-dev.ipynb",
    "gpt-2/notebooks/rope.ipynb",
    "gpt-2/notebooks/swiglu.ipynb",
    "gpt-2/notebooks/dataloaders.ipynb",
    "gpt-2/notebooks/speed.ipynb",
    "gpt-2/notebooks/gpt2-inside.ipynb",
]


def time_notebook(path: Path, timeout: int) -> float:
    """Seconds to execute PATH top to bottom in a fresh kernel (full settings: NOTEBOOK_SMOKE unset)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    t0 = time.perf_counter()
    client.execute()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(description="Time every notebook at its full settings; prints a markdown table.")
    p.add_argument("notebooks", nargs="*", default=NOTEBOOKS, help="paths relative to the repository root")
    p.add_argument("--threads", type=positive_int, default=None, help="OMP_NUM_THREADS for the kernels")
    p.add_argument("--timeout", type=positive_int, default=1800, help="seconds per cell")
    args = p.parse_args(argv)
    os.environ.pop("NOTEBOOK_SMOKE", None)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    missing = [name for name in args.notebooks if not (ROOT / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: no such notebook")
    tqdm.write("| notebook | minutes |\n|---|---:|")
    failed = 0
    for name in tqdm(args.notebooks, desc="notebooks", unit="nb"):
        try:  # a row as soon as it is measured; a failing notebook is reported and the others still run
            tqdm.write(f"| {name} | {time_notebook(ROOT / name, args.timeout) / 60:.1f} |")
        except CellExecutionError as e:
            failed += 1
            tqdm.write(f"| {name} | failed: {str(e).strip().splitlines()[-1][:100]} |")
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
