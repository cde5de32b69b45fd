"""Pre-tokenization: special tokens split out first, then a regex chops text into pieces that BPE never merges across.

    >>> pretokenize("Hello world's 123!", GPT2_PATTERN)
    ['Hello', ' world', "'s", ' 123', '!']
    >>> split_special("a<|endoftext|>b", ["<|endoftext|>"])
    ['a', '<|endoftext|>', 'b']

The three split patterns are the ones OpenAI's tokenizers use (copied from tiktoken's openai_public.py, where they
are public), so that a tokenizer built here on tiktoken's ranks gives tiktoken's ids. The Rust engine reproduces the
same splits (bpe-rs/src/pretok.rs); tests/bpe/test_pretokenize.py checks it against the `regex` module below.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

# tiktoken's spelling of GPT-2's pattern (possessive quantifiers, same splits as encoder.py's original).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)

O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# Short names accepted wherever a pattern is asked for ("gpt4" is cl100k, as in minbpe).
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": CL100K_PATTERN, "cl100k": CL100K_PATTERN, "o200k": O200K_PATTERN}


def resolve_pattern(pattern: str) -> str:
    """A pattern name ('gpt2', 'gpt4'/'cl100k', 'o200k') or a regex string, returned as the regex string."""
    return PATTERNS.get(pattern, pattern)


def pretokenize(text: str, pattern: str = GPT2_PATTERN) -> list[str]:
    """Split ordinary text (no special tokens) into the pieces BPE works within."""
    return regex.findall(resolve_pattern(pattern), text)


def special_regex(special_tokens: Iterable[str]) -> regex.Pattern | None:
    """One alternation matching any special token, longest first so that overlapping names split correctly."""
    specials = sorted(special_tokens, key=len, reverse=True)
    if not specials:
        return None
    return regex.compile("(" + "|".join(regex.escape(s) for s in specials) + ")")


def split_special(text: str, special_tokens: Iterable[str]) -> list[str]:
    """Split text around special tokens; the specials are kept as their own items, empty items dropped."""
    rx = special_regex(special_tokens)
    if rx is None:
        return [text] if text else []
    return [part for part in rx.split(text) if part]
