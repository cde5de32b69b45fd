"""Model FLOPs utilization: achieved training FLOPs / the accelerator's peak dense throughput.

    from gpt2 import flops
    util = flops.mfu(model.flops_per_token(T) * tokens_per_sec, "cuda", torch.bfloat16)   # None on CPU

FLOPs per token come from `GPT.flops_per_token` (6N + attention). Peaks are dense (no 2:4 sparsity) tensor-core
figures from the vendors' datasheets, per GPU model and dtype; an unknown GPU gives None rather than a guess.
`python -m gpt2.flops` prints the table and the detected device.
"""

from __future__ import annotations

import torch

T = 1e12
# (substring of torch.cuda.get_device_name(), {dtype: peak dense FLOP/s}). First match wins, so the more specific
# names come first ("H100 PCIe" before "H100", "A100" before "A10", "L40S" before "L4").
PEAK_FLOPS: list[tuple[str, dict[torch.dtype, float]]] = [
    ("H200", {torch.bfloat16: 989 * T, torch.float16: 989 * T, torch.float32: 67 * T}),
    ("GH200", {torch.bfloat16: 989 * T, torch.float16: 989 * T, torch.float32: 67 * T}),
    ("H100 PCIe", {torch.bfloat16: 756 * T, torch.float16: 756 * T, torch.float32: 51 * T}),
    ("H100 NVL", {torch.bfloat16: 835 * T, torch.float16: 835 * T, torch.float32: 60 * T}),
    ("H100", {torch.bfloat16: 989 * T, torch.float16: 989 * T, torch.float32: 67 * T}),  # SXM
    ("A100", {torch.bfloat16: 312 * T, torch.float16: 312 * T, torch.float32: 19.5 * T}),
    ("L40S", {torch.bfloat16: 362 * T, torch.float16: 362 * T, torch.float32: 91.6 * T}),
    ("L40", {torch.bfloat16: 181 * T, torch.float16: 181 * T, torch.float32: 90.5 * T}),
    ("L4", {torch.bfloat16: 121 * T, torch.float16: 121 * T, torch.float32: 30.3 * T}),
    ("A10", {torch.bfloat16: 125 * T, torch.float16: 125 * T, torch.float32: 31.2 * T}),
    ("RTX 4090", {torch.bfloat16: 165 * T, torch.float16: 165 * T, torch.float32: 82.6 * T}),
    ("RTX 3090", {torch.bfloat16: 71 * T, torch.float16: 71 * T, torch.float32: 35.6 * T}),
    ("V100", {torch.float16: 125 * T, torch.float32: 15.7 * T}),  # no bf16 tensor cores
    ("T4", {torch.float16: 65 * T, torch.float32: 8.1 * T}),
]


def peak_flops_for_name(gpu_name: str, dtype: torch.dtype = torch.bfloat16) -> float | None:
    """Peak dense FLOP/s of the GPU called gpu_name at dtype, or None when the table does not know it."""
    for key, peaks in PEAK_FLOPS:
        if key.lower() in gpu_name.lower():
            return peaks.get(dtype)
    return None


def peak_flops(device: torch.device | str, dtype: torch.dtype = torch.bfloat16) -> float | None:
    """Peak dense FLOP/s of `device` at dtype; None on CPU (no meaningful single peak) or an unknown GPU."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return peak_flops_for_name(torch.cuda.get_device_name(device), dtype)


def mfu(model_flops_per_sec: float, device: torch.device | str, dtype: torch.dtype = torch.bfloat16) -> float | None:
    """Model FLOPs utilization in [0, 1] (None where the peak is unknown)."""
    peak = peak_flops(device, dtype)
    return None if peak is None else model_flops_per_sec / peak


if __name__ == "__main__":
    for name, peaks in PEAK_FLOPS:
        print(
            f"{name:10s} "
            + "  ".join(f"{str(d).removeprefix('torch.')}: {v / T:6.1f} TFLOP/s" for d, v in peaks.items())
        )
    if torch.cuda.is_available():
        print(f"this machine: {torch.cuda.get_device_name()} -> bf16 peak {peak_flops('cuda')}")
    else:
        print("this machine: no CUDA device (MFU is reported only on GPUs)")
