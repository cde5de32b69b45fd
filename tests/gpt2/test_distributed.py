"""gpt2.distributed in one process (two ranks under torchrun: test_train.py): a signal becomes a stop request that
the loop reads after the step, and the process's own handlers come back afterwards."""

import os
import signal

import torch

from gpt2.distributed import Dist, GracefulStop, all_reduce, setup_distributed, stop_agreed


def test_one_process_without_torchrun(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    d = setup_distributed("cpu")
    assert (d.rank, d.world_size, d.master, d.ddp, d.device.type) == (0, 1, True, False, "cpu")
    assert torch.equal(all_reduce(torch.tensor([1.0, 2.0]), d), torch.tensor([1.0, 2.0]))


def test_sigterm_becomes_a_stop_request():
    before = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as stop:
        assert not stop_agreed(stop, Dist())
        os.kill(os.getpid(), signal.SIGTERM)  # handled: the process goes on
        assert stop.signal == "SIGTERM" and stop_agreed(stop, Dist())
    assert signal.getsignal(signal.SIGTERM) is before
