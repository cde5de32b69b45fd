"""The learning-rate schedule of GPT-3 small / build-nanogpt: linear warmup, then cosine decay to a floor.

    lr = get_lr(step, max_lr=6e-4, warmup_steps=715, max_steps=19073)   # min_lr_ratio=0.1: floor at 10% of max

Step numbers start at 0; warmup reaches max_lr at step warmup_steps - 1 (so step 0 does not train at lr 0), the cosine
runs from step warmup_steps to max_steps, and anything past max_steps stays on the floor.
"""

from __future__ import annotations

import math


def get_lr(step: int, max_lr: float, warmup_steps: int, max_steps: int, min_lr_ratio: float = 0.1) -> float:
    """Learning rate for optimizer step STEP (0-based)."""
    min_lr = max_lr * min_lr_ratio
    if step < warmup_steps:  # linear warmup: max_lr/warmup, 2*max_lr/warmup, ..., max_lr
        return max_lr * (step + 1) / warmup_steps
    if step >= max_steps or max_steps <= warmup_steps:
        return min_lr
    decay_ratio = (step - warmup_steps) / (max_steps - warmup_steps)  # 0 -> 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # 1 -> 0
    return min_lr + coeff * (max_lr - min_lr)
