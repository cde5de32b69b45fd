"""bench/bpe_story.py: every step of the optimisation story gives the naive trainer's merges (the oracle), on a small
slice of real text; the teaching step it adds keeps the tie rule; the profile names where the time goes."""

from __future__ import annotations

import json

import pytest

from bpe.training import count_pretokens
from scratch.cli import UsageError
from testutil import bench_script, corpus_file


@pytest.fixture(scope="module")
def story():
    return bench_script("bpe_story")


@pytest.fixture(scope="module")
def tiny(story, tmp_path_factory):
    """20 KB of English (with <|endoftext|> between documents), as a string and as a file; vocab 300."""
    data = corpus_file("gutenberg-en.txt").read_bytes()[:20_000]
    text = data.decode("utf-8", errors="ignore")
    path = tmp_path_factory.mktemp("story") / "slice.txt"
    path.write_bytes(text.encode())
    return story.Slice(text, path, 300, workers=2)


def test_every_step_gives_the_naive_merges(story, tiny):
    steps = story.steps(tiny.workers)
    naive = steps[0].train(tiny, False)
    assert len(naive) == 300 - 256 - 1  # the special token takes one id
    for step in steps[1:]:
        assert step.train(tiny, False) == naive, step.name


def test_teaching_step_keeps_the_tie_rule(story):
    # "aaab aaab": (a,a) has 4; then (aa,a) and (a,b) both have 2 and b"aa" > b"a" decides; then (aaa,b)
    counts = count_pretokens("aaab aaab")
    assert story.train_unique_counts(counts, 3) == [(97, 97), (256, 97), (257, 98)]
    assert story.train_unique_counts(counts, 10) == [(97, 97), (256, 97), (257, 98), (32, 258)]  # then nothing left


def test_profile_says_where_the_naive_time_goes(story, tiny):
    naive = story.steps(tiny.workers)[0].train(tiny, False)
    secs, shares, top, merges = story.profile_naive(tiny, 5)
    assert merges == naive[:5]
    assert secs > 0 and "train_naive" in top
    assert shares["pair counting (`Counter.update`)"] > 0 and shares["rewriting pre-tokens (`merge`)"] > 0
    assert sum(shares.values()) <= 1.0 + 1e-9


def test_first_equal_counts_the_common_prefix(story):
    assert story.first_equal([(1, 2), (3, 4)], [[1, 2], [3, 4]]) == "all 2"
    assert story.first_equal([(1, 2), (5, 6)], [(1, 2), (3, 4)]) == "first 1 of 2 (tie rule differs)"


def test_vocab_without_a_merge_is_a_usage_error(story):
    with pytest.raises(UsageError, match="at least 258"):
        story.parse_args(["--vocab-size", "257"])


def test_original_trainer_runs_on_the_slice_and_its_file_loads_in_ours(story, tiny, tmp_path):
    if not (story.ORIGINAL_MIRROR / "HEAD").is_file():
        pytest.skip(f"{story.ORIGINAL_MIRROR}: no mirror of the original project here")
    story.export_original(story.ORIGINAL_MIRROR, tmp_path)
    result = tmp_path / "out.json"
    story.original_child(tmp_path, tiny.path, tiny.vocab, 1, result)  # without its Rust encoder (not built)
    out = json.loads(result.read_text())
    naive = story.steps(tiny.workers)[0].train(tiny, False)
    assert len(out["merges"]) == len(naive) and out["merges"][0] == list(naive[0])  # no tie at the first merge
    assert all(e["equal"] for e in out["encoding"])  # ours and its Python encoder == tiktoken on its merges
    assert {e["encoder"] for e in out["encoding"]} >= {"bpe-rs (ours)", "tiktoken (same ranks)"}
