"""The Rust engine remembers the merges of pieces that are no single token across calls (bpe-rs/src/cache.rs): ids
must equal tiktoken's whatever was encoded before, in any order and mode, after the cache fills up and after
clear_cache(); the cache must stay bounded."""

import functools
import random

import pytest

import bpe_rs
from bpe import Tokenizer
from testutil import DATA, tiktoken_encoding

CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"


@functools.cache
def documents() -> list[str]:
    """Documents of multilingual.txt (most of its pieces are no token), or generated words without ../shared."""
    path = DATA / "multilingual.txt"
    if path.is_file():
        text = path.read_text(encoding="utf-8")[:400_000]
    else:
        rng = random.Random(0)
        text = " ".join("".join(rng.choices(CYRILLIC, k=rng.randint(3, 12))) for _ in range(40_000))
    return [text[i : i + 20_000] for i in range(0, len(text), 20_000)]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_ids_match_tiktoken_whatever_came_before(name):
    docs = documents()
    tok, tik = Tokenizer.from_tiktoken(name), tiktoken_encoding(name)
    want = [tik.encode_ordinary(d) for d in docs]
    assert tok.cached_pieces == 0
    for order in (docs, docs[::-1], docs[1::2] + docs[::2]):
        got = {d: ids for d, ids in zip(order, tok.encode_ordinary_batch(order, num_threads=2))}
        assert [got[d] for d in docs] == want
        assert [tok.encode_ordinary(d) for d in docs] == want
    assert tok.cached_pieces > 0, "pieces that are no token were remembered"
    ids, offsets = tok.encode_ordinary_batch_to_numpy(docs[::-1], num_threads=1)
    assert [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])] == want[::-1]
    tok.clear_cache()
    assert tok.cached_pieces == 0
    assert tok.encode_ordinary(docs[0]) == want[0]


def test_a_full_cache_starts_over_and_stays_bounded():
    """More distinct non-token pieces than a cache holds, in one call: ids still equal tiktoken's, and what stays
    remembered is at most the bound."""
    rng = random.Random(1)
    words = {"".join(rng.choices(CYRILLIC, k=9)) for _ in range(bpe_rs.MAX_CACHED_PIECES + 5_000)}
    text = " " + " ".join(words)
    tok, tik = Tokenizer.from_tiktoken("cl100k_base"), tiktoken_encoding("cl100k_base")
    assert tok.encode_ordinary(text) == tik.encode_ordinary(text)
    assert 0 < tok.cached_pieces <= bpe_rs.MAX_CACHED_PIECES
    assert tok.encode_ordinary(text) == tik.encode_ordinary(text), "again, with what was remembered"
