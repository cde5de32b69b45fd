"""Which device to compute on: `pick_device("auto")` takes a CUDA GPU, else Apple's MPS, else the CPU.

    device = pick_device(args.device)    # "auto", "cpu", "cuda", "cuda:1", "mps"

Asking for a device that is not here is a ValueError naming the flag's other choices, not a crash deep in torch.
"""

from __future__ import annotations

import torch


def pick_device(spec: str = "auto") -> torch.device:
    """The torch device for a --device flag value."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"--device {spec}: not a device name; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {spec}: no CUDA GPU is visible here; use --device auto or cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {spec}: Apple's MPS backend is not available here; use --device auto or cpu")
    return device
