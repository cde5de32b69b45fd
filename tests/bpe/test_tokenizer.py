"""Our Tokenizer against tiktoken (the oracle), the Python engine against the Rust one, and the API's rules."""

import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpe import Tokenizer
from testutil import corpus_file, require_tiktoken_cache

ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"]
EOT = "<|endoftext|>"
unicode_text = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=120)
tricky_text = st.text(
    st.one_of(st.sampled_from(list(" \t\n\r'sll0123.!é中😀\u0301\u05d0")), st.characters(exclude_categories=("Cn",))),
    max_size=80,
)


@pytest.fixture(scope="module", params=ENCODINGS)
def pair(request):
    """(tiktoken Encoding, our Tokenizer on the same ranks)."""
    require_tiktoken_cache(request.param)
    import tiktoken

    enc = tiktoken.get_encoding(request.param)
    return enc, Tokenizer.from_tiktoken(enc)


@pytest.fixture(scope="module")
def trained():
    text = corpus_file("tinyshakespeare.txt").read_text()[:200_000]
    return Tokenizer.train(text, vocab_size=1024, special_tokens=[EOT, "<|pad|>"])


@pytest.mark.parametrize("corpus", ["tinyshakespeare.txt", "multilingual.txt"])
def test_same_ids_as_tiktoken_on_corpora(pair, corpus):
    enc, tok = pair
    text = corpus_file(corpus).read_text(encoding="utf-8")
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


def test_same_ids_as_tiktoken_on_gutenberg_slice(pair):
    enc, tok = pair
    with open(corpus_file("gutenberg-en.txt"), "rb") as f:
        text = f.read(3_000_000).decode("utf-8", "ignore")
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")


@given(text=tricky_text)
@settings(max_examples=200, deadline=None)
def test_same_ids_as_tiktoken_on_generated_text(pair, text):
    enc, tok = pair
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert tok.decode(tok.encode_ordinary(text)) == enc.decode(enc.encode_ordinary(text))


def test_special_token_rules_match_tiktoken(pair):
    enc, tok = pair
    text = f"hi{EOT} there"
    for kwargs in [
        dict(allowed_special="all"),
        dict(allowed_special={EOT}),
        dict(disallowed_special=()),
        dict(allowed_special=set(), disallowed_special=()),
    ]:
        assert tok.encode(text, **kwargs) == enc.encode(text, **kwargs), kwargs
    with pytest.raises(ValueError) as ours:
        tok.encode(text)
    with pytest.raises(ValueError) as theirs:
        enc.encode(text)
    assert str(ours.value) == str(theirs.value)
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert tok.eot_token == enc.eot_token and tok.n_vocab == enc.n_vocab


def test_batch_and_numpy_equal_single_encode(pair):
    enc, tok = pair
    texts = corpus_file("multilingual.txt", any_text=True).read_text(encoding="utf-8").split(EOT)[:60]
    singles = [tok.encode_ordinary(t) for t in texts]
    assert tok.encode_ordinary_batch(texts) == singles == enc.encode_ordinary_batch(texts)
    assert tok.encode_batch(texts, allowed_special="all") == enc.encode_batch(texts, allowed_special="all")
    arr = tok.encode_to_numpy(texts[0])
    assert arr.dtype == (np.uint16 if tok.n_vocab <= 65536 else np.uint32)
    assert arr.tolist() == singles[0]


@pytest.mark.parametrize("num_threads", [1, 2, 0], ids=["single", "parallel-2", "parallel-all"])
def test_encode_to_numpy_gives_tiktokens_ids(pair, num_threads):
    """1 encodes in one go; other values cut the text at safe points and encode the chunks in parallel."""
    enc, tok = pair
    with open(corpus_file("gutenberg-en.txt"), "rb") as f:
        text = f.read(300_000).decode("utf-8", "ignore")
    text += EOT + corpus_file("multilingual.txt", any_text=True).read_text(encoding="utf-8")[:300_000]
    arr = tok.encode_to_numpy(text, allowed_special="all", num_threads=num_threads)
    assert arr.dtype == (np.uint16 if tok.n_vocab <= 65536 else np.uint32)
    assert arr.tolist() == enc.encode(text, allowed_special="all")
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode_to_numpy(text, num_threads=num_threads)


def test_python_engine_equals_rust_engine(trained):
    py = Tokenizer(trained.mergeable_ranks, trained.special_tokens, trained.pattern, backend="python")
    text = corpus_file("multilingual.txt", any_text=True).read_text(encoding="utf-8")[:150_000]
    assert py.encode(text, allowed_special="all") == trained.encode(text, allowed_special="all")
    assert py.encode_ordinary(text) == trained.encode_ordinary(text)


