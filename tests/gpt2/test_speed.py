"""The speed ladder (gpt2/speed.py) and its benchmark (bench/gpt2_speed.py): each rung switches exactly one thing, the
switches reach the real model/optimizer/step, hand-written attention computes what SDPA does, and the measuring
function runs the trainer's step and learns the same thing on every fp32 rung."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from gpt2 import speed
from gpt2.distributed import Dist
from gpt2.model import GPT, GPTConfig, KVCache
from gpt2.train import train_step
from scratch.cli import UsageError
from testutil import bench_script

TINY = GPTConfig.from_preset("tiny", vocab_size=1000)


@pytest.fixture(scope="module")
def bench():
    return bench_script("gpt2_speed")


def changed(a: speed.Settings, b: speed.Settings) -> set[str]:
    return {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}


def test_each_ladder_rung_switches_exactly_its_field():
    ladder = speed.cumulative()
    assert ladder[0] == (speed.BASE, speed.Settings())
    for (_, before), (name, after), rung in zip(ladder, ladder[1:], speed.RUNGS):
        assert name == rung.name
        expected = {rung.field} | ({"compile"} - {rung.field} if rung.field == "compile_mode" else set())
        assert changed(before, after) - {"compile"} == {rung.field} - {"compile"}, name
        assert getattr(after, rung.field) == rung.value
        assert changed(before, after) <= expected


def test_each_ablation_row_is_the_base_plus_one_rung():
    for (name, settings), rung in zip(speed.ablation()[1:], speed.RUNGS):
        assert name == rung.name
        assert rung.field in changed(speed.Settings(), settings)
        assert changed(speed.Settings(), settings) <= {rung.field, "compile"}


def test_the_top_of_the_ladder_is_the_fast_path():
    top = speed.cumulative()[-1][1]
    assert top == speed.Settings("sdpa", True, True, True, "max-autotune", True, True)


def test_unknown_rung_is_refused_and_gpu_only_rungs_are_reported_on_cpu():
    with pytest.raises(ValueError, match="unknown rung"):
        speed.rungs(["warp drive"])
    assert speed.unavailable("compile max-autotune", torch.device("cpu")).startswith("not run")
    assert speed.unavailable("torch.compile", torch.device("cpu")) is None


def test_switches_reach_the_model_optimizer_and_matmul_precision():
    fast = speed.Settings(attention="sdpa", pad_vocab=True, fused_adamw=True)
    model, opt = speed.build(fast, TINY, seed=0, device="cpu")
    assert not model.transformer.h[0].attn.manual and model.lm_head.weight.shape[0] == 1024  # 1000 -> 16 * 64
    assert opt.defaults["fused"] is True
    slow, opt = speed.build(speed.Settings(), TINY, seed=0, device="cpu")
    assert slow.transformer.h[0].attn.manual and slow.lm_head.weight.shape[0] == 1000
    assert not opt.defaults["fused"]
    before = torch.get_float32_matmul_precision()
    with speed.applied(speed.Settings(tf32=True)):
        assert torch.get_float32_matmul_precision() == "high"
    assert torch.get_float32_matmul_precision() == before


def test_tf32_has_no_effect_on_cpu_matmuls():
    assert speed.tf32_changes_matmuls("cpu") is False


def test_padded_and_unpadded_rungs_start_from_the_same_weights():
    idx = torch.randint(0, 1000, (2, 16), generator=torch.Generator().manual_seed(1))
    plain, _ = speed.build(speed.Settings(attention="sdpa"), TINY, seed=3, device="cpu")
    padded, _ = speed.build(speed.Settings(attention="sdpa", pad_vocab=True), TINY, seed=3, device="cpu")
    torch.testing.assert_close(padded(idx)[0], plain(idx)[0], atol=1e-6, rtol=0)


def test_manual_attention_gives_the_sdpa_logits():
    torch.manual_seed(0)
    sdpa = GPT(GPTConfig.from_preset("tiny")).eval()
    manual = GPT(GPTConfig.from_preset("tiny", attention="manual")).eval()
    manual.load_state_dict(sdpa.state_dict())
    idx = torch.randint(0, 50257, (2, 64))
    torch.testing.assert_close(manual(idx)[0], sdpa(idx)[0], atol=1e-5, rtol=0)
    # a cached prefix then several new tokens: query i must see keys [0, pos + i] only
    logits = []
    for m in (sdpa, manual):
        cache = KVCache(m.config, 2, "cpu")
        m(idx[:, :40], kv_cache=cache)
        logits.append(m(idx[:, 40:], kv_cache=cache)[0])
    torch.testing.assert_close(logits[1], logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[1], manual(idx)[0][:, 40:], atol=1e-5, rtol=0)


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="attention='flash'"):
        GPTConfig(attention="flash")


def tokens(n: int = 4000) -> torch.Tensor:
    """A learnable stream: a repeating pattern of 37 ids."""
    return torch.arange(n) * 7 % 37


def test_measure_runs_the_trainers_step_and_reproduces_it(bench):
    r = bench.measure(speed.Settings(), TINY, tokens(), batch=2, seq_len=32, steps=2, warmup=1)
    assert r["steps"] == 3 and r["ms_step"] > 0 and r["tok_s"] == pytest.approx(64 / (r["ms_step"] / 1e3))
    assert r["mfu"] is None and r["compile_s"] is None and r["peak_mem_mb"] >= 0
    # oracle: the same three steps through train_step by hand, from the same seed and batches
    model, opt = speed.build(speed.Settings(), TINY, seed=bench.SEED, device="cpu")
    next_batch = bench.batches(tokens(), 2, 32)
    for _ in range(3):
        loss, _ = train_step(model, opt, next_batch, 1, bench.LR, bench.GRAD_CLIP, Dist())
    assert r["loss"] == loss
    assert math.isfinite(loss) and loss < math.log(1000)


def test_fp32_rungs_learn_the_same_and_bf16_stays_close(bench):
    kw = dict(batch=2, seq_len=32, steps=2, warmup=1)
    base = bench.measure(speed.Settings(), TINY, tokens(), **kw)["loss"]
    fast_fp32 = speed.Settings(attention="sdpa", tf32=True, pad_vocab=True, fused_adamw=True)
    assert bench.measure(fast_fp32, TINY, tokens(), **kw)["loss"] == pytest.approx(base, abs=1e-4)
    bf16 = bench.measure(dataclasses.replace(fast_fp32, bf16=True), TINY, tokens(), **kw)["loss"]
    assert bf16 == pytest.approx(base, abs=bench.TOLERANCE["bf16"])


@pytest.mark.slow
def test_compiled_rung_learns_the_same(bench):
    kw = dict(batch=2, seq_len=32, steps=1, warmup=1)
    base = bench.measure(speed.Settings(attention="sdpa"), TINY, tokens(), **kw)
    compiled = bench.measure(speed.Settings(attention="sdpa", compile=True), TINY, tokens(), **kw)
    assert compiled["compile_s"] is not None and compiled["compile_s"] > 0
    assert compiled["loss"] == pytest.approx(base["loss"], abs=bench.TOLERANCE["fp32"])


def test_cli_refuses_unknown_rungs_and_existing_outputs(bench, tmp_path):
    with pytest.raises(ValueError, match="unknown rung"):
        bench.main(["--rungs", "warp drive"])
    existing = tmp_path / "ladder.json"
    existing.write_text("{}")
    with pytest.raises(UsageError, match="--overwrite"):
        bench.main(["--json", str(existing)])
    assert existing.read_text() == "{}"
    with pytest.raises(SystemExit) as e:
        bench.main(["--steps", "0"])
    assert e.value.code == 2


def test_cli_measures_the_ladder_and_the_ablation(bench, tmp_path, capsys):
    out = tmp_path / "ladder.json"
    rungs = ["SDPA attention", "fused AdamW", "compile max-autotune"]
    assert bench.main(["--preset", "tiny", "--steps", "1", "--seq-len", "16", "--batch", "1", "--rungs", *rungs,
                       "--json", str(out)]) == 0  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    assert [(r["mode"], r["rung"]) for r in rows] == [("ladder", speed.BASE)] + [("ladder", n) for n in rungs] + [
        ("ablation", n) for n in rungs
    ]
    autotune = [r for r in rows if r["rung"] == "compile max-autotune"]
    assert all(r["unavailable"].startswith("not run") and "tok_s" not in r for r in autotune)
    assert rows[0]["speedup"] == 1.0 and rows[0]["loss_diff"] == 0.0
    assert rows[1]["settings"]["attention"] == "sdpa" and rows[2]["settings"]["fused_adamw"]
    assert "| ladder | fused AdamW |" in capsys.readouterr().out
