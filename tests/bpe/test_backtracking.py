"""The Rust engine merges non-ASCII and long pieces by backtracking (bpe-rs/src/backtrack.rs): longest token first,
taken back when BPE would have merged across its boundary. The oracle is tiktoken's rank-by-rank merge, on pieces
built to sit on token boundaries: whole tokens glued together, where backtracking must decide every boundary."""

import random

import pytest

from bpe import Tokenizer
from testutil import tiktoken_encoding


def glued_tokens(name: str, n: int, seed: int, more: tuple[int, int] = (1, 3), ascii: bool = False) -> list[str]:
    """n strings, each a random letter token of the encoding followed by `more` (a range) others, glued with no
    space: most are one piece that is no token, and every glue point is a boundary the merge may or may not cross.
    The first token is of another script than ASCII (short pieces of ASCII letters take the rank-by-rank scan, which
    is faster on them), or, with `ascii`, every token is ASCII."""
    letters = sorted(t for t in map(_letters, tiktoken_encoding(name)._mergeable_ranks) if t)
    if ascii:
        letters = [t for t in letters if t.isascii()]
    first = [t for t in letters if ascii or not t.isascii()]
    rng = random.Random(seed)
    return [rng.choice(first) + "".join(rng.choices(letters, k=rng.randint(*more))) for _ in range(n)]


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


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_long_pieces_match_tiktoken(name):
    """Pieces over 128 bytes backtrack too, ASCII or not (they took the heap merge before): 30-300 glued tokens, and
    runs of one letter, whose every boundary is the same question."""
    tok, tik = Tokenizer.from_tiktoken(name), tiktoken_encoding(name)
    more = (30, 300)
    texts = glued_tokens(name, 150, seed=1, more=more) + glued_tokens(name, 150, seed=2, more=more, ascii=True)
    texts += [c * n for c in ("a", "é", "中", "ж") for n in (129, 1000, 4097)]
    assert sum(len(t.encode()) > 128 for t in texts) > 290
    assert tok.encode_ordinary_batch(texts, num_threads=2) == tik.encode_ordinary_batch(texts)


def test_a_trained_vocabulary_backtracks_and_matches_the_python_engine():
    text = " ".join(glued_tokens("cl100k_base", 3_000, seed=7))
    trained = Tokenizer.train(text, vocab_size=600)
    rust = Tokenizer(trained.mergeable_ranks, pattern=trained.pattern)
    python = Tokenizer(trained.mergeable_ranks, pattern=trained.pattern, backend="python")
    assert rust.merge_algorithm == "backtracking" and python.merge_algorithm == "python"
    sample = text[:60_000]
    assert rust.encode_ordinary(sample) == python.encode_ordinary(sample)
