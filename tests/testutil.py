"""Helpers shared by the whole test suite (importable as `testutil`; see pythonpath in pyproject.toml).

Tests that need ../shared skip with a clear reason where it is absent (a user's fresh clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TIKTOKEN_CACHE = SHARED / "tiktoken-cache"


def shared_file(name: str) -> Path:
    """Path of ../shared/data/NAME, or skip the test when that file is not here."""
    path = SHARED / "data" / name
    if not path.is_file():
        pytest.skip(f"{path} not found: shared test data is only present in CI and dev checkouts")
    return path


def require_tiktoken_cache() -> None:
    """Skip unless tiktoken can load its encodings offline from ../shared/tiktoken-cache."""
    if not TIKTOKEN_CACHE.is_dir():
        pytest.skip(f"{TIKTOKEN_CACHE} not found: tiktoken cannot load encodings offline")


def run_notebook(path: Path, timeout: int = 300) -> None:
    """Execute a notebook top to bottom with NOTEBOOK_SMOKE=1 (notebooks shrink their settings).

    The kernel gets one intra-op thread: on 2 busy cores, torch's thread pool can make small models 30x slower.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("NOTEBOOK_SMOKE", "OMP_NUM_THREADS")}
    os.environ.update(NOTEBOOK_SMOKE="1", OMP_NUM_THREADS="1")
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
