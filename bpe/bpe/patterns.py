"""Pre-tokenization: special tokens split out first, then a regex chops text into pieces that BPE never merges across.

    >>> pretokenize("Hello world's 123!", GPT2_PATTERN)
    ['Hello', ' world', "'s", ' 123', '!']
    >>> split_special("a<|endoftext|>b", ["<|endoftext|>"])
    ['a', '<|endoftext|>', 'b']

The three split patterns are the ones OpenAI's tokenizers use (the strings in tiktoken's openai_public.py, where they
are public), so that a tokenizer built here on tiktoken's ranks gives tiktoken's ids. They are defined once, in the
Rust engine (bpe-rs/src/pretok.rs), and imported from it here: the Rust engine runs its fast path on exactly those
strings (its `Encoder.splitter` says "gpt2", "cl100k" or "o200k"), and any other string, an edited copy included, on
a general regex engine, correct but slower. So there is no second copy to keep in step, and tests/bpe/
test_pretokenize.py fails if a tokenizer on OpenAI's patterns, tiktoken's own strings included, leaves the fast path.
It also checks the Rust splits against the `regex` module, which is what the Python engine below runs.

    >>> print(GPT2_PATTERN)
    '(?:[sdmt]|ll|ve|re)| ?\\p{L}++| ?\\p{N}++| ?[^\\s\\p{L}\\p{N}]++|\\s++$|\\s+(?!\\S)|\\s
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

from bpe_rs import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN

__all__ = [
    "CL100K_PATTERN",
    "GPT2_PATTERN",
    "O200K_PATTERN",
    "PATTERNS",
    "pretokenize",
    "resolve_pattern",
    "special_regex",
    "split_special",
]

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
