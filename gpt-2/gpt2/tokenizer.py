"""One way to name a tokenizer everywhere in gpt2: a tiktoken encoding name or a bpe `.model` path.

    >>> tok = load_tokenizer("gpt2")
    >>> tok.decode(tok.encode_ordinary("Hello world"))
    'Hello world'

The spec string is what prepare.py writes into shard manifests and train.py into checkpoints, so a run can be
decoded later with exactly the tokenizer it was trained on.
"""

from __future__ import annotations

from pathlib import Path

from bpe import Tokenizer

TIKTOKEN_NAMES = ("gpt2", "r50k_base", "cl100k_base", "o200k_base")


def load_tokenizer(spec: str):
    """Return a `bpe.Tokenizer` (tiktoken's interface: encode_ordinary(_batch), decode, n_vocab, eot_token, name).

    Named encodings load OpenAI's ranks through tiktoken's verified loader and run on our Rust engine, which gives
    tiktoken's ids (tests/bpe/test_tokenizer.py) about twice as fast.
    """
    if spec in TIKTOKEN_NAMES:
        return Tokenizer.from_tiktoken(spec)
    path = Path(spec)
    if path.suffix == ".model":
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer model {path} not found: train one with `python bpe/train.py`")
        return Tokenizer.load(path)
    raise ValueError(
        f"unknown tokenizer {spec!r}: use one of {', '.join(TIKTOKEN_NAMES)} or a path to a bpe .model file"
    )
