"""The model notebooks execute top to bottom (NOTEBOOK_SMOKE=1 shrinks them); their asserted facts live in
test_model.py, these only check that what a learner runs still runs against the package."""

from __future__ import annotations

import pytest

from testutil import ROOT, run_notebook

NOTEBOOKS = ROOT / "gpt-2" / "notebooks"


@pytest.mark.parametrize("name", ["rope.ipynb", "swiglu.ipynb"])
def test_notebook_runs(name):
    run_notebook(NOTEBOOKS / name)
