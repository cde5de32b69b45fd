"""bpe: a byte-level BPE tokenizer from first principles, with a Rust engine (bpe-rs).

    >>> from bpe import Tokenizer
    >>> tok = Tokenizer.train(path="corpus.txt", vocab_size=4096, special_tokens=["<|endoftext|>"])
    >>> tok.decode(tok.encode("hello world")) == "hello world"
    True

Modules, in reading order: patterns (pre-tokenization), training (naive and optimized trainers), encoding
(rank-based BPE), tokenizer (the tiktoken-style API), formats (files), corpus (data), report (compression).
"""

from .patterns import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN
from .tokenizer import Tokenizer

__all__ = ["Tokenizer", "GPT2_PATTERN", "CL100K_PATTERN", "O200K_PATTERN"]
