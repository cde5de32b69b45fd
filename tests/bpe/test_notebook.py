"""The bpe-dev notebook executes top to bottom (its own asserts check naive == Rust merges)."""

from testutil import ROOT, run_notebook


def test_bpe_dev_notebook_runs():
    run_notebook(ROOT / "bpe" / "notebooks" / "bpe-dev.ipynb")


def test_tokenization_quirks_notebook_runs():
    """Its asserts check ours == tiktoken on gpt2 ids, special-token rules, and unseen tokens' embeddings unmoved."""
    run_notebook(ROOT / "bpe" / "notebooks" / "tokenization-quirks.ipynb")
