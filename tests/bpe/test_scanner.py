"""The hand-written scanner (bpe-rs/src/scan.rs) that pre-tokenizes the gpt2, cl100k and o200k patterns: for every
char, not only ASCII, its splits must equal Python's `regex` module, and the ids tiktoken's. (That the three
patterns run on it at all is checked in test_pretokenize.py.)"""

import string
import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe_rs
from bpe import Tokenizer
from bpe.patterns import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN
from testutil import shared_file, tiktoken_encoding

PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN, "o200k": O200K_PATTERN}
ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"]

# One char of each class the scanner tells apart: upper (Lu), lower (Ll), title case (Lt), modifier (Lm) and other
# (Lo) letters, a combining mark (M: o200k's letters of both cases, but not \p{L}), non-ASCII digit (Nd) and number
# (No), a symbol and inverted punctuation, Unicode spaces (U+00A0, U+3000, U+2028, U+0085), chars Python's
# str.isspace() calls space but \s does not (U+001C, U+200B), LONG S and KELVIN SIGN ((?i) folds them to s and k),
# a letter outside the BMP.
NON_ASCII = list("ÉéǅʰΩж中\u0301\u0903٣½€¿\u00a0\u3000\u2028\x85\x1c\u200bſ\u212a𝐀\U00020000")
# Contractions in both cases and o200k's case changes inside words.
FRAGMENTS = [
    "'s", "'S", "'ſ", "'t", "'T", "'re", "'RE", "'ve", "'m", "'ll", "'Ll", "'LL", "'d", "''",
    "HTTP", "Server", "Mc", "iP", "Éé", "ÉÉ", "éÉ", "中文", "ʰʰ",
]  # fmt: skip


def _assigned_everywhere(c: str) -> bool:
    """Assigned in Python's (older) Unicode database, so Python's `regex` and the Rust regex crate agree on its
    class (a char assigned only in the newer Unicode of one of them is a letter to one and punctuation to the other)."""
    return unicodedata.category(c) not in ("Cn", "Cs")


scanner_text = st.lists(
    st.one_of(
        st.sampled_from(list(string.ascii_letters)),
        st.sampled_from(list("aAeEsStTlLdDmMvVrR")),  # the letters contractions are made of, more often
        st.sampled_from(list(string.digits)),
        st.sampled_from(list("'''   \t\r\n\n\x0b\x0c")),
        st.sampled_from(list(string.punctuation + "////")),
        st.sampled_from(NON_ASCII),
        st.sampled_from(NON_ASCII),
        st.sampled_from(FRAGMENTS),
        st.characters(codec="utf-8").filter(_assigned_everywhere),
    ),
    max_size=50,
).map("".join)

# The cases the scanner's branches turn on, spelled out so that a failure names one.
EDGE_CASES = [
    # o200k's case changes and contractions; digits; punctuation runs with newlines and '/'; whitespace runs
    "HTTPServer", "McDonald's", "iPhone", "ABCdef", "don'T", "I'LL", "WE'Re", "O'Neil's", "abc's's", "you'l", "'s",
    " 'LL", "'", "''", "'''s", "a''b", "12345", "a1b2", "A12B", " 42 ", "a/b", "...\n\n", "x/\r\n", "/\n/\r/x", " /a",
    "!!a", "a  b", "x   ", "x\n  ", "\r\n\r\n  a", "\t\tx", " \t!", "x \t\n\ty", "\x0bA\x0cb", "Café's MENU", "we'lé",
    "don'ſ", "AB\u0301c", "12٣",
    # non-ASCII: marks, case classes, (?i) folding, numbers, Unicode spaces, symbols, astral letters
    "\u0301HTTP", "!!\u0301", " \u0301x", "\u0301\u0301a", "ÉÉé", "ÉʰÉ", "ÉʰÉ's", "ǅé", "ǅǅ", "中文's", "x'ſ", "'ſ",
    "'Ll", "'lſ", "x'\u212a", "٣٣٣٣", "½12", " \u00a0x", "\u00a0\u00a0x", "a\x85\x85b", "x\u3000\u3000\n y",
    "\u2028\n", "é  ", "€€\n/x", " €a", "\u3000é", "\x1c\x1d  a", "a\u200b\u200bb", "𝐀𝐀 \U00020000",
]  # fmt: skip


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_split_like_regex_module(name, text):
    assert bpe_rs.pretokenize(text, PATTERNS[name]) == regex.findall(PATTERNS[name], text)


@pytest.mark.parametrize("name", PATTERNS)
@given(text=scanner_text)
@settings(max_examples=400, deadline=None)
def test_splits_like_regex_module(name, text):
    assert bpe_rs.pretokenize(text, PATTERNS[name]) == regex.findall(PATTERNS[name], text)


@pytest.fixture(scope="module")
def encoders() -> dict:
    """{name: (tiktoken's encoding, our Tokenizer on its ranks)}."""
    return {name: (enc := tiktoken_encoding(name), Tokenizer.from_tiktoken(enc)) for name in ENCODINGS}


@pytest.mark.parametrize("name", ENCODINGS)
@given(text=scanner_text)
@settings(max_examples=200, deadline=None)
def test_same_ids_as_tiktoken(encoders, name, text):
    enc, tok = encoders[name]
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


@pytest.fixture(scope="module")
def multilingual() -> str:
    """32 slices of 64K chars spread over multilingual.txt: its scripts come in long runs (Latin, Cyrillic, Khmer,
    Arabic, CJK, ...), so a prefix would see few of them."""
    full = shared_file("multilingual.txt").read_text(encoding="utf-8")
    return "".join(full[k : k + (1 << 16)] for k in range(0, len(full), len(full) // 32))


@pytest.mark.parametrize("name", ENCODINGS)
def test_same_ids_as_tiktoken_on_multilingual_text(encoders, multilingual, name):
    enc, tok = encoders[name]
    assert tok.encode_ordinary(multilingual) == enc.encode_ordinary(multilingual)
