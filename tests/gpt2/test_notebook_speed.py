"""The speed notebook executes top to bottom (NOTEBOOK_SMOKE=1 shrinks it), and it teaches with the packages' own
code: it imports GPT, GPTConfig and gpt2.flops rather than defining look-alikes that could drift from them."""

from __future__ import annotations

import ast

import nbformat

from testutil import ROOT, run_notebook

NOTEBOOK = ROOT / "gpt-2" / "notebooks" / "speed.ipynb"
PACKAGE_NAMES = {"GPT", "GPTConfig", "flops", "flops_per_token", "mfu", "peak_flops", "configure_optimizers"}


def test_notebook_runs():
    run_notebook(NOTEBOOK)


def test_notebook_imports_rather_than_redefines():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    tree = ast.parse(source)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not defined & PACKAGE_NAMES, f"the notebook redefines {defined & PACKAGE_NAMES}"
    assert {"GPT", "GPTConfig", "flops"} <= imported
