"""The numpy batch encoder (bpe.Tokenizer.encode_ordinary_batch_to_numpy) and prepare.py's fast path through it.

Oracles: tiktoken's own ids for the same documents, and prepare.py's list path (encode_ordinary_batch, forced with
a monkeypatch), whose shard files the numpy path must reproduce byte for byte.
"""

from __future__ import annotations

import numpy as np
import pytest

from bpe import Tokenizer
from gpt2 import prepare as prep
from gpt2.prepare import EOT_TEXT, dataset_source, prepare
from testutil import corpus_file, tiktoken_encoding

# Not in Tiny Shakespeare: accents, CJK, an emoji, a lone combining mark, a lone surrogate (both tokenizers write it
# as U+FFFD), whitespace runs.
ODD = ["", "héllo wörld", "中文 😀 text", "\u0301 lone mark", "a\ud800b", "  \n\n\t ", "Ελληνικά", ""]


def shakespeare_docs(limit: int | None = None) -> list[str]:
    """Tiny Shakespeare cut into speeches (documents of varied length), with ODD among them."""
    docs = corpus_file("tinyshakespeare.txt").read_text(encoding="utf-8")[:limit].split("\n\n")
    for i, odd in enumerate(ODD):
        docs.insert(7 * i, odd)
    return docs


def split(ids: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    return [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base"])
def test_numpy_batch_gives_tiktokens_ids(name):
    """gpt2 fits uint16, cl100k_base needs uint32: the engine's two buffer types."""
    enc = tiktoken_encoding(name)
    tok = Tokenizer.from_tiktoken(enc)
    docs = shakespeare_docs(None if name == "gpt2" else 100_000)
    ids, offsets = tok.encode_ordinary_batch_to_numpy(docs, num_threads=2)
    assert ids.dtype == (np.uint16 if name == "gpt2" else np.uint32) and ids.ndim == 1
    assert offsets.dtype == np.int64 and len(offsets) == len(docs) + 1
    assert offsets[0] == 0 and offsets[-1] == len(ids)
    assert split(ids, offsets) == enc.encode_ordinary_batch(docs)


def test_empty_batch():
    ids, offsets = Tokenizer.from_tiktoken(tiktoken_encoding("gpt2")).encode_ordinary_batch_to_numpy([])
    assert (ids.tolist(), ids.dtype, offsets.tolist()) == ([], np.uint16, [0])


def test_python_engine_gives_the_rust_engines_arrays():
    enc = tiktoken_encoding("gpt2")
    docs = shakespeare_docs(3_000)
    want_ids, want_offsets = Tokenizer.from_tiktoken(enc).encode_ordinary_batch_to_numpy(docs)
    ids, offsets = Tokenizer.from_tiktoken(enc, backend="python").encode_ordinary_batch_to_numpy(docs)
    assert (ids.dtype, offsets.dtype) == (want_ids.dtype, want_offsets.dtype)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(offsets, want_offsets)


def test_prepare_numpy_and_list_paths_write_the_same_files(tmp_path, monkeypatch):
    """Small batches (7 documents) and shards (4000 tokens): documents span shards and batches, and every view's
    bounds matter. A spy checks which path each run took, so the comparison cannot pass by running one path twice."""
    tiktoken_encoding("gpt2")
    docs = [d for d in shakespeare_docs(120_000) if "\ud800" not in d]  # a file cannot hold a lone surrogate
    docs[20] = " ".join(docs[20:60])  # longer than a shard
    src = tmp_path / "docs.txt"
    src.write_text(EOT_TEXT.join(docs), encoding="utf-8")
    monkeypatch.setattr(prep, "BATCH_DOCS", 7)
    calls = {"numpy": 0, "list": 0}
    for method, key in [("encode_ordinary_batch_to_numpy", "numpy"), ("encode_ordinary_batch", "list")]:
        real = getattr(Tokenizer, method)

        def spy(self, *args, _real=real, _key=key, **kwargs):
            calls[_key] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Tokenizer, method, spy)

    def run(out):
        calls.update(numpy=0, list=0)
        prepare(dataset_source(str(src)), "gpt2", out, 4000, workers=2)
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, dict(calls)

    fast, fast_calls = run(tmp_path / "numpy")
    monkeypatch.setattr(prep, "NUMPY_BATCHES", False)
    slow, slow_calls = run(tmp_path / "list")
    assert fast_calls["numpy"] > 1 and fast_calls["list"] == 0
    assert slow_calls["numpy"] == 0 and slow_calls["list"] > 1
    assert len(fast) > 5 and fast == slow
