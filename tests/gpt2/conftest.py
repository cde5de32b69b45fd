"""pytest configuration for the gpt2 tests: one torch thread in every test module."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: these matmuls are small, and on 2 shared cores 2 threads ran 3-30x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
