"""The trainer on real Tiny Shakespeare shards with the tiny preset: exact resume, gradient accumulation, DDP under
torchrun, checkpoint rotation, the non-finite-loss stop, SIGTERM, and an end-to-end run that learns and leaves a
checkpoint that sample.py reads."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gpt2 import train as T
from gpt2.checkpoint import list_checkpoints, load_checkpoint, model_from_checkpoint
from gpt2.configs import resolve
from gpt2.distributed import Dist
from gpt2.evaluate import bits_per_byte
from scratch.cli import UsageError
from testutil import ROOT, gpt2_shards, shared_file, tiny_run


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return gpt2_shards(tmp_path_factory.mktemp("shakespeare"))


def tiny(shards, out, **kw):
    return tiny_run(shards, out, **kw)


def logged(run_dir, kind="train"):
    with open(Path(run_dir) / "log.jsonl") as f:
        return [r for r in map(json.loads, f) if r["type"] == kind]


def test_resume_is_bit_exact(shards, tmp_path):
    straight = T.train(tiny(shards, tmp_path / "a"))
    first = T.train(tiny(shards, tmp_path / "b", stop_at=4))
    assert first.stopped == "stop_at" and first.step == 4 and first.checkpoint.name == "ckpt_000004.pt"
    stale = first.run_dir / ".ckpt_000005.pt.k1ll3d.tmp"  # what a save killed by SIGKILL leaves behind
    stale.write_bytes(b"half a checkpoint")
    second = T.train(tiny(shards, tmp_path / "b"), resume="latest")
    assert second.step == 8 and len(second.losses) == 4
    assert not stale.exists()
    assert first.losses + second.losses == straight.losses  # float equality, step by step
    assert [r["loss"] for r in logged(first.run_dir)] == straight.losses  # the log holds both halves
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(second.checkpoint)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["loader"] == b["loader"] and a["step"] == b["step"] == 8
    assert torch.equal(a["optimizer"]["state"][0]["exp_avg_sq"], b["optimizer"]["state"][0]["exp_avg_sq"])


def test_checkpoint_contents_are_weights_only(shards, tmp_path):
    run = T.train(tiny(shards, tmp_path, max_steps=2))
    state = torch.load(run.checkpoint, weights_only=True)  # plain tensors, ints, strs, lists, dicts
    assert {"model", "optimizer", "step", "loader", "rng", "config", "tokenizer", "train_config"} <= state.keys()
    assert state["tokenizer"] == "gpt2" and state["train_config"]["config"] == "global-datafix"
    assert {"torch", "python", "numpy"} <= state["rng"].keys()
    model = model_from_checkpoint(state)
    assert model.config.pos_emb == "learned"


def test_rotation_keeps_last_k_and_refuses_to_overwrite(shards, tmp_path):
    run = T.train(tiny(shards, tmp_path, max_steps=5, ckpt_every=1, keep_last=2))
    assert [p.name for p in list_checkpoints(run.run_dir)] == ["ckpt_000004.pt", "ckpt_000005.pt"]
    assert not list(run.run_dir.glob("*.tmp"))
    with pytest.raises(UsageError, match="already holds a run .* --resume"):
        T.train(tiny(shards, tmp_path, max_steps=5))
    with pytest.raises(ValueError, match="micro_batch"):
        T.train(tiny(shards, tmp_path, max_steps=6, micro_batch=2), resume="latest")


def test_grad_accumulation_equals_one_big_batch(shards):
    """k micro-batches of B rows == one batch of k*B rows (the loader hands out the same windows either way):
    the same loss and the same gradient, up to float32 summation order."""
    from gpt2.data import make_loader
    from gpt2.model import GPT, GPTConfig

    grads, losses = [], []
    for micro_batch, accum in ((4, 4), (16, 1)):
        torch.manual_seed(0)
        model = GPT(GPTConfig.from_preset("tiny"))
        opt = torch.optim.SGD(model.parameters(), lr=0.0)  # look at the gradient, leave the weights
        loader = make_loader("global", shards, micro_batch, 32, seed=3)
        loss, _ = T.train_step(model, opt, loader.next_batch, accum, lr=0.0, grad_clip=1e9, d=Dist())
        losses.append(loss)
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)
    for name, g in grads[0].items():
        torch.testing.assert_close(g, grads[1][name], rtol=1e-5, atol=1e-7, msg=name)


def test_trainer_accumulates_to_the_total_batch(shards, tmp_path):
    a = T.train(tiny(shards, tmp_path / "a", config="baseline", max_steps=3, total_batch_tokens=512, micro_batch=4))
    b = T.train(tiny(shards, tmp_path / "b", config="baseline", max_steps=3, total_batch_tokens=512, micro_batch=16))
    assert [logged(r.run_dir, "config")[0]["grad_accum_steps"] for r in (a, b)] == [4, 1]
    assert a.losses == pytest.approx(b.losses, abs=1e-6)
    pa, pb = load_checkpoint(a.checkpoint)["model"], load_checkpoint(b.checkpoint)["model"]
    assert max((pa[k] - pb[k]).abs().max().item() for k in pa) < 1e-5  # Adam's first steps amplify rounding


def test_non_finite_loss_stops_and_keeps_last_checkpoint(shards, tmp_path, monkeypatch):
    from gpt2.model import GPT

    real_forward, calls = GPT.forward, {"n": 0}

    def forward(self, idx, targets=None):
        logits, loss = real_forward(self, idx, targets)
        if targets is not None and self.training:
            calls["n"] += 1
            if calls["n"] > 6:  # 2 micro-steps per step: step 4 goes bad
                loss = loss * float("nan")
        return logits, loss

    monkeypatch.setattr(GPT, "forward", forward)
    with pytest.raises(T.NonFiniteLoss, match=r"step 3 .*ckpt_000002\.pt"):
        T.train(tiny(shards, tmp_path, ckpt_every=2))
    run_dir = tmp_path / "global-datafix"
    assert [p.name for p in list_checkpoints(run_dir)] == ["ckpt_000002.pt"]
    assert load_checkpoint(run_dir / "ckpt_000002.pt")["step"] == 2


def test_sigterm_saves_and_exits_cleanly(shards, tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "gpt-2" / "train.py"),
        "--config",
        "rope",
        "--model",
        "tiny",
        "--data",
        shards,
        "--out",
        str(tmp_path),
        "--total-batch-tokens",
        "128",
        "--micro-batch",
        "4",
        "--seq-len",
        "32",
        "--max-steps",
        "100000",
        "--eval-every",
        "100000",  # one evaluation, at step 0: the "end" record must still say the step the run stopped at
        "--val-batches",
        "1",
        "--hellaswag",
        "none",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    log = tmp_path / "rope" / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and '"train"' in log.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    stopped = logged(tmp_path / "rope", "stopped")
    assert stopped and stopped[0]["reason"] == "SIGTERM", out
    ckpt = list_checkpoints(tmp_path / "rope")[-1]
    assert load_checkpoint(ckpt)["step"] == stopped[0]["step"] >= 1
    assert logged(tmp_path / "rope", "end")[0]["step"] == stopped[0]["step"]


# DDP: `torchrun --nproc_per_node=2` (gloo, CPU) matches one process that sees the same global batch

DDP_FLAGS = dict(
    total_batch_tokens=512,
    seq_len=32,
    max_steps=3,
    eval_every=2,
    val_batches=2,
    hellaswag=None,
    sample_tokens=0,
    device="cpu",
)


def test_torchrun_two_ranks_equals_one_process(shards, tmp_path):
    # 2 ranks x micro-batch 4 x 2 micro-steps == 1 process x micro-batch 8 x 2 micro-steps (512 tokens a step)
    argv = [
        "--config",
        "baseline",
        "--model",
        "tiny",
        "--data",
        shards,
        "--out",
        str(tmp_path),
        "--run-name",
        "ddp",
        "--micro-batch",
        "4",
    ]
    for k, v in DDP_FLAGS.items():
        argv += [f"--{k.replace('_', '-')}", "none" if v is None else str(v)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "gpt-2" / "train.py"),
        *argv,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    single = T.train(
        resolve("baseline", model="tiny", data=shards, out=str(tmp_path), run_name="single", micro_batch=8, **DDP_FLAGS)
    )
    with open(tmp_path / "ddp" / "log.jsonl") as f:
        records = [json.loads(line) for line in f]
    header = records[0]
    assert header["world_size"] == 2 and header["grad_accum_steps"] == 2
    ddp_losses = [r["loss"] for r in records if r["type"] == "train"]
    assert ddp_losses == pytest.approx(single.losses, abs=1e-6)
    ddp_val = [r["val_loss"] for r in records if r["type"] == "eval"]
    single_val = [r["val_loss"] for r in map(json.loads, open(single.run_dir / "log.jsonl")) if r["type"] == "eval"]
    assert ddp_val == pytest.approx(single_val, abs=1e-6)
    a = load_checkpoint(tmp_path / "ddp" / "ckpt_000003.pt")["model"]
    b = load_checkpoint(single.checkpoint)["model"]
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6


def test_bits_per_byte():
    assert bits_per_byte(math.log(2) * 4.0, 4.0) == pytest.approx(1.0)  # 4 bits/token over 4 bytes/token


def end_to_end(shards, out, steps, micro_batch, seq_len):
    """A rope run of STEPS steps with evaluations at 0, STEPS/2 and STEPS: it learns, and sample.py reads its
    checkpoint."""
    cfg = tiny(
        shards,
        out,
        config="rope",
        max_steps=steps,
        total_batch_tokens=micro_batch * seq_len,
        micro_batch=micro_batch,
        seq_len=seq_len,
        eval_every=steps // 2,
        val_batches=8,
        log_every=50,
        hellaswag=str(shared_file("hellaswag_val.jsonl")),
        hellaswag_examples=20,
        sample_tokens=8,
    )
    run = T.train(cfg)
    evals = logged(run.run_dir, "eval")
    assert [e["step"] for e in evals] == [0, steps // 2, steps]
    assert evals[0]["val_loss"] == pytest.approx(math.log(50257), abs=0.5)  # uniform over the vocab at init
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 2.0
    assert evals[-1]["val_bpb"] < evals[0]["val_bpb"]
    assert 0.0 <= evals[-1]["hellaswag"] <= 1.0
    assert logged(run.run_dir, "sample")[0]["text"].startswith(cfg.sample_prompt)
    train_recs = logged(run.run_dir)
    assert all(r["tokens_per_sec"] > 0 for r in train_recs) and train_recs[-1]["lr"] == pytest.approx(
        1.5e-4, rel=1e-2
    )  # 10% of 1.5e-3
    header = logged(run.run_dir, "config")[0]
    assert header["git_commit"] and header["train_config"]["config"] == "rope"
    sample = subprocess.run(
        [
            sys.executable,
            str(ROOT / "gpt-2" / "sample.py"),
            "--ckpt",
            str(run.checkpoint),
            "--max-new-tokens",
            "10",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.strip()
    return run


def test_end_to_end_short(shards, tmp_path, capsys):
    run = end_to_end(shards, tmp_path, steps=150, micro_batch=4, seq_len=32)
    from gpt2 import hellaswag

    capsys.readouterr()
    hellaswag.main(
        [
            "--ckpt",
            str(run.checkpoint),
            "--path",
            str(shared_file("hellaswag_val.jsonl")),
            "--limit",
            "8",
            "--device",
            "cpu",
        ]
    )
    assert "8 examples: acc " in capsys.readouterr().out


@pytest.mark.slow
def test_end_to_end_few_hundred_steps(shards, tmp_path):
    end_to_end(shards, tmp_path, steps=400, micro_batch=8, seq_len=64)
