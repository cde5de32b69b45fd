"""The LR schedule at its landmarks, against hand-computed values."""

import math

import pytest

from gpt2.schedule import get_lr

MAX_LR, WARMUP, STEPS = 6e-4, 10, 110  # cosine runs over steps 10..110


def test_warmup_start_and_end():
    assert get_lr(0, MAX_LR, WARMUP, STEPS) == pytest.approx(6e-5)  # 1/10 of max, not 0
    assert get_lr(4, MAX_LR, WARMUP, STEPS) == pytest.approx(3e-4)
    assert get_lr(WARMUP - 1, MAX_LR, WARMUP, STEPS) == pytest.approx(MAX_LR)
    assert get_lr(WARMUP, MAX_LR, WARMUP, STEPS) == pytest.approx(MAX_LR)  # cosine starts at the top


def test_cosine_midpoint_and_quarter():
    assert get_lr(60, MAX_LR, WARMUP, STEPS) == pytest.approx(0.5 * (6e-4 + 6e-5))  # halfway: mean of max and floor
    quarter = 6e-5 + (6e-4 - 6e-5) * 0.5 * (1 + math.cos(math.pi / 4))
    assert get_lr(35, MAX_LR, WARMUP, STEPS) == pytest.approx(quarter)


def test_floor_is_ten_percent():
    assert get_lr(STEPS, MAX_LR, WARMUP, STEPS) == pytest.approx(6e-5)
    assert get_lr(STEPS + 500, MAX_LR, WARMUP, STEPS) == pytest.approx(6e-5)
    assert get_lr(STEPS, MAX_LR, WARMUP, STEPS, min_lr_ratio=0.0) == 0.0


def test_monotone_after_warmup():
    lrs = [get_lr(s, MAX_LR, WARMUP, STEPS) for s in range(WARMUP, STEPS + 1)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
