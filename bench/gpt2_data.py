"""Benchmark of the gpt2 data pipeline: prepare throughput (MB/s of text) and loader overhead per batch.

    uv run --no-sync python bench/gpt2_data.py [--mb 20] [--repeats 3]

1. prepare.py on the first --mb MB of ../shared/data/gutenberg-en.txt with the gpt2 vocabulary, all cores, three
   ways: tiktoken's Encoding (list batches), and bpe-rs (what `--tokenizer gpt2` runs) with list batches
   (encode_ordinary_batch) and with numpy batches (encode_ordinary_batch_to_numpy, prepare.py's default); also the
   bare batch encode of the same documents, to show what the pipeline adds. The three must write identical files.
2. next_batch() of each loader for B=64, T=1024 over those shards (1M tokens each): the median call (a batch inside a
   shard) and the mean (which includes moving to a new shard, and for shuffle-shards rebuilding a reshuffled shard),
   against the ~100 ms a 124M-model step of 64K tokens takes on an H100. Also the mean CPU time of the calling
   thread, which on a shared machine leaves out the time other processes held the core.
Prints a markdown table of medians over --repeats runs. The machine may be shared: figures are what it gave.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tiktoken

from gpt2 import prepare as prep
from gpt2.data import KINDS, make_loader
from gpt2.prepare import EOT_TEXT, dataset_source, prepare
from gpt2.tokenizer import load_tokenizer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "gutenberg-en.txt"
H100_STEP_MS = 100.0  # 124M model, 64K tokens per step (build-nanogpt on one H100)


KINDS_OF_PREPARE = ("tiktoken", "bpe-rs, list batches", "bpe-rs, numpy batches")


@contextlib.contextmanager
def prepare_as(kind: str):
    """prepare.py with tiktoken's Encoding in place of bpe's (`tiktoken`), or bpe's with the numpy batch encoder
    off or on."""
    saved = prep.load_tokenizer, prep.NUMPY_BATCHES
    if kind == "tiktoken":
        prep.load_tokenizer = tiktoken.get_encoding
    prep.NUMPY_BATCHES = kind == "bpe-rs, numpy batches"
    try:
        yield
    finally:
        prep.load_tokenizer, prep.NUMPY_BATCHES = saved


def bare_encoder(kind: str, workers: int) -> tuple[Callable[[list[str]], object], Callable[[], object]]:
    """(encode a batch, reset before each timed run): bpe-rs forgets the merges it remembered from the last run, so
    each run is a first pass over the text."""
    if kind == "tiktoken":
        enc = tiktoken.get_encoding("gpt2")
        return (lambda docs: enc.encode_ordinary_batch(docs, num_threads=workers)), lambda: None
    tok = load_tokenizer("gpt2")
    if kind == "bpe-rs, list batches":
        return (lambda docs: tok.encode_ordinary_batch(docs, num_threads=workers)), tok.clear_cache
    return (lambda docs: tok.encode_ordinary_batch_to_numpy(docs, num_threads=workers)), tok.clear_cache


def time_prepare(src: Path, kind: str, out: Path, workers: int, repeats: int) -> tuple[float, float, Path]:
    """Median MB/s of prepare() and of the bare batch encode, and the last output dir."""
    mb = src.stat().st_size / 1e6
    docs = [d for d in src.read_text(encoding="utf-8").split(EOT_TEXT) if d]
    encode, reset = bare_encoder(kind, workers)
    pipe, bare = [], []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        with prepare_as(kind):
            prepare(dataset_source(str(src)), "gpt2", out, 1_000_000, workers=workers)
        pipe.append(mb / (time.perf_counter() - t))
        reset()
        t = time.perf_counter()
        encode(docs)
        bare.append(mb / (time.perf_counter() - t))
    return statistics.median(pipe), statistics.median(bare), out


def files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def time_loader(kind: str, data: Path, repeats: int, calls: int) -> tuple[float, float, float]:
    """Median over runs of the median and mean wall time and the mean CPU time (this thread's: on a shared machine
    it leaves out the time other processes hold the core) of next_batch() in ms, for B=64, T=1024."""
    med, mean, cpu = [], [], []
    for r in range(repeats):
        loader = make_loader(kind, data, 64, 1024, seed=r)
        loader.next_batch()  # first touch of the first shard
        ts, cs = [], []
        for _ in range(calls):
            t, c = time.perf_counter(), time.thread_time()
            loader.next_batch()
            ts.append(time.perf_counter() - t)
            cs.append(time.thread_time() - c)
        med.append(statistics.median(ts) * 1e3)
        mean.append(statistics.fmean(ts) * 1e3)
        cpu.append(statistics.fmean(cs) * 1e3)
    return statistics.median(med), statistics.median(mean), statistics.median(cpu)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=float, default=20, help="MB of gutenberg-en.txt to tokenize")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--calls", type=int, default=300, help="next_batch() calls per loader run")
    args = p.parse_args()
    if not CORPUS.is_file():
        raise SystemExit(f"{CORPUS} not found: this benchmark needs ../shared/data/gutenberg-en.txt")

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "slice.txt"
        text = CORPUS.read_bytes()[: int(args.mb * 1e6)].decode("utf-8", errors="ignore")
        src.write_text(text, encoding="utf-8")
        rows, outs = [], {}
        for kind in KINDS_OF_PREPARE:
            pipe, bare, outs[kind] = time_prepare(src, kind, tmp / kind.replace(", ", "-"), args.workers, args.repeats)
            rows.append((kind, pipe, bare))
        # the same vocabulary hashes the same for tiktoken and bpe, so even the headers and manifests must agree
        same = all(files(outs[k]) == files(outs["tiktoken"]) for k in KINDS_OF_PREPARE)
        data = outs["tiktoken"]
        print(
            f"\n### prepare: gpt2 tokenizer, {src.stat().st_size / 1e6:.1f} MB of gutenberg-en.txt, "
            f"{args.workers} workers, median of {args.repeats}\n"
        )
        print("| tokenizer | prepare.py MB/s | bare batch encode MB/s |\n|---|---|---|")
        for name, pipe, bare in rows:
            print(f"| {name} | {pipe:.1f} | {bare:.1f} |")
        print("\nshard files identical for all three" if same else "\nshard files DIFFER between the three")

        print(f"\n### loader: next_batch() for B=64, T=1024, {args.calls} calls, median of {args.repeats} runs\n")
        print(
            "| loader | median ms | mean ms (incl. shard/epoch switches) | mean CPU ms | CPU mean as % of a 100 ms "
            "H100 step |\n|---|---|---|---|---|"
        )
        for kind in KINDS:
            med, mean, cpu = time_loader(kind, data, args.repeats, args.calls)
            print(f"| {kind} | {med:.3f} | {mean:.3f} | {cpu:.3f} | {100 * cpu / H100_STEP_MS:.2f}% |")
        print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
