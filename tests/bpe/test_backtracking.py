"""The Rust engine merges short pieces by backtracking (bpe-rs/src/backtrack.rs): longest token first, taken back
when BPE would have merged across its boundary. The oracle is tiktoken's rank-by-rank merge, on pieces built to sit
on token boundaries: two to four whole tokens glued together, where backtracking must decide every boundary."""

import random

import pytest

from bpe import Tokenizer
from testutil import tiktoken_encoding


def glued_tokens(name: str, n: int, seed: int) -> list[str]:
    """n strings, each 2-4 random letter tokens of the encoding glued with no space: most are one piece that is no
    token, and every glue point is a boundary the merge may or may not cross."""
    ranks = tiktoken_encoding(name)._mergeable_ranks
    letters = sorted(t.decode() for t in ranks if t.isalpha() or _is_letters(t))
    rng = random.Random(seed)
    return ["".join(rng.choices(letters, k=rng.randint(2, 4))) for _ in range(n)]


def _is_letters(token: bytes) -> bool:
    try:
        return token.decode().isalpha()
    except UnicodeDecodeError:
        return False


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
