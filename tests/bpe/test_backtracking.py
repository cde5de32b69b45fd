"""The Rust engine merges short pieces by backtracking (bpe-rs/src/backtrack.rs): longest token first, taken back
when BPE would have merged across its boundary. The oracle is tiktoken's rank-by-rank merge, on pieces built to sit
on token boundaries: two to four whole tokens glued together, where backtracking must decide every boundary."""

import random

import pytest

from bpe import Tokenizer
from testutil import tiktoken_encoding


def glued_tokens(name: str, n: int, seed: int) -> list[str]:
    """n strings, each 2-4 random letter tokens of the encoding glued with no space, the first of another script than
    ASCII (pieces of ASCII letters take the rank-by-rank scan, which is faster on them): most are one piece that is
    no token, and every glue point is a boundary the merge may or may not cross."""
    letters = sorted(t for t in map(_letters, tiktoken_encoding(name)._mergeable_ranks) if t)
    wide = [t for t in letters if not t.isascii()]
    rng = random.Random(seed)
    return [rng.choice(wide) + "".join(rng.choices(letters, k=rng.randint(1, 3))) for _ in range(n)]


def _letters(token: bytes) -> str:
    """The token as text if it is all letters, else ""."""
    try:
        text = token.decode()
    except UnicodeDecodeError:
        return ""
    return text if text.isalpha() else ""


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_glued_tokens_match_tiktoken(name):
    tok, tik = Tokenizer.from_tiktoken(name), tiktoken_encoding(name)
    assert tok.merge_algorithm == "backtracking"
    words = glued_tokens(name, 20_000, seed=len(name))
    got = tok.encode_ordinary_batch(words, num_threads=2)
    assert got == tik.encode_ordinary_batch(words)
    assert sum(len(ids) > 1 for ids in got) > 15_000, "most glued strings are no single token"


def test_a_trained_vocabulary_backtracks_and_matches_the_python_engine():
    text = " ".join(glued_tokens("cl100k_base", 3_000, seed=7))
    trained = Tokenizer.train(text, vocab_size=600)
    rust = Tokenizer(trained.mergeable_ranks, pattern=trained.pattern)
    python = Tokenizer(trained.mergeable_ranks, pattern=trained.pattern, backend="python")
    assert rust.merge_algorithm == "backtracking" and python.merge_algorithm == "python"
    sample = text[:60_000]
    assert rust.encode_ordinary(sample) == python.encode_ordinary(sample)
