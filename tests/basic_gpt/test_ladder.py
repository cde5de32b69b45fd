"""The ladder runner (stages.py) and the notebooks, with small settings."""

import json
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
        tmp_path / "run",
        max_iters=40,
        eval_interval=20,
        progress=False,
        image=tmp_path / "images" / "curves.png",
    )
    table = (tmp_path / "run" / "ladder.md").read_text().splitlines()
    assert len(table) == 6 and table[2].startswith("| bigram |") and table[3].startswith("| residual |")
    assert f"{results[1]['val_loss']:.3f}" in table[3] and "| 2.20 |" in table[3]  # ours beside the original
    assert table[5].startswith("Made from: data ") and ds.source["sha256"][:12] in table[5]
    assert [h["iter"] for h in results[0]["history"]] == [0, 20, 40]
    record = json.loads((tmp_path / "run" / "ladder.json").read_text())
    assert record["run"]["data"] == ds.source and record["run"]["max_iters"] == 40
    for png in (tmp_path / "run" / "loss-curves.png", tmp_path / "images" / "curves.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_ladder_without_image_writes_only_its_folder(tmp_path):
    ds = load_dataset(corpus_file("tinyshakespeare.txt"))
    run_ladder(ds, ["bigram"], tmp_path / "run", max_iters=5, eval_interval=0, progress=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ladder.json", "ladder.md", "loss-curves.png", "run"]


@pytest.mark.parametrize("name", ["bigram-dev", "self-attention-dev", "layer-norm-dev"])
def test_notebook_runs(name, monkeypatch):
    monkeypatch.setenv("BASIC_GPT_DATA", str(corpus_file("tinyshakespeare.txt")))
    run_notebook(NOTEBOOKS / f"{name}.ipynb")
