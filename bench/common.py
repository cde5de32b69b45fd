"""Helpers shared by the bench/ scripts: medians of repeated timings, markdown tables, results files, the plot.

Benchmarks never run in the test suite; each script prints a markdown table and saves its raw figures to
runs/bench/NAME.json, from which `plot_bpe()` draws images/bpe-benchmarks.png.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scratch.files import atomic_write
from scratch.plot import plt, save_figure

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "runs" / "bench"

if (ROOT.parent / "shared" / "tiktoken-cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared" / "tiktoken-cache"))


def median_time(
    fn: Callable[[], object], runs: int = 3, warmup: int = 1, before: Callable[[], object] | None = None
) -> tuple[float, object]:
    """(median seconds over `runs`, the last result) after `warmup` untimed calls; `before` (untimed) runs before
    each timed call: bpe-rs passes Tokenizer.clear_cache, so every run is a first pass, not a replay of merges it
    remembered from the previous run of the same text."""
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


Cases = dict[str, tuple[Callable[[], object], Callable[[], object] | None]]


def interleaved_times(cases: Cases, runs: int) -> dict[str, list[float]]:
    """{name: seconds of each round} of cases given as name -> (fn, before). Each of `runs` rounds times every case
    once, in an order rotated round by round, so a slow minute on a shared machine slows every competitor alike
    instead of whichever ran then. `before` (untimed) runs before each timed call, as in median_time. Warm up
    beforehand."""
    names, times = list(cases), {name: [] for name in cases}
    for r in range(runs):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn, before = cases[name]
            if before is not None:
                before()
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def interleaved_medians(cases: Cases, runs: int) -> dict[str, float]:
    """{name: median seconds} of `interleaved_times`."""
    return {name: statistics.median(ts) for name, ts in interleaved_times(cases, runs).items()}


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """Where a figure was measured: the CPU model as well, since the same VM class is not always the same CPU."""
    return f"{platform.machine()} ({cpu_model()}), {os.cpu_count()} cores, Python {platform.python_version()}"


# A fixed pure-Python loop that times itself (process start-up is left out) and prints its seconds.
HOST_LOOP = "import time\nt = time.perf_counter()\nsum(i * i for i in range(2_000_000))\nprint(time.perf_counter() - t)"


def host_check(rounds: int = 5) -> str:
    """How busy this shared machine is right now, as one line for a report: a fixed Python loop alone, then one copy
    of it per core at once, `rounds` times each (medians). A loud neighbour shows as a slow loop alone; a core taken
    by other work as copies that take longer together than alone. Costs ~4 s."""
    copies = os.cpu_count() or 1

    def run_copies(k: int) -> list[float]:
        procs = [
            subprocess.Popen([sys.executable, "-c", HOST_LOOP], stdout=subprocess.PIPE, text=True) for _ in range(k)
        ]
        outputs = [p.communicate()[0] for p in procs]  # every copy is waited for, even if one prints no number
        return [float(out) for out in outputs]

    try:
        alone = [run_copies(1)[0] for _ in range(rounds)]
        at_once = [max(run_copies(copies)) for _ in range(rounds)]
    except (OSError, ValueError) as e:  # a report's hour of figures is not lost to its weather line
        return f"host check: not measured ({type(e).__name__}: {e})"
    return host_line(alone, at_once, copies)


def host_line(alone: list[float], at_once: list[float], copies: int) -> str:
    """`host_check`'s line from its timings: the medians and their ratio (1.00x when every core was free)."""
    a, b = statistics.median(alone), statistics.median(at_once)
    return (
        f"host check: a fixed Python loop took {a * 1e3:.0f} ms alone and {b * 1e3:.0f} ms as {copies} copies at once "
        f"({b / a:.2f}x; about 1.00x when every core is free), medians of {len(alone)}"
    )


def cpu_model() -> str:
    """The first "model name" of /proc/cpuinfo (Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or "unknown CPU"


def corpus_slice(name: str, max_bytes: int | None = None) -> str:
    """A UTF-8 corpus from ../shared/data, cut to at most max_bytes (at a character boundary)."""
    path = SHARED / name
    if not path.is_file():
        raise SystemExit(f"{path} not found: the benchmarks read ../shared/data beside the checkout")
    with open(path, "rb") as f:
        data = f.read(max_bytes) if max_bytes else f.read()
    return data.decode("utf-8", errors="ignore")


def save_results(name: str, results: dict) -> Path:
    return atomic_write(RESULTS / f"{name}.json", json.dumps({"machine": machine(), **results}, indent=1))


def _grouped_bars(ax, rows: list[dict], group: str, series: str, value: str, label) -> None:
    """One group of bars per distinct rows[group], one bar (and legend entry) per distinct rows[series]."""
    groups = list(dict.fromkeys(r[group] for r in rows))
    names = list(dict.fromkeys(r[series] for r in rows))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        values = [next((r[value] for r in rows if r[series] == name and r[group] == g), 0) for g in groups]
        ax.bar([i + k * width for i in range(len(groups))], values, width, label=name)
    ax.set_xticks(
        [i + width * (len(names) - 1) / 2 for i in range(len(groups))], [label(g) for g in groups], fontsize=8
    )
    ax.legend(fontsize=8)


def plot_bpe(out: Path = ROOT / "images" / "bpe-benchmarks.png") -> Path | None:
    """Training seconds (left), encoding MB/s (middle) and, when bpe_train.py ran with --big, time and peak memory of
    training at scale (right), from the saved bpe_train / bpe_encode results."""
    train = RESULTS / "bpe_train.json"
    encode = RESULTS / "bpe_encode.json"
    if not (train.exists() and encode.exists()):
        return None
    saved = json.loads(train.read_text())
    encode_rows = json.loads(encode.read_text())["encoding"]
    at_scale = saved.get("at_scale") or []
    fig, axes = plt.subplots(1, 3 if at_scale else 2, figsize=(18 if at_scale else 12, 4.5))
    _grouped_bars(axes[0], saved["training"], "vocab", "trainer", "seconds", lambda v: f"{v:,}")
    axes[0].set(xlabel="vocab size", ylabel="seconds (lower is better)", title="Training on 10 MB of English")
    _grouped_bars(axes[1], encode_rows, "setting", "encoder", "mb_per_s", lambda s: s.replace(", ", "\n"))
    axes[1].set(ylabel="MB/s (higher is better)", title="Encoding 10 MB of English")
    if at_scale:
        measures = [
            ("time (minutes)", lambda r: r["seconds"] / 60),
            ("peak memory (GB)", lambda r: r["peak_rss_mb"] / 1024),
        ]
        rows = [{"measure": m, "trainer": r["trainer"], "value": f(r)} for m, f in measures for r in at_scale]
        _grouped_bars(axes[2], rows, "measure", "trainer", "value", str)
        gb = at_scale[0]["bytes"] / 1e9
        axes[2].set(ylabel="lower is better", title=f"Training 16,384 tokens on {gb:.2f} GB, streamed from disk")
    fig.suptitle(f"bpe-rs vs competitors, each panel from one run of its bench script ({machine()})")
    return save_figure(fig, out)
