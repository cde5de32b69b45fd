"""Shared test fixtures: the read-only ../shared folder, offline tiktoken, notebook runner.

Tests that need ../shared skip with a clear reason where it is absent (a user's fresh clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# tiktoken reads this at get_encoding() time; set it before any test imports tiktoken.
if (SHARED / "tiktoken-cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken-cache"))


def shared_file(name: str) -> Path:
    """Path of ../shared/data/NAME, or skip the test when that file is not here."""
    path = SHARED / "data" / name
    if not path.is_file():
        pytest.skip(f"{path} not found: shared test data is only present in CI and dev checkouts")
    return path


@pytest.fixture
def tiktoken_encoding():
    """tiktoken.get_encoding, skipping when the offline cache is absent."""
    if not (SHARED / "tiktoken-cache").is_dir():
        pytest.skip("../shared/tiktoken-cache not found: tiktoken cannot load encodings offline")
    import tiktoken

    return tiktoken.get_encoding


def run_notebook(path: Path, timeout: int = 120) -> None:
    """Execute a notebook top to bottom with NOTEBOOK_SMOKE=1 (notebooks shrink their settings)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ["NOTEBOOK_SMOKE"] = "1"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.pop("NOTEBOOK_SMOKE", None)
