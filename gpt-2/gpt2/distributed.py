"""The process side of a run: which rank this is, on which device, reductions across ranks, and a clean stop.

    d = setup_distributed("auto")        # under torchrun: joins the process group; else one process (world_size 1)
    all_reduce(t, d)                     # sums T over ranks in place (a no-op in one process)
    with GracefulStop() as stop:         # SIGTERM / SIGINT set stop.signal instead of killing the process
        ... if stop_agreed(stop, d): save and leave ...
    teardown()

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; nccl on GPUs, gloo on CPU (which is how the tests run two ranks).
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass

import torch
import torch.distributed as dist

from scratch.device import pick_device


@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def ddp(self) -> bool:
        return self.world_size > 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str = "auto") -> Dist:
    """Join the torchrun process group when launched by torchrun (nccl on GPU, gloo on CPU), else a single process."""
    if "RANK" not in os.environ:
        return Dist(device=pick_device(device))
    rank, local_rank, world = (int(os.environ[k]) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    dev = pick_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, local_rank, world, dev)


def all_reduce(t: torch.Tensor, d: Dist, op=None) -> torch.Tensor:
    """Reduce T over all ranks in place (default: sum); one process leaves it as it is."""
    if d.ddp:
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
    return t


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


class GracefulStop:
    """Context manager: SIGTERM/SIGINT set `.signal` instead of killing; the loop checkpoints and leaves."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal: str | None = None
        self._old = {}

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # Python only lets the main thread set handlers
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def stop_agreed(stop: GracefulStop, d: Dist) -> bool:
    """Whether any rank was signalled: every rank stops after the same step (a signal may reach only one)."""
    signalled = torch.tensor(float(stop.signal is not None), device=d.device)
    all_reduce(signalled, d, dist.ReduceOp.MAX if d.ddp else None)
    return bool(signalled.item())
