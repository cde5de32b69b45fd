"""The ladder runner (stages.py) and the notebooks, with small settings."""

from pathlib import Path

import pytest

from basic_gpt.data import load_dataset
from basic_gpt.ladder import run_ladder
from testutil import corpus_file, run_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "basic-gpt" / "notebooks"


def test_ladder_writes_table_and_plot(tmp_path):
    ds = load_dataset(corpus_file("tinyshakespeare.txt"))
    results = run_ladder(
        ds,
        ["bigram", "residual"],
        tmp_path / "ladder.md",
        tmp_path / "curves.png",
        max_iters=40,
        eval_interval=20,
        progress=False,
    )
    table = (tmp_path / "ladder.md").read_text().splitlines()
    assert len(table) == 4 and table[2].startswith("| bigram |") and table[3].startswith("| residual |")
    assert f"{results[1]['val_loss']:.3f}" in table[3] and "| 2.20 |" in table[3]  # ours beside the original
    assert [h["iter"] for h in results[0]["history"]] == [0, 20, 40]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", ["bigram-dev", "self-attention-dev", "layer-norm-dev"])
def test_notebook_runs(name, monkeypatch):
    monkeypatch.setenv("BASIC_GPT_DATA", str(corpus_file("tinyshakespeare.txt")))
    run_notebook(NOTEBOOKS / f"{name}.ipynb")
