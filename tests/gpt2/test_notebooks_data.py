"""The data loaders notebook executes top to bottom (NOTEBOOK_SMOKE=1 shrinks it)."""

from __future__ import annotations

from testutil import ROOT, require_tiktoken_cache, run_notebook


def test_dataloaders_notebook_runs():
    require_tiktoken_cache()
    run_notebook(ROOT / "gpt-2" / "notebooks" / "dataloaders.ipynb")
