"""Files on disk: the cache directory, atomic writes, checksums and cached downloads.

    with atomic_open("run/ckpt.pt") as f:        # a temp file beside the target, renamed into place on success:
        torch.save(state, f)                     # a crash or Ctrl-C never leaves a half-written file
    atomic_write("out.txt", "text or bytes")
    path = download(URL, cache_dir() / "input.txt", md5="6fb4...")   # once, checked, then cached

Temp files are named `.NAME.<random>.tmp` beside the target, so a rename is atomic (same filesystem) and a leftover
from a killed process is easy to spot.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tqdm.auto import tqdm

CACHE_ENV = "BFS_CACHE"


def cache_dir() -> Path:
    """Where downloads and derived corpora live: $BFS_CACHE, else $XDG_CACHE_HOME/building-from-scratch,
    else ~/.cache/building-from-scratch (created on first use)."""
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
        "building-from-scratch"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Open a temp file beside `path` for writing; on a clean exit flush, fsync and rename it onto `path`.

    On any exception (KeyboardInterrupt included) the temp file is removed and `path` is left as it was.
    """
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes whole files: mode must start with 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; the result should look like any other file written
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: str | os.PathLike, targets: re.Pattern | None = None) -> list[Path]:
    """Delete the temp files that atomic_open left in `folder` when its process was killed mid-write (SIGKILL, power
    loss: no `except` ran); returns what was removed. `targets`: only the temps of files whose names it fully
    matches (for a folder other tools write into too). Call it only where no other process is writing."""
    stale = sorted(
        p
        for p in Path(folder).glob(".*.tmp")
        if p.is_file() and (targets is None or targets.fullmatch(p.name[1:].rsplit(".", 2)[0]))
    )
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _mode_for(path: Path) -> int:
    """The permissions a plain open() would give: the existing file's, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write bytes (or text, as UTF-8) to `path` atomically; returns the path."""
    if isinstance(data, str):
        data = data.encode(encoding)
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def file_digest(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MiB blocks (md5 for published checksums, sha256 for our own records)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, dest: Path, md5: str | None, timeout: float) -> None:
    """Stream `url` into a temp file, hashing as it goes; only a file with the right checksum replaces `dest`."""
    h = hashlib.md5()
    with atomic_open(dest) as out, urllib.request.urlopen(url, timeout=timeout) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}", leave=False) as bar:
            for block in iter(lambda: resp.read(1 << 16), b""):
                out.write(block)
                h.update(block)
                bar.update(len(block))
        if md5 is not None and h.hexdigest() != md5:
            raise ValueError(
                f"{url} downloaded with md5 {h.hexdigest()}, expected {md5}: the file changed upstream "
                f"or was corrupted on the way; pass a local copy instead (--data PATH)"
            )


def _is_offline(error: BaseException) -> bool:
    """A name that does not resolve will not resolve a second later either: no point retrying."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, socket.gaierror)


def download(
    url: str,
    dest: str | os.PathLike,
    md5: str | None = None,
    timeout: float = 30,
    retries: int = 2,
    backoff: float = 1.0,
) -> Path:
    """Fetch `url` to `dest` once; later calls return the cached file. Checked against `md5` when given.

    Transient network errors are retried `retries` times (waiting backoff, 2*backoff, ...); an unresolvable host
    fails at once. Errors: ConnectionError (network, with the hint to pass a local file), ValueError (checksum).
    """
    dest = Path(dest)
    if dest.is_file() and (md5 is None or file_digest(dest) == md5):
        return dest
    for attempt in range(retries + 1):
        try:
            _fetch(url, dest, md5, timeout)
            return dest
        except (urllib.error.URLError, OSError) as e:
            if attempt == retries or _is_offline(e):
                raise ConnectionError(
                    f"could not download {url} ({e}): are you offline? Pass a local file instead (e.g. --data PATH)"
                ) from None
            time.sleep(backoff * 2**attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
