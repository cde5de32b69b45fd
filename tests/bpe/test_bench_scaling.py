"""bench/bpe_scaling.py on a small file: 1 thread and all cores are timed in alternating rounds, and merges that differ
between thread counts stop the bench."""

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
    label, one, many, speedup = bench.train_row(small_file, "slice", runs=3, threads=2)
    assert workers == [1, 2, 2, 1, 1, 2], "each round times both, in rotating order"
    assert float(one) > 0 and float(many) > 0 and speedup.endswith("x")


def test_merges_that_depend_on_threads_stop_the_bench(bench, small_file, monkeypatch):
    monkeypatch.setattr(Tokenizer, "train", lambda **kwargs: SimpleNamespace(merges=[kwargs["workers"]]))
    with pytest.raises(AssertionError, match="merges differ"):
        bench.train_row(small_file, "slice", runs=1, threads=2)
