"""The "GPT-2 from the inside" notebook executes top to bottom on the small model it trains offline
(NOTEBOOK_SMOKE=1, GPT2_INSIDE_MODEL=train), and what it prints is checked against oracles outside the notebook:
OpenAI's published 124M parameter count, the parameter count and FLOPs of a model built here, the monotony of
entropy in temperature. It imports the package's code rather than redefining it, and draws its figures inline only."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from gpt2.model import GPT, PRESETS, GPTConfig
from testutil import ROOT, require_tiktoken_cache, snapshot, tiktoken_encoding

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


def train_counts(data_dir: Path) -> np.ndarray:
    """Token counts of the training shards, read from the raw files (256-byte header, then the tokens)."""
    m = json.loads((data_dir / "manifest.json").read_text())
    files = [data_dir / s["file"] for s in m["shards"] if s["split"] == "train"]
    tokens = np.concatenate([np.fromfile(f, dtype=m["dtype"], offset=256) for f in files])
    assert len(tokens) == sum(s["tokens"] for s in m["shards"] if s["split"] == "train")
    return np.bincount(tokens, minlength=m["vocab_size"])


def test_glitch_tokens_recounted_from_the_shards(executed, summary):
    g = summary["glitch"]
    counts = train_counts(Path(g["data"]))
    assert g["vocab"] == len(counts) == 512
    assert g["never"] == int((counts == 0).sum()) > 0 and g["never_ids"] == np.flatnonzero(counts == 0).tolist()
    assert f"never occur: {g['never']} tokens" in printed(executed[0])


def test_glitch_rows_measured_against_the_checkpoint(summary):
    g = summary["glitch"]
    (ckpt,) = (Path(g["data"]).parent / "model").glob("ckpt_*.pt")
    wte = torch.load(ckpt, map_location="cpu", weights_only=True)["model"]["transformer.wte.weight"]
    never = torch.tensor(g["never_ids"])
    rows = g["rows"]
    assert math.isclose(wte[never].norm(dim=1).mean().item(), rows["never"]["norm"], rel_tol=1e-5)
    # the init rebuilt with the run's seed is the run's: frequent rows keep some of it, another seed's rows none
    assert rows["frequent"]["cos_init"] > rows["frequent"]["cos_other_seed"] + 0.2
    assert abs(rows["frequent"]["cos_other_seed"]) < 0.1
    # tied lm_head: never-seen rows still moved (in an untied model they would stay at their init exactly)
    assert rows["never"]["moved"] > 0.1 and rows["never"]["norm_init"] == pytest.approx(0.02 * math.sqrt(64), rel=0.2)


def test_glitch_tokens_as_outputs_and_inputs(executed, summary):
    lp = summary["glitch"]["logp"]
    assert lp["uniform"] == pytest.approx(-math.log(512))
    assert lp["never"] < lp["uniform"] < lp["frequent_true"] < 0
    assert 0 < lp["never_mass"] < 1 and lp["never_max_prob"] < 1
    g = summary["glitch"]
    assert g["sentences"] == 8 and 0 <= g["kl_next_wins"] <= 8
    assert min(*g["kl"].values(), *g["kl_next"].values()) >= 0
    assert g["kl_next"]["glitch"] > g["kl_next"]["control"]  # measured 1.6 vs 0.4 nats at the smoke settings
    assert "8.4 skipped" in printed(executed[0]) and "magikarp" not in summary


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
    (magikarp,) = tiktoken_encoding("gpt2").encode(" SolidGoldMagikarp")
    assert s["magikarp"]["id"] == magikarp and "glitch" not in s
    assert "8.4 ran on OpenAI's weights" in printed(nb) and "8.1-8.3 skipped" in printed(nb)
