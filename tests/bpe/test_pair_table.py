"""The Rust merge loop looks ranks up by pair of token ids (bpe-rs/src/encode.rs `pair_table`), not by byte slice:
ids must still equal tiktoken's, and the Python reference backend's on a vocabulary we trained, above all on pieces
that are long in bytes and no token as a whole (long runs of one non-Latin script), where every merge is a lookup."""

import functools
import itertools
import random

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe_rs
from bpe import GPT2_PATTERN, Tokenizer
from testutil import shared_file, tiktoken_encoding

ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"]

# Letters of scripts whose words are long in bytes and seldom whole tokens; accents as combining marks too.
SCRIPTS = [
    "абвгдежзийклмнопрстуфхцчшщъыьэюяЖЩЯ",  # Cyrillic
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",  # CJK
    "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशसह्ािीुूेैोौं",  # Devanagari, with vowel signs
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",  # Arabic
    "αβγδεζηθικλμνξοπρστυφχψωάέή",  # Greek
    "éèêëàâäôöûüçñåøæœß\u0301\u0308",  # accented Latin, combining acute and diaeresis
    "😀😃🙂🚀🌍👍🏽\u200d❤",  # emoji, a skin tone modifier, a zero-width joiner
    "abcdefghijklmnopqrstuvwxyz",
]
SEPARATORS = [" ", "  ", "\n", ", ", ". ", "'s ", "123", "\t", "!?"]

runs = st.tuples(st.sampled_from(SCRIPTS), st.integers(1, 160), st.randoms(use_true_random=False))
long_piece_text = st.lists(
    st.tuples(runs, st.sampled_from(SEPARATORS)).map(
        lambda r: "".join(r[0][2].choice(r[0][0]) for _ in range(r[0][1])) + r[1]
    ),
    min_size=1,
    max_size=8,
).map("".join)


@functools.cache
def _ours(name: str) -> Tokenizer:
    return Tokenizer.from_tiktoken(tiktoken_encoding(name))


@settings(max_examples=60, deadline=None)
@given(text=long_piece_text)
@pytest.mark.parametrize("name", ENCODINGS)
def test_long_script_runs_match_tiktoken(name, text):
    assert _ours(name).encode_ordinary(text) == tiktoken_encoding(name).encode_ordinary(text)


@pytest.mark.parametrize("name", ENCODINGS)
def test_multilingual_slices_match_tiktoken(name):
    text = shared_file("multilingual.txt").read_text(encoding="utf-8")
    rng = random.Random(0)
    for start in [0, *(rng.randrange(len(text)) for _ in range(4))]:
        chunk = text[start : start + 60_000]
        assert _ours(name).encode_ordinary(chunk) == tiktoken_encoding(name).encode_ordinary(chunk), start


@functools.cache
def _trained() -> tuple[Tokenizer, str]:
    """A 600-token vocabulary trained on multilingual text, and held-out text from the same file."""
    text = shared_file("multilingual.txt").read_text(encoding="utf-8")
    return Tokenizer.train(text[:200_000], vocab_size=600), text[200_000:208_000]


def _python_backend(tok: Tokenizer, ranks: dict[bytes, int] | None = None) -> Tokenizer:
    return Tokenizer(ranks or tok.mergeable_ranks, tok.special_tokens, tok.pattern, backend="python")


def test_trained_vocabulary_matches_the_python_reference():
    tok, held_out = _trained()
    assert len(tok.mergeable_ranks) == 600
    assert tok.encode_ordinary(held_out) == _python_backend(tok).encode_ordinary(held_out)


def test_shuffled_ranks_match_the_python_reference():
    """Ids that are not in merge order, so a token's rank says nothing about which split of it was merged first."""
    tok, held_out = _trained()
    merged = [t for t in tok.mergeable_ranks if len(t) > 1]
    ids = [tok.mergeable_ranks[t] for t in merged]
    random.Random(1).shuffle(ids)
    ranks = {**tok.mergeable_ranks, **dict(zip(merged, ids))}
    ours = Tokenizer(ranks, tok.special_tokens, tok.pattern)
    want = _python_backend(tok, ranks).encode_ordinary(held_out)
    assert ours.encode_ordinary(held_out) == want
    assert want != tok.encode_ordinary(held_out), "the shuffle changed the merges, so this tests something new"


@settings(max_examples=40, deadline=None)
@given(text=long_piece_text)
def test_trained_vocabulary_on_long_runs(text):
    tok, _ = _trained()
    assert tok.encode_ordinary(text) == _python_backend(tok).encode_ordinary(text)


def test_ids_past_the_rust_limit_need_the_python_backend():
    """The Rust pair table keeps a rank in 21 bits, so a vocabulary of more than 2^21 tokens is refused in one line
    that names the remedy, and the Python backend encodes with its top ids as tiktoken does (7-9 s: 2M tokens)."""
    limit = bpe_rs.RANK_LIMIT
    assert limit == 2**21
    ranks = {bytes([b]): b for b in range(256)}
    letters = [bytes([c]) for c in range(ord("a"), ord("z") + 1)]
    # every 2-, 3-, 4- and 5-letter word in order, up to id 2^21 (one past the limit)
    words = (b"".join(w) for n in range(2, 6) for w in itertools.product(letters, repeat=n))
    ranks |= {w: i for i, w in zip(range(256, limit + 1), words)}
    top = max(ranks, key=ranks.get)
    with pytest.raises(ValueError, match=f"token id {limit} is too large.*backend='python'"):
        Tokenizer(ranks)
    text = f"hello {top.decode()} world {top.decode()}s zzz"
    oracle = tiktoken.Encoding("ids-past-2-21", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    want = oracle.encode_ordinary(text)
    assert limit in want
    assert Tokenizer(ranks, backend="python").encode_ordinary(text) == want
