"""Helpers shared by the bench/ scripts: medians of repeated timings, markdown tables, results files, the plot.

Benchmarks never run in the test suite; each script prints a markdown table and saves its raw figures to
runs/bench/NAME.json, from which `plot_bpe()` draws images/bpe-benchmarks.png.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "runs" / "bench"

if (ROOT.parent / "shared" / "tiktoken-cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared" / "tiktoken-cache"))


def median_time(fn: Callable[[], object], runs: int = 3, warmup: int = 1) -> tuple[float, object]:
    """(median seconds over `runs`, the last result) after `warmup` untimed calls."""
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def corpus_slice(name: str, max_bytes: int | None = None) -> str:
    """A UTF-8 corpus from ../shared/data, cut to at most max_bytes (at a character boundary)."""
    path = SHARED / name
    if not path.is_file():
        raise SystemExit(f"{path} not found: the benchmarks read ../shared/data beside the checkout")
    with open(path, "rb") as f:
        data = f.read(max_bytes) if max_bytes else f.read()
    return data.decode("utf-8", errors="ignore")


def save_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"machine": machine(), **results}, indent=1))
    os.replace(tmp, path)
    return path


def plot_bpe(out: Path = ROOT / "images" / "bpe-benchmarks.png") -> Path | None:
    """Training seconds (left) and encoding MB/s (right) from the saved bpe_train / bpe_encode results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = RESULTS / "bpe_train.json"
    encode = RESULTS / "bpe_encode.json"
    if not (train.exists() and encode.exists()):
        return None
    train_rows = json.loads(train.read_text())["training"]
    encode_rows = json.loads(encode.read_text())["encoding"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    vocabs = sorted({r["vocab"] for r in train_rows})
    trainers = list(dict.fromkeys(r["trainer"] for r in train_rows))
    width = 0.8 / len(trainers)
    for k, trainer in enumerate(trainers):
        secs = [next((r["seconds"] for r in train_rows if r["trainer"] == trainer and r["vocab"] == v), 0)
                for v in vocabs]
        a.bar([i + k * width for i in range(len(vocabs))], secs, width, label=trainer)
    a.set_xticks([i + width * (len(trainers) - 1) / 2 for i in range(len(vocabs))], [f"{v:,}" for v in vocabs])
    a.set(xlabel="vocab size", ylabel="seconds (lower is better)", title="Training on 10 MB of English")
    a.legend()
    settings = list(dict.fromkeys(r["setting"] for r in encode_rows))
    encoders = list(dict.fromkeys(r["encoder"] for r in encode_rows))
    width = 0.8 / len(encoders)
    for k, enc in enumerate(encoders):
        speeds = [next((r["mb_per_s"] for r in encode_rows if r["encoder"] == enc and r["setting"] == s), 0)
                  for s in settings]
        b.bar([i + k * width for i in range(len(settings))], speeds, width, label=enc)
    b.set_xticks([i + width * (len(encoders) - 1) / 2 for i in range(len(settings))], settings, fontsize=8)
    b.set(ylabel="MB/s (higher is better)", title="Encoding, gpt2 and cl100k ranks")
    b.legend(fontsize=8)
    fig.suptitle(f"bpe-rs vs competitors, same run ({machine()})")
    fig.tight_layout()
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
