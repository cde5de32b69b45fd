"""The "GPT-2 from the inside" notebook executes top to bottom on the small model it trains offline
(NOTEBOOK_SMOKE=1, GPT2_INSIDE_MODEL=train), and what it prints is checked against oracles outside the notebook:
OpenAI's published 124M parameter count, the parameter count and FLOPs of a model built here, the monotony of
entropy in temperature. It imports the package's code rather than redefining it, and draws its figures inline only."""

from __future__ import annotations

import ast
import json
import math

import nbformat
import pytest
from nbclient import NotebookClient

from gpt2.model import GPT, PRESETS, GPTConfig
from testutil import ROOT, require_tiktoken_cache, snapshot

NOTEBOOK = ROOT / "gpt-2" / "notebooks" / "gpt2-inside.ipynb"
PACKAGE_NAMES = {"GPT", "GPTConfig", "KVCache", "next_token_probs", "sample_next", "load_sampler", "flops_per_token"}


def execute(tmp, **env: str) -> tuple[nbformat.NotebookNode, bool]:
    """The notebook after a run at small settings with ENV, and whether images/ and the notebooks' folder (where a
    stray savefig or a relative path would land) stayed as they were."""
    mp = pytest.MonkeyPatch()
    for k, v in dict(NOTEBOOK_SMOKE="1", OMP_NUM_THREADS="1", TMPDIR=str(tmp), **env).items():
        mp.setenv(k, v)  # the kernel inherits them; TMPDIR: the notebook trains into a temp folder
    watched = [ROOT / "images", NOTEBOOK.parent]
    before = [snapshot(folder) for folder in watched]
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        ).execute()
    finally:
        mp.undo()
    return nb, before == [snapshot(folder) for folder in watched]


def summary_of(nb: nbformat.NotebookNode) -> dict:
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    line = next(line for line in text.splitlines() if line.startswith("SUMMARY "))
    return json.loads(line.removeprefix("SUMMARY "))


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    return execute(tmp_path_factory.mktemp("inside"), GPT2_INSIDE_MODEL="train")


@pytest.fixture(scope="module")
def summary(executed) -> dict:
    return summary_of(executed[0])


def trained_config() -> GPTConfig:
    """The smoke run's model: the tiny preset, learned positions, a 512-token BPE."""
    return GPTConfig.from_preset("tiny", vocab_size=512)


def test_it_says_which_model_it_used(executed, summary):
    assert summary["model"] == "trained"
    assert "model used: trained in this notebook" in printed(executed[0])


def test_parameter_table_adds_up(summary):
    assert summary["param_table_total"] == summary["num_params"] == GPT(trained_config()).num_params()
    assert summary["gpt2_table_total"] == 124_439_808  # OpenAI's GPT-2 small, with wpe, lm_head tied


def test_flops_shares_match_a_hand_count(summary):
    # GPT-2 124M at T=1024, forward per token: 2 FLOPs per weight of the blocks' matmuls (12 C^2 per layer) and of the
    # LM head (C x 50,257: OpenAI's vocabulary, unpadded), 4TC per layer for QK^T and AV
    L, C, V, T = 12, 768, 50257, 1024
    forward = 2 * (12 * L * C * C + C * V) + 4 * L * T * C
    shares = summary["flops_share"]["GPT-2 124M, T=1024"]
    assert math.isclose(sum(shares.values()), 1.0)
    assert math.isclose(shares["scores QK^T"] + shares["AV"], 4 * L * T * C / forward)
    assert math.isclose(shares["lm_head"], 2 * C * V / forward)
    assert f"this model, T={PRESETS['tiny']['block_size']}" in summary["flops_share"]


def test_attention_and_kv_cache_checks_passed(summary):
    assert summary["attention_recompute_max_err"] < 1e-4
    assert summary["kv_max_abs_diff"] < 1e-4 and summary["kv_tokens_equal"] is True
    assert 0 <= summary["prev_token_best"] <= 1 and 0 <= summary["sink_best"] <= 1


def test_wpe_was_trained(summary):
    # random N(0, 0.02) rows are nearly orthogonal; training makes neighbouring positions alike
    assert abs(summary["wpe_neighbour_cos_init"]) < 0.1
    assert summary["wpe_neighbour_cos"] > summary["wpe_neighbour_cos_init"]


def test_sampling_knobs(summary):
    h = summary["entropy_bits"]
    assert h["T=0.5"] < h["T=1"] < h["T=1.5"] <= math.log2(512)
    assert h["top-k 10"] <= math.log2(10) + 1e-6 and summary["top_k_support"] == 10
    assert 0.9 <= summary["top_p_mass"] <= 1.0


def test_figures_inline_only(executed):
    nb, repository_unchanged = executed
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 6  # FLOPs, wpe, attention grid, two heads, KV cache, sampling
    assert repository_unchanged, "the notebook wrote into images/ or gpt-2/notebooks/"


def test_notebook_imports_rather_than_redefines():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tree = ast.parse("\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not defined & PACKAGE_NAMES, f"the notebook redefines {defined & PACKAGE_NAMES}"
    assert {"GPT", "GPTConfig", "KVCache", "next_token_probs", "flops"} <= imported


@pytest.mark.slow  # ~30 s more: a second run of the notebook, and transformers' import
def test_openai_branch_loads_a_cached_snapshot(tmp_path):
    """Offline, the auto choice takes OpenAI's weights from the HF cache when a snapshot is there: here a small random
    GPT-2 with OpenAI's vocabulary, saved as transformers saves it, in a private HF_HOME."""
    require_tiktoken_cache()
    config = GPTConfig.from_preset("tiny", vocab_size=50257)
    snapshot_dir = tmp_path / "hf" / "hub" / "models--openai-community--gpt2" / "snapshots" / "0123abc"
    GPT(config).save_hf(snapshot_dir)
    nb, unchanged = execute(tmp_path / "tmp", GPT2_INSIDE_MODEL="auto", HF_HOME=str(tmp_path / "hf"))
    s = summary_of(nb)
    assert s["model"] == "gpt2" and "model used: OpenAI's GPT-2 124M" in printed(nb)
    assert s["param_table_total"] == s["num_params"] == GPT(config).num_params()
    assert s["kv_max_abs_diff"] < 1e-4 and s["kv_tokens_equal"] is True and unchanged
