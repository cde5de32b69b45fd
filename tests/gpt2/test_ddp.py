"""DDP: `torchrun --nproc_per_node=2` (gloo, CPU) matches one process that sees the same global batch."""

import json
import os
import subprocess
import sys

import pytest
import torch

from gpt2 import train as T
from gpt2.checkpoint import load_checkpoint
from gpt2.configs import resolve
from testutil import ROOT, require_tiktoken_cache, shared_file

FLAGS = dict(total_batch_tokens=512, seq_len=32, max_steps=3, eval_every=2, val_batches=2, hellaswag=None,
             sample_tokens=0, device="cpu")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    require_tiktoken_cache()
    from gpt2.prepare import main as prepare

    out = tmp_path_factory.mktemp("shakespeare")
    prepare(["--dataset", str(shared_file("tinyshakespeare.txt")), "--tokenizer", "gpt2", "--shard-tokens", "32K",
             "--out", str(out), "--workers", "1"])
    return str(out)


def test_torchrun_two_ranks_equals_one_process(shards, tmp_path):
    # 2 ranks x micro-batch 4 x 2 micro-steps == 1 process x micro-batch 8 x 2 micro-steps (512 tokens a step)
    argv = ["--config", "baseline", "--model", "tiny", "--data", shards, "--out", str(tmp_path), "--run-name", "ddp",
            "--micro-batch", "4"]
    for k, v in FLAGS.items():
        argv += [f"--{k.replace('_', '-')}", "none" if v is None else str(v)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "gpt-2" / "train.py"), *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank has (OMP_NUM_THREADS=1): small matmuls, 2 shared cores
    try:
        single = T.train(resolve("baseline", model="tiny", data=shards, out=str(tmp_path), run_name="single",
                                 micro_batch=8, **FLAGS))
    finally:
        torch.set_num_threads(threads)
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