@given(text=unicode_text)
@settings(max_examples=200, deadline=None)
def test_round_trip_on_generated_text(trained, text):
    assert trained.decode(trained.encode_ordinary(text)) == text


def test_round_trip_on_multilingual(trained):
    text = corpus_file("multilingual.txt").read_text(encoding="utf-8")
    assert trained.decode(trained.encode(text, allowed_special="all")) == text


def test_encode_iterable_streams_the_same_ids(trained, tmp_path):
    text = corpus_file("multilingual.txt", any_text=True).read_text(encoding="utf-8")[:300_000]
    path = tmp_path / "x.txt"
    path.write_text(text, encoding="utf-8")
    want = trained.encode(text, allowed_special="all")
    lines = text.splitlines(keepends=True)
    assert list(trained.encode_iterable(lines, allowed_special="all", chunk_chars=4096)) == want
    assert list(trained.encode_iterable(path, allowed_special="all", chunk_chars=10_000)) == want
    with open(path, encoding="utf-8", newline="") as f:
        assert list(trained.encode_iterable(f, allowed_special="all", chunk_chars=2048)) == want


def test_decode_errors_and_replacement(trained):
    assert trained.decode([0xE4]) == "\ufffd"  # a lone UTF-8 lead byte
    assert trained.decode_bytes([0xE4]) == b"\xe4"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        trained.decode([trained.n_vocab + 5])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        trained.token_bytes(-1)


def test_disallowed_special_text_raises_and_allowed_becomes_one_id(trained):
    with pytest.raises(ValueError, match="disallowed special token"):
        trained.encode(f"a{EOT}b")
    ids = trained.encode(f"a{EOT}b", allowed_special={EOT})
    assert trained.special_tokens[EOT] in ids and len(ids) == 3
    assert trained.encode("<|pad|>", allowed_special={EOT}, disallowed_special=()) != [
        trained.special_tokens["<|pad|>"]
    ]


# ------------------------------------------------------------------------------------------------ pathological
def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


@pytest.mark.parametrize(
    "make",
    [lambda n: "a" * n, lambda n: ("xyz" * n)[:n], lambda n: "\x00" * n, lambda n: "0" * n],
    ids=["one-char", "no-spaces", "nul", "digits"],
)
def test_long_runs_are_safe_and_near_linear(pair, make):
    enc, tok = pair
    small, t_small = _timed(tok.encode_ordinary, make(100_000))
    big, t_big = _timed(tok.encode_ordinary, make(1_000_000))
    assert tok.decode(big) == make(1_000_000)
    assert t_big < max(1.0, 30 * t_small)  # 10x the input: far from the 100x of a quadratic algorithm
    assert small == enc.encode_ordinary(make(100_000))


def test_many_special_tokens_in_a_row(pair):
    enc, tok = pair
    text = EOT * 100_000
    assert tok.encode(text, allowed_special="all") == [tok.eot_token] * 100_000
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


def test_lone_surrogates_become_replacement_chars(pair):
    enc, tok = pair
    text = "a\ud800b\udfff"
    assert tok.encode(text) == enc.encode(text)
    assert tok.encode_ordinary_batch([text]) == [enc.encode_ordinary(text)]


def test_lists_hold_one_reference_per_id(pair):
    """The Rust engine's lists share one Python int per id (made on first use, filled in by a macro that must count
    the reference): CPython's own count of references is the oracle, in the lists' single and batch paths."""
    _, tok = pair
    text = "hello hello hello"
    ids = tok.encode_ordinary(text)
    repeated = ids[1]  # " hello": twice in each list
    assert ids[2] is repeated
    before = sys.getrefcount(repeated)
    lists = [tok.encode_ordinary(text) for _ in range(50)] + tok.encode_ordinary_batch([text] * 50, num_threads=2)
    assert all(ids[1] is repeated for ids in lists)
    assert sys.getrefcount(repeated) == before + 2 * 100
    del lists
    assert sys.getrefcount(repeated) == before


def test_bad_constructor_arguments_are_value_errors():
    with pytest.raises(ValueError, match="256 single bytes"):
        Tokenizer({b"a": 0})
    ranks = {bytes([i]): i for i in range(256)}
    with pytest.raises(ValueError, match="also used"):
        Tokenizer(ranks, {EOT: 3})
    with pytest.raises(ValueError, match="invalid split pattern"):
        Tokenizer(ranks, pattern="(unclosed")
    with pytest.raises(ValueError, match="unknown backend"):
        Tokenizer(ranks, backend="gpu")
