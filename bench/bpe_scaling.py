"""Parallel scaling of bpe-rs: the same work on 1 thread and on all cores, for batch encoding and training.

    python bench/bpe_scaling.py               # ~10 seconds on 2 cores
    python bench/bpe_scaling.py --big         # also the 2.65 GB corpus of bench/big_corpus.py (3 rounds, ~3 minutes)

Batch encoding: cl100k_base on 10 MB of Gutenberg as a list of ~64 KB pieces (large input) and as 64 documents of
~1 KB (small input, where threads must not cost more than they bring; timed as 128 calls in a row), returning lists
and numpy arrays; outputs are asserted equal across thread counts. Training: 16,384 tokens on 40 MB of Gutenberg
read as a file (streamed in blocks, as at scale), merges asserted equal; with --big, also the multi-GB corpus
(--big-runs rounds). 1 thread and all cores are timed in alternating rounds (common.interleaved_times), so a slow
minute on a shared VM slows both alike. A round's speed-up = its time on 1 thread / its time on all cores; the table
gives the median round's and the range over rounds (on a shared VM one round's ratio moves by +-0.2, so a single
ratio says little). MB/s are of the median times. The goal is >= 1.8x on 2 cores for large inputs and no slowdown on
small ones.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bpe_encode import batch_pieces

from big_corpus import DEFAULT_OUT as BIG_CORPUS
from big_corpus import check as check_big_corpus
from common import corpus_slice, interleaved_times, machine, markdown_table
from scratch.cli import ArgumentParser, positive_int, run

EOT = "<|endoftext|>"


def encode_rows(runs: int, threads: int) -> list[list[str]]:
    from bpe import Tokenizer

    tok = Tokenizer.from_tiktoken("cl100k_base")
    text = corpus_slice("gutenberg-en.txt", 10 << 20)
    inputs = {"10 MB in ~64 KB pieces": batch_pieces(text), "64 documents of ~1 KB": batch_pieces(text[:65_536], 1024)}
    outputs = {
        "lists": lambda docs, n: tok.encode_ordinary_batch(docs, num_threads=n),
        "numpy": lambda docs, n: tok.encode_ordinary_batch_to_numpy(docs, num_threads=n),
    }
    rows = []
    for label, docs in inputs.items():
        nbytes = sum(len(d.encode()) for d in docs)
        reps = max(1, (8 << 20) // nbytes)  # a small batch is timed as many calls in a row: one lasts under 1 ms
        for out, fn in outputs.items():

            def calls(n: int, fn=fn, docs=docs, k=reps):
                for _ in range(k):
                    tok.clear_cache()  # a first pass every time, not a replay of merges remembered from the last call
                    ids = fn(docs, n)
                return ids

            ids_one, ids_many = calls(1), calls(threads)  # the warm-up, and the outputs compared
            same = ids_one == ids_many if out == "lists" else all((a == b).all() for a, b in zip(ids_one, ids_many))
            assert same, f"{out} output differs between 1 and {threads} threads"
            t = interleaved_times({"one": (lambda: calls(1), None), "many": (lambda: calls(threads), None)}, runs)
            rows.append(row(f"encode batch to {out}: {label}", nbytes * reps, t["one"], t["many"]))
    return rows


def train_row(path: Path, label: str, runs: int, threads: int) -> list[str]:
    """Training 16,384 tokens from the file on 1 thread and on `threads`, merges asserted equal."""
    from bpe import Tokenizer

    merges = {}

    def train(n: int) -> None:
        merges[n] = Tokenizer.train(path=path, vocab_size=16385, special_tokens=[EOT], workers=n).merges

    t = interleaved_times({"one": (lambda: train(1), None), "many": (lambda: train(threads), None)}, runs)
    assert merges[1] == merges[threads], "merges differ between thread counts"
    return row(f"train 16,384 tokens: {label}", path.stat().st_size, t["one"], t["many"])


def train_rows(runs: int, threads: int, mb: int, big: Path | None, big_runs: int) -> list[list[str]]:
    text = corpus_slice("gutenberg-en.txt", mb << 20)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "corpus.txt"
        path.write_text(text, encoding="utf-8")
        rows = [train_row(path, f"{mb} MB file", runs, threads)]
    if big is not None:
        size = big.stat().st_size  # checked against its manifest in main()
        rows.append(train_row(big, f"{size / 1e9:.2f} GB file (bench/big_corpus.py)", big_runs, threads))
    return rows


def row(label: str, nbytes: int, one: list[float], many: list[float]) -> list[str]:
    """A table row from each round's seconds on 1 thread and on all cores (round r's two runs were neighbours)."""
    ratios = [a / b for a, b in zip(one, many, strict=True)]
    mb_s = [f"{nbytes / statistics.median(ts) / 1e6:.1f}" for ts in (one, many)]
    return [label, *mb_s, f"{statistics.median(ratios):.2f}x", f"{min(ratios):.2f}-{max(ratios):.2f}x"]


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=positive_int, default=3, help="rounds of each row but the multi-GB one")
    p.add_argument("--threads", type=positive_int, default=os.cpu_count(), help="'all cores'")
    p.add_argument("--train-mb", type=positive_int, default=40, help="MB of Gutenberg to train on")
    p.add_argument("--big", action="store_true", help="also train on the multi-GB corpus of bench/big_corpus.py")
    p.add_argument("--big-corpus", type=Path, default=BIG_CORPUS)
    p.add_argument("--big-runs", type=positive_int, default=3, help="rounds at multi-GB scale (~1 min each)")
    args = p.parse_args()
    big = args.big_corpus if args.big else None
    if big is not None:
        check_big_corpus(big)  # before minutes of work, not after
    rows = encode_rows(args.runs, args.threads)
    rows += train_rows(args.runs, args.threads, args.train_mb, big, args.big_runs)
    print(f"# bpe-rs parallel scaling ({machine()}; all cores = {args.threads} threads)\n")
    print(markdown_table(["work", "1 thread MB/s", "all cores MB/s", "speed-up", "rounds' range"], rows))


if __name__ == "__main__":
    run(lambda _argv: main())  # a missing or changed big corpus: one line, exit 2
