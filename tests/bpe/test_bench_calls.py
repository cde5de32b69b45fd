"""bench/bpe_calls.py on a small slice: every output mode is checked against tiktoken's ids before it is timed, each
case is a first pass, and the collector is off only inside the cases that say so."""

from __future__ import annotations

import gc

import pytest

from bpe import Tokenizer
from testutil import bench_script, corpus_file, tiktoken_encoding


@pytest.fixture(scope="module")
def bench():
    return bench_script("bpe_calls")


@pytest.fixture
def text():
    tiktoken_encoding("cl100k_base")  # skips, naming why, where tiktoken cannot load it
    return corpus_file("gutenberg-en.txt").read_text(encoding="utf-8")[:40_000]


def test_every_case_is_checked_and_timed_as_a_first_pass(bench, text, monkeypatch):
    real, resets = bench.interleaved_medians, {}

    def spy(cases, runs):
        resets.update({name: before for name, (_, before) in cases.items()})
        return real(cases, runs)

    monkeypatch.setattr(bench, "interleaved_medians", spy)
    rows = bench.bench_corpus("slice", text, "cl100k_base", runs=1)
    got = {tuple(r[2:5]) for r in rows}
    outputs = {"whole text": ("list", "numpy"), "8 KB documents": ("lists", "numpy")}
    want = {(call, out, f"collector {gc_}") for call, outs in outputs.items() for out in outs for gc_ in ("on", "off")}
    assert got == want
    assert all(float(r[5]) > 0 and float(r[6]) > 0 for r in rows)
    base = next(r for r in rows if r[2:5] == ["whole text", "list", "collector on"])
    assert base[7] == "1.00x", "times are relative to the whole text to a list, collector on"
    assert len(resets) == 8 and all(getattr(b, "__name__", "") == "clear_cache" for b in resets.values())


def test_wrong_numpy_ids_stop_the_bench(bench, text, monkeypatch):
    real = Tokenizer.encode_to_numpy
    monkeypatch.setattr(Tokenizer, "encode_to_numpy", lambda self, t, **kw: real(self, t, **kw)[:-1])
    with pytest.raises(AssertionError, match="numpy"):
        bench.bench_corpus("slice", text, "cl100k_base", runs=1)


def test_collector_is_off_only_while_the_case_runs(bench):
    seen = []
    bench.collector_off(lambda: seen.append(gc.isenabled()))()
    assert seen == [False] and gc.isenabled()

    def fails():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        bench.collector_off(fails)()
    assert gc.isenabled(), "an error inside a case must not leave the collector off"


@pytest.mark.parametrize("runs", ["0", "-3", "x"])
def test_a_bad_run_count_is_one_line_and_exit_2(bench, runs, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--runs", runs])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "--runs" in err and len(err.splitlines()) == 1
