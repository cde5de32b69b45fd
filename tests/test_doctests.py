"""Every `>>>` example in the packages' docstrings runs, and prints what the docstring says it prints.

Modules are found by scanning the sources for '>>>' (no import needed to collect), then imported and run with doctest.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from testutil import ROOT, tiktoken_encoding

PACKAGES = {
    "scratch": ROOT / "scratch" / "scratch",
    "bpe": ROOT / "bpe" / "bpe",
    "basic_gpt": ROOT / "basic-gpt" / "basic_gpt",
    "gpt2": ROOT / "gpt-2" / "gpt2",
}
# Their examples load OpenAI's gpt2 ranks through tiktoken (cache or network).
NEEDS_TIKTOKEN = {"bpe.tokenizer", "gpt2.tokenizer"}


def modules_with_examples() -> list[str]:
    found = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8"):
                parts = path.relative_to(folder).with_suffix("").parts
                found.append(".".join((package, *parts)).removesuffix(".__init__"))
    return found


@pytest.mark.parametrize("module", modules_with_examples())
def test_docstring_examples(module, tmp_path, monkeypatch):
    if module in NEEDS_TIKTOKEN:
        tiktoken_encoding("gpt2")  # skips, saying why, when tiktoken cannot load it
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.attempted > 0, f"{module} has '>>>' in its source but doctest found no example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {module} failed"


def test_scan_finds_the_examples():
    """The scan itself: it must see the modules known to carry examples (else the test above would pass vacuously)."""
    assert {"bpe.encoding", "scratch.shakespeare"} <= set(modules_with_examples())
