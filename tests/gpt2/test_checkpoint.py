"""gpt2.checkpoint: round trip, atomic writes, and clear errors for missing, corrupt, unsafe, foreign or mismatched
checkpoints (loading never runs code from the file); a run's checkpoints: rotation, the one to resume from, the
settings a resume must share, RNG state that survives weights_only loading."""

from __future__ import annotations

import io
import pickle
import random
from dataclasses import asdict

import numpy as np
import pytest
import torch

from gpt2.checkpoint import (
    check_resume_compatible,
    list_checkpoints,
    load_checkpoint,
    model_from_checkpoint,
    resolve_resume,
    rng_state,
    save_checkpoint,
    save_rotating,
    set_rng_state,
)
from gpt2.configs import resolve
from gpt2.model import GPT, GPTConfig


def tiny_state(**overrides) -> tuple[GPT, dict]:
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=300, **overrides)).eval()
    return model, {
        "model": model.state_dict(),
        "config": asdict(model.config),
        "tokenizer": "gpt2",
        "step": 7,
        "rng": {"torch": torch.get_rng_state()},
        "train_config": {"lr": 1e-3},
    }


@pytest.mark.parametrize("pos_emb,mlp", [("learned", "gelu"), ("rope", "swiglu")])
def test_round_trip_gives_the_same_model(tmp_path, pos_emb, mlp):
    model, state = tiny_state(pos_emb=pos_emb, mlp=mlp, pad_vocab_to=64)
    save_checkpoint(tmp_path / "ckpt.pt", state)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left behind
    loaded = load_checkpoint(tmp_path / "ckpt.pt")
    assert loaded["tokenizer"] == "gpt2" and loaded["step"] == 7 and loaded["train_config"] == {"lr": 1e-3}
    again = model_from_checkpoint(loaded).eval()
    assert again.config == model.config
    idx = torch.randint(0, 300, (2, 20))
    assert torch.equal(again(idx)[0], model(idx)[0])
    assert again.lm_head.weight is again.transformer.wte.weight  # still tied after loading


def test_compiled_and_ddp_prefixes_are_stripped():
    model, state = tiny_state()
    state["model"] = {f"module._orig_mod.{k}": v for k, v in state["model"].items()}
    again = model_from_checkpoint(state)
    assert torch.equal(again.lm_head.weight, model.lm_head.weight)


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    _, state = tiny_state()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, state)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a local lambda: AttributeError
        save_checkpoint(path, {**state, "bad": lambda: 0})  # torch.save cannot pickle a lambda
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("damage", ["truncated", "random", "text"])
def test_corrupted_file(tmp_path, damage):
    _, state = tiny_state()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, state)
    data = path.read_bytes()
    path.write_bytes(
        {"truncated": data[: len(data) // 2], "random": bytes(range(256)) * 8, "text": b"hello world"}[damage]
    )
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(path)


class Payload:
    ran = False

    def __reduce__(self):
        return (setattr, (Payload, "ran", True))


def test_loading_never_runs_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "config": {}, "tokenizer": "gpt2", "x": Payload()}, path)
    with pytest.raises(ValueError, match="objects other than tensors"):
        load_checkpoint(path)
    assert Payload.ran is False
    pickle.loads(pickle.dumps(Payload()))  # the payload is real: plain unpickling runs it
    assert Payload.ran is True
    Payload.ran = False


def test_not_our_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    with pytest.raises(ValueError, match="not a gpt2 checkpoint"):
        load_checkpoint(path)
    torch.save(torch.ones(3), path)
    with pytest.raises(ValueError, match="not a gpt2 checkpoint"):
        load_checkpoint(path)


def test_weights_from_another_config():
    _, state = tiny_state()
    state["config"] = asdict(GPTConfig.from_preset("mini", vocab_size=300))
    with pytest.raises(ValueError, match="do not match its config.*missing.*shape mismatch"):
        model_from_checkpoint(state)
    _, state = tiny_state(pos_emb="rope")
    state["config"]["pos_emb"] = "learned"
    with pytest.raises(ValueError, match="missing transformer.wpe.weight"):
        model_from_checkpoint(state)
    _, state = tiny_state()
    state["config"]["n_kv_head"] = 1
    with pytest.raises(ValueError, match="n_kv_head"):
        model_from_checkpoint(state)


def test_save_requires_the_contract_keys(tmp_path):
    with pytest.raises(ValueError, match="tokenizer"):
        save_checkpoint(tmp_path / "x.pt", {"model": {}, "config": {}})
    assert not list(tmp_path.iterdir())


# -----------------------------------------------------------------------------
# the checkpoints of a run


def minimal_state(step: int) -> dict:
    return {"model": {}, "config": {}, "tokenizer": "gpt2", "step": step}


def test_rotation_keeps_the_newest_k_by_step(tmp_path):
    (tmp_path / "ckpt_final.pt").write_bytes(b"x")  # not ckpt_NUMBER.pt: neither listed nor deleted
    for step in range(1, 13):  # past ckpt_000009: ordered by step number
        path = save_rotating(tmp_path, step, minimal_state(step), keep_last=3)
        assert path == tmp_path / f"ckpt_{step:06d}.pt"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000010.pt", "ckpt_000011.pt", "ckpt_000012.pt"]
    assert load_checkpoint(tmp_path / "ckpt_000012.pt")["step"] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt_000010.pt",
        "ckpt_000011.pt",
        "ckpt_000012.pt",
        "ckpt_final.pt",
    ]  # and no temp files
    save_rotating(tmp_path, 13, minimal_state(13), keep_last=0)  # 0: keep every checkpoint
    assert len(list_checkpoints(tmp_path)) == 4


def test_resume_finds_the_newest_checkpoint_or_the_one_named(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        resolve_resume("latest", run)
    for step in (2, 10, 4):
        save_checkpoint(run / f"ckpt_{step:06d}.pt", minimal_state(step))
    assert resolve_resume("latest", run) == run / "ckpt_000010.pt"
    assert resolve_resume(str(run), tmp_path / "elsewhere") == run / "ckpt_000010.pt"  # a directory: its newest
    assert resolve_resume(str(run / "ckpt_000002.pt"), run) == run / "ckpt_000002.pt"
    with pytest.raises(FileNotFoundError, match="not found"):
        resolve_resume(str(run / "ckpt_000003.pt"), run)


def test_resume_refuses_other_settings():
    saved = resolve("rope", model="tiny", micro_batch=4).to_dict()
    check_resume_compatible(saved, resolve("rope", model="tiny", micro_batch=4, max_steps=99))  # the length may change
    with pytest.raises(ValueError, match="micro_batch: checkpoint 4 vs now 8"):
        check_resume_compatible(saved, resolve("rope", model="tiny", micro_batch=8))


def test_rng_state_round_trips():
    state = rng_state()
    before = (torch.rand(3), random.random(), np.random.rand())
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    set_rng_state(torch.load(buf, weights_only=True))  # tensors and ints only: weights_only reads it
    after = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(before[0], after[0]) and before[1:] == after[1:]
