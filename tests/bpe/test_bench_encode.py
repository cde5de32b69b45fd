"""bench/bpe_encode.py on a small slice: every competitor's ids are checked against tiktoken's before it is timed, each
setting yields a row per encoder that offers it, and the timing rounds interleave the competitors."""

from __future__ import annotations

import pytest

from testutil import bench_script, corpus_file


@pytest.fixture(scope="module")
def bench():
    return bench_script("bpe_encode")


def test_rounds_interleave_and_reset_before_each_call(bench):
    calls = []
    cases = {
        name: (lambda n=name: calls.append(n), lambda n=name: calls.append(f"reset {n}") if n == "a" else None)
        for name in "abc"
    }
    medians = bench.interleaved_medians(cases, runs=3)
    assert set(medians) == set("abc") and all(s >= 0 for s in medians.values())
    runs = [c for c in calls if not c.startswith("reset")]
    assert runs == list("abcbcacab"), "each round times every case once, rotated"
    assert all(calls[calls.index(c) + 1] == "a" for c in calls if c == "reset a"), "reset right before its call"


def test_every_encoder_is_checked_and_timed(bench):
    text = corpus_file("gutenberg-en.txt").read_text(encoding="utf-8")[:60_000]
    rows = bench.bench_corpus("slice", text, "cl100k_base", runs=2, threads=2, python_ref=False)
    got = {(r["encoder"], r["setting"].split(", ", 1)[1]) for r in rows}
    for enc in ("bpe-rs", "tiktoken", "quicktok"):
        assert {(enc, "whole text, 1 thread"), (enc, "batch, all cores"), (enc, "decode")} <= got
    assert ("bpe-rs (numpy)", "batch, all cores") in got
    assert ("bpe-openai", "8 KB documents, 1 thread") in got and ("bpe-openai", "whole text, 1 thread") not in got
    assert all(r["mb_per_s"] > 0 for r in rows)


def test_a_wrong_id_stops_the_bench(bench, monkeypatch):
    real = bench.encoders

    def one_off(name, threads):
        found = real(name, threads)
        found["quicktok"]["one"] = lambda text: found["tiktoken"]["one"](text)[:-1]
        return found

    monkeypatch.setattr(bench, "encoders", one_off)
    text = corpus_file("gutenberg-en.txt").read_text(encoding="utf-8")[:20_000]
    with pytest.raises(AssertionError, match="quicktok"):
        bench.bench_corpus("slice", text, "cl100k_base", runs=1, threads=1, python_ref=False)


def test_each_round_is_a_first_pass_unless_warm(bench, monkeypatch):
    """bpe-rs, quicktok and HF tokenizers remember work across calls: each forgets it before every timed call (and
    still gives tiktoken's ids after), except under --warm; tiktoken remembers nothing and has nothing to forget."""
    resets: dict[bool, dict[str, set[bool]]] = {False: {}, True: {}}
    real = bench.interleaved_medians
    text = corpus_file("gutenberg-en.txt").read_text(encoding="utf-8")[:20_000]
    for warm in (False, True):

        def spy(cases, runs, seen=resets[warm]):
            for name, (_, before) in cases.items():
                seen.setdefault(name, set()).add(before is not None)
            return real(cases, runs)

        monkeypatch.setattr(bench, "interleaved_medians", spy)
        bench.bench_corpus("slice", text, "cl100k_base", runs=1, threads=1, python_ref=False, warm=warm)
    for enc in ("bpe-rs", "bpe-rs (numpy)", "quicktok", "HF tokenizers"):
        assert resets[False][enc] == {True}, enc
    assert resets[False]["tiktoken"] == {False}
    assert all(seen == {False} for seen in resets[True].values())
    encs = bench.encoders("cl100k_base", 1)
    want = encs["tiktoken"]["one"](text)
    encs["quicktok"]["one"](text)
    encs["quicktok"]["reset"]()
    assert encs["quicktok"]["one"](text) == want
