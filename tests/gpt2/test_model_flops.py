"""gpt2.flops: the peak table resolves real device names (as torch.cuda.get_device_name reports them) to the
datasheet's dense figures, more specific names first; no MFU where there is no meaningful peak."""

from __future__ import annotations

import pytest
import torch

from gpt2 import flops


@pytest.mark.parametrize(
    "name,dtype,tflops",
    [
        ("NVIDIA H100 80GB HBM3", torch.bfloat16, 989),
        ("NVIDIA H100 PCIe", torch.bfloat16, 756),
        ("NVIDIA H200", torch.bfloat16, 989),
        ("NVIDIA A100-SXM4-80GB", torch.bfloat16, 312),
        ("NVIDIA A10", torch.float16, 125),  # not the A100's
        ("NVIDIA L4", torch.bfloat16, 121),
        ("NVIDIA L40S", torch.bfloat16, 362),  # not the L4's
        ("NVIDIA A100-SXM4-40GB", torch.float32, 19.5),
    ],
)
def test_peak_flops_by_device_name(name, dtype, tflops):
    assert flops.peak_flops_for_name(name, dtype) == pytest.approx(tflops * 1e12)


def test_unknown_gpu_or_dtype_gives_none():
    assert flops.peak_flops_for_name("Some Future GPU") is None
    assert flops.peak_flops_for_name("Tesla V100-SXM2-16GB", torch.bfloat16) is None  # no bf16 tensor cores


def test_mfu_is_none_on_cpu():
    assert flops.peak_flops("cpu") is None
    assert flops.mfu(1e12, torch.device("cpu"), torch.float32) is None


def test_mfu_divides_by_the_peak(monkeypatch):
    monkeypatch.setattr(flops, "peak_flops", lambda device, dtype=torch.bfloat16: 400e12)
    assert flops.mfu(180e12, "cuda") == pytest.approx(0.45)
