"""bpe: a byte-level BPE tokenizer from first principles, with a Rust engine (bpe-rs).

    >>> from bpe import Tokenizer
    >>> tok = Tokenizer.train("the cat sat on the mat. " * 50, vocab_size=270, special_tokens=["<|endoftext|>"])
    >>> len(tok.encode("the cat sat")) < len("the cat sat")     # merges learned: fewer tokens than bytes
    True
    >>> tok.decode(tok.encode("hello world")) == "hello world"  # any text round-trips, even unseen words
    True

Train on a file the same way: `Tokenizer.train(path="corpus.txt", vocab_size=4096, ...)`.

Modules, in reading order: patterns (pre-tokenization), training (naive and optimized trainers), encoding
(rank-based BPE), tokenizer (the tiktoken-style API), formats (files), corpus (data), report (compression).
"""

from .patterns import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN
from .tokenizer import Tokenizer

__all__ = ["Tokenizer", "GPT2_PATTERN", "CL100K_PATTERN", "O200K_PATTERN"]
