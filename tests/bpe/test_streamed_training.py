"""Training at scale, checked on a slice: the streamed file trainer (small blocks, sharded counts, merges updated on
all cores) against the in-memory Python trainer, on text made the way bench/big_corpus.py makes its 2.6 GB corpus."""

import json

import numpy as np
import pytest

import bpe_rs
from bpe import GPT2_PATTERN
from bpe.training import count_pretokens, train_counts
from scratch.cli import UsageError
from testutil import EOT, bench_script, corpus_file


@pytest.fixture(scope="module")
def big_corpus():
    return bench_script("big_corpus")


@pytest.fixture(scope="module")
def slice_text(big_corpus) -> str:
    """Two copies of 1.5 MB of English the big corpus's way: as it is, then with typos (copy 1)."""
    raw = corpus_file("gutenberg-en.txt").read_bytes()[:1_500_000]
    raw = raw[: len(raw.decode("utf-8", errors="ignore").encode())]  # whole characters only
    text = np.frombuffer(raw + EOT.encode(), dtype=np.uint8)
    return b"".join(big_corpus.with_typos(text, k, 20).tobytes() for k in range(2)).decode("utf-8")


def test_typos_change_only_inner_lowercase_letters_to_other_letters(big_corpus):
    text = np.frombuffer(b"restrictions of the Kingdom, 1234 aaaa zzzz " * 500, dtype=np.uint8)
    assert big_corpus.with_typos(text, 0, 20) is text
    out = big_corpus.with_typos(text, 1, 20)
    changed = np.flatnonzero(out != text)
    assert 0 < len(changed) < len(text) // 20
    lower = lambda b: (b >= ord("a")) & (b <= ord("z"))  # noqa: E731
    assert lower(out[changed]).all() and lower(text[changed - 1]).all() and lower(text[changed + 1]).all()
    assert np.array_equal(out, big_corpus.with_typos(text, 1, 20))  # a pure function of (copy, offset)
    assert not np.array_equal(out, big_corpus.with_typos(text, 2, 20))


def test_splitmix64_matches_the_reference_values(big_corpus):
    # splitmix64 seeded with 0 (state += golden gamma, then the finaliser): first outputs from the reference C code
    x = np.array([0, 0x9E3779B97F4A7C15], dtype=np.uint64)
    assert [hex(v) for v in big_corpus.splitmix64(x)] == ["0xe220a8397b1dcdaf", "0x6e789e6aa1b965f4"]


def test_streamed_trainer_equals_in_memory_trainer(tmp_path, slice_text):
    path = tmp_path / "slice.txt"
    path.write_text(slice_text, encoding="utf-8")
    counts = count_pretokens(slice_text, GPT2_PATTERN, [EOT])
    want = train_counts(counts, 768)
    # 64 KB blocks: ~50 blocks whose counts merge into the shards; early merges touch up to ~3,900 words each
    # (above 2,048: the parallel update path, bpe-rs/src/train.rs PARALLEL_WORDS)
    got, unique = bpe_rs.train(None, str(path), 768, GPT2_PATTERN, [EOT], 2, None, 1 << 16)
    assert unique == len(counts)
    assert [tuple(m) for m in got] == want


def test_big_corpus_manifest_is_checked(tmp_path, big_corpus):
    out = tmp_path / "c.txt"
    out.write_bytes(b"some text")
    manifest = {"version": big_corpus.VERSION, "bytes": 9, "sha256": "0" * 64}
    big_corpus.manifest_path(out).write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="no longer matches its manifest"):
        big_corpus.check(out)
    with pytest.raises(UsageError, match="not found"):
        big_corpus.check(tmp_path / "missing.txt")


def test_competitors_are_fed_the_same_pre_tokens(tmp_path, slice_text):
    """bench/bpe_train.py feeds rustbpe and HF tokenizers ~64 KB pieces cut at safe points, <|endoftext|> removed:
    counted piece by piece they must give the whole text's counts (small blocks and pieces here, to cut often)."""
    from collections import Counter

    bench_train = bench_script("bpe_train")
    path = tmp_path / "slice.txt"
    path.write_text(slice_text[:400_000], encoding="utf-8")
    counts: Counter[bytes] = Counter()
    pieces = list(bench_train.stream_pieces(path, block=1 << 15, piece=1 << 12))
    for piece in pieces:
        counts.update(count_pretokens(piece, GPT2_PATTERN))
    assert len(pieces) > 50 and all(EOT not in p for p in pieces)
    assert counts == count_pretokens(slice_text[:400_000], GPT2_PATTERN, [EOT])
