"""o200k's hand-written scanner (bpe-rs/src/scan.rs) must split exactly as Python's `regex` module runs
O200K_PATTERN (case changes, contractions, digits) and give tiktoken's ids."""

import string

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe_rs
from bpe import Tokenizer
from bpe.patterns import O200K_PATTERN
from testutil import tiktoken_encoding

# Non-ASCII chars at the scanner's boundary: letters of each case class (Ll, Lu, Lt, Lm, Lo), a combining mark (in
# both of o200k's case classes), the long s that (?i)'s matches, a non-ASCII digit, punctuation and whitespace.
NON_ASCII = list("éÉǅʰ中\u0301ſ٣¿\u00a0\u3000\u2028\x85")
FRAGMENTS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'ve", "'m", "'ll", "'LL", "'d", "''", "HTTP", "Server", "Mc", "iP"]
o200k_text = st.lists(
    st.one_of(
        st.sampled_from(list(string.ascii_letters)),
        st.sampled_from(list("aAeEsStTlLdDmMvVrR")),  # the letters contractions are made of, more often
        st.sampled_from(list(string.digits)),
        st.sampled_from(list("'''   \t\r\n\n\x0b\x0c")),
        st.sampled_from(list(string.punctuation + "////")),
        st.sampled_from(FRAGMENTS),
        st.sampled_from(NON_ASCII),
    ),
    max_size=60,
).map("".join)

# The cases the scanner's branches turn on, spelled out so that a failure names one.
EDGE_CASES = [
    "HTTPServer", "McDonald's", "iPhone", "ABCdef", "don'T", "I'LL", "WE'Re", "O'Neil's", "abc's's", "you'l", "'s",
    " 'LL", "'", "''", "'''s", "a''b", "12345", "a1b2", "A12B", " 42 ", "a/b", "...\n\n", "x/\r\n", "/\n/\r/x", " /a",
    "!!a", "a  b", "x   ", "x\n  ", "\r\n\r\n  a", "\t\tx", " \t!", "x \t\n\ty", "\x0bA\x0cb", "Café's MENU", "we'lé",
    "don'ſ", "AB\u0301c", "12٣", " \u00a0x",
]  # fmt: skip


@pytest.fixture(scope="module")
def o200k():
    """(tiktoken's o200k_base, our Tokenizer on its ranks)."""
    enc = tiktoken_encoding("o200k_base")
    return enc, Tokenizer.from_tiktoken(enc)


def test_o200k_runs_on_the_fast_path(o200k):
    enc, tok = o200k
    assert enc._pat_str == O200K_PATTERN  # the pattern the scanner was written for is tiktoken's
    assert tok._engine.splitter == "o200k"
    assert bpe_rs.Encoder([(bytes([i]), i) for i in range(256)], {}, O200K_PATTERN).splitter == "o200k"


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_split_like_regex_module(text):
    assert bpe_rs.pretokenize(text, O200K_PATTERN) == regex.findall(O200K_PATTERN, text)


@given(text=o200k_text)
@settings(max_examples=500, deadline=None)
def test_splits_like_regex_module(text):
    assert bpe_rs.pretokenize(text, O200K_PATTERN) == regex.findall(O200K_PATTERN, text)


@given(text=o200k_text)
@settings(max_examples=300, deadline=None)
def test_same_ids_as_tiktoken(o200k, text):
    enc, tok = o200k
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
