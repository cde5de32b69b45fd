"""scratch.device.pick_device: "auto" takes the best device here; a device that is not here is a ValueError."""

import pytest
import torch

from scratch.device import pick_device


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_matches_what_torch_sees():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device("auto") == pick_device() == torch.device(expected)


def test_auto_without_accelerator_is_cpu(no_accelerator):
    assert pick_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch, no_accelerator):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("spec", ["cpu", "cpu:0"])
def test_cpu_always_works(spec, no_accelerator):
    assert pick_device(spec) == torch.device(spec)


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_refused_without_gpu(spec, no_accelerator):
    with pytest.raises(ValueError, match=f"--device {spec}: no CUDA GPU"):
        pick_device(spec)


def test_cuda_index_beyond_the_gpus_here(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="only 2 CUDA device"):
        pick_device("cuda:2")


def test_mps_refused_where_absent(no_accelerator):
    with pytest.raises(ValueError, match="MPS"):
        pick_device("mps")


@pytest.mark.parametrize("spec", ["gpu", "GPU", "", "cuda:x", "cpu1"])
def test_bad_names_are_value_errors(spec):
    with pytest.raises(ValueError, match="not a device name"):
        pick_device(spec)


@pytest.mark.gpu
def test_real_gpu_when_present():
    device = pick_device("cuda:0")
    assert torch.ones(2, device=device).sum().item() == 2.0
