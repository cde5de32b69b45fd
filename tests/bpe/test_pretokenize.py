"""Rust pre-tokenization (bpe_rs.pretokenize) must split exactly as Python's `regex` module does, and OpenAI's
patterns must run on its fast path (a pattern it does not recognise runs, correctly but slower, on fancy-regex)."""

import doctest

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe.patterns
import bpe_rs
from bpe import Tokenizer
from bpe.patterns import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN, split_special
from testutil import corpus_file, require_tiktoken_cache

PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN, "o200k": O200K_PATTERN}
ORIGINAL_GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Text that stresses the whitespace lookahead, contractions, numbers, scripts, marks and emoji. Unassigned code
# points (Cn, judged by Python's unicodedata) are left out: `regex` ships Unicode 17 tables and the Rust regex crate
# Unicode 16, so a character new in 17 (e.g. U+323B0) is a letter to one and unassigned to the other.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" \t\n\r\u00a0\u3000\u2028'sSdtTlLvVreE0123456789.,!?/-_")),
        st.characters(exclude_categories=("Cs", "Cn")),
    ),
    max_size=80,
)
# Mostly ASCII, so that the hand-written scanner (bpe-rs/src/scan.rs) sees mostly its ASCII table.
ascii_text = st.text(alphabet=st.sampled_from(list(" \t\n\r\x0b\x0c  ab'sSdtTlLvVreE019.,!?/-_é\u00a0")), max_size=200)
BYTES = [(bytes([i]), i) for i in range(256)]


def splitter(pattern: str) -> str:
    """The splitter bpe-rs picks for a pattern: "gpt2", "cl100k", "o200k" (fast path) or "fancy-regex"."""
    return bpe_rs.Encoder(BYTES, {}, pattern).splitter


@pytest.mark.parametrize("name", PATTERNS)
def test_our_patterns_take_the_fast_path(name):
    assert splitter(PATTERNS[name]) == name
    assert Tokenizer(dict(BYTES), pattern=name)._engine.splitter == name  # the engine a Tokenizer really runs


@pytest.mark.parametrize(
    "encoding, name", [("gpt2", "gpt2"), ("r50k_base", "gpt2"), ("cl100k_base", "cl100k"), ("o200k_base", "o200k")]
)
def test_tiktoken_patterns_take_the_fast_path(encoding, name):
    require_tiktoken_cache(encoding)
    assert Tokenizer.from_tiktoken(encoding)._engine.splitter == name


def test_other_patterns_run_on_fancy_regex():
    assert splitter(GPT2_PATTERN + "|x") == "fancy-regex"
    assert splitter(r"\w+|\s+") == "fancy-regex"


def test_patterns_docstring_examples_hold():
    assert doctest.testmod(bpe.patterns).failed == 0


@pytest.mark.parametrize("name", PATTERNS)
@given(text=tricky_text)
@settings(max_examples=300, deadline=None)
def test_rust_splits_like_regex_module(name, text):
    pattern = PATTERNS[name]  # on the fast path: test_our_patterns_take_the_fast_path
    assert bpe_rs.pretokenize(text, pattern) == regex.findall(pattern, text)


@pytest.mark.parametrize("name", PATTERNS)
@given(text=ascii_text)
@settings(max_examples=300, deadline=None)
def test_rust_splits_like_regex_module_on_mostly_ascii_text(name, text):
    pattern = PATTERNS[name]
    assert bpe_rs.pretokenize(text, pattern) == regex.findall(pattern, text)


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("corpus", ["multilingual.txt", "tinyshakespeare.txt"])
def test_rust_splits_like_regex_module_on_corpora(name, corpus):
    text = corpus_file(corpus).read_text(encoding="utf-8")[:1_500_000]
    pattern = PATTERNS[name]
    assert bpe_rs.pretokenize(text, pattern) == regex.findall(pattern, text)


def test_original_gpt2_spelling_splits_the_same():
    text = "Hello  world's\n\n  123 4567 !!  \t x   "
    assert regex.findall(ORIGINAL_GPT2, text) == regex.findall(GPT2_PATTERN, text)
    assert bpe_rs.pretokenize(text, ORIGINAL_GPT2) == regex.findall(ORIGINAL_GPT2, text)
    assert splitter(ORIGINAL_GPT2) == "gpt2"


def test_custom_pattern_runs_through_the_general_engine():
    pattern = r"\w+|\s+(?!\S)|\s+|[^\w\s]"
    text = "ab  cd, e\n\n f"
    assert bpe_rs.pretokenize(text, pattern) == regex.findall(pattern, text)


def test_invalid_pattern_is_a_clear_error():
    with pytest.raises(ValueError, match="invalid split pattern"):
        bpe_rs.pretokenize("x", "(unclosed")


def test_special_tokens_are_split_out_first_longest_first():
    assert split_special("a<|x|>b<|xy|>c", ["<|x|>", "<|xy|>"]) == ["a", "<|x|>", "b", "<|xy|>", "c"]
    assert split_special("", ["<|x|>"]) == []
