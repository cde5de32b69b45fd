"""bench/bpe_scaling.py on a small file: 1 thread and all cores are timed in alternating rounds, each round's
speed-up is reported as the median and range over rounds, and merges that differ between thread counts stop the
bench."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bpe import Tokenizer
from testutil import bench_script, corpus_file


@pytest.fixture(scope="module")
def bench():
    return bench_script("bpe_scaling")


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus_file("gutenberg-en.txt").read_text(encoding="utf-8")[:100_000], encoding="utf-8")
    return path


def test_training_alternates_thread_counts(bench, small_file, monkeypatch):
    real, workers = Tokenizer.train, []

    def spy(**kwargs):
        workers.append(kwargs["workers"])
        return real(**kwargs)

    monkeypatch.setattr(Tokenizer, "train", spy)
    label, one, many, speedup, spread = bench.train_row(small_file, "slice", runs=3, threads=2)
    assert workers == [1, 2, 2, 1, 1, 2], "each round times both, in rotating order"
    low, high = (float(x) for x in spread.removesuffix("x").split("-"))
    assert float(one) > 0 and float(many) > 0 and low <= float(speedup.removesuffix("x")) <= high


def test_a_rows_speed_up_is_its_rounds_median_ratio(bench):
    # Rounds pair up in time order: ratios 2/1, 4/1, 3/2 -> median 2.00, range 1.50-4.00; MB/s are of the median times
    # (3 s and 1 s for 6 MB). The ratio of the medians (3.00) would be wrong.
    row = bench.row("work", 6_000_000, one=[2.0, 4.0, 3.0], many=[1.0, 1.0, 2.0])
    assert row == ["work", "2.0", "6.0", "2.00x", "1.50-4.00x"]
    with pytest.raises(ValueError):
        bench.row("work", 1, one=[1.0, 2.0], many=[1.0])  # a round without its pair


def test_merges_that_depend_on_threads_stop_the_bench(bench, small_file, monkeypatch):
    monkeypatch.setattr(Tokenizer, "train", lambda **kwargs: SimpleNamespace(merges=[kwargs["workers"]]))
    with pytest.raises(AssertionError, match="merges differ"):
        bench.train_row(small_file, "slice", runs=1, threads=2)
