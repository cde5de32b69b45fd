"""The speed ladder as data: how a GPT-2 training step goes from slow to fast, one switch at a time.

    from gpt2 import speed
    for rung, settings in speed.cumulative():      # fp32 eager + manual attention, then + TF32, + bf16, ...
        model, optimizer = speed.build(settings, model_cfg, seed=1337, device="cpu")
        with speed.applied(settings):
            train_step(speed.maybe_compile(model, settings), optimizer, ..., autocast_dtype=settings.autocast_dtype)

Each rung names one field of `Settings` and the value it switches it to; every switch acts on the real trainer's
pieces (gpt2.model.GPT, GPT.configure_optimizers, gpt2.train.train_step), never on a copy of them. `cumulative()` is
the ladder (each rung keeps the ones below it), `ablation()` switches one rung at a time on the fp32 eager base.
bench/gpt2_speed.py measures them. `ORIGINAL_A6000` holds the original's tokens/s per rung (its figures, not ours).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from gpt2.model import GPT, GPTConfig


@dataclass(frozen=True)
class Settings:
    """What a training step is made of; the defaults are the slowest rung (fp32 eager, hand-written attention)."""

    attention: str = "manual"  # GPTConfig.attention: "manual" | "sdpa"
    tf32: bool = False  # torch.set_float32_matmul_precision("high")
    bf16: bool = False  # torch.autocast(dtype=bfloat16) around forward + loss (train_step's autocast_dtype)
    compile: bool = False  # torch.compile(model)
    compile_mode: str | None = None  # torch.compile mode ("max-autotune": autotuned kernels + CUDA graphs)
    pad_vocab: bool = False  # GPTConfig.pad_vocab_to=64: 50257 -> 50304 rows in wte / lm_head
    fused_adamw: bool = False  # configure_optimizers(fused=True)

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.bf16 else None


@dataclass(frozen=True)
class Rung:
    name: str
    field: str  # the Settings field this rung switches
    value: object
    why: str  # why it helps on a GPU
    cpu: str  # what to expect on a CPU
    gpu_only: bool = False  # does not exist on a CPU: reported, never run there


# fmt: off
# ruff: noqa: E501
RUNGS: list[Rung] = [
    Rung("TF32 matmuls", "tf32", True,
         "fp32 matmuls run on tensor cores with a 10-bit mantissa (8x the fp32 FLOP/s on an A100)",
         "no effect on CPU: there is no TF32 unit; 'high' precision leaves CPU matmuls bit-identical"),
    Rung("bf16 autocast", "bf16", True,
         "matmuls in bf16 on tensor cores (2x TF32) and half the bytes moved for activations",
         "oneDNN bf16 kernels where the CPU has avx512_bf16/AMX; elsewhere emulated, often slower"),
    Rung("SDPA attention", "attention", "sdpa",
         "F.scaled_dot_product_attention dispatches to flash attention: the T x T scores never reach HBM",
         "a fused CPU kernel (flash-style, blocked) instead of materialising T x T scores: helps at long T"),
    Rung("torch.compile", "compile", True,
         "fuses elementwise ops (GELU, LayerNorm, residual adds) into few kernels: fewer HBM round trips, no Python",
         "inductor emits fused C++/OpenMP loops; matmuls (most of the time) are unchanged"),
    Rung("vocab 50304", "pad_vocab", True,
         "50304 = 64 * 786: the LM-head matmul tiles evenly instead of running a ragged last block",
         "CPU GEMMs care little about a multiple of 64; 0.09% more LM-head FLOPs"),
    Rung("fused AdamW", "fused_adamw", True,
         "one kernel updates every parameter instead of a launch per tensor",
         "torch >= 2.4 has a fused CPU AdamW: one vectorised pass over each tensor instead of ~10 ops"),
    Rung("compile max-autotune", "compile_mode", "max-autotune",
         "autotuned Triton matmuls and CUDA graphs (no per-kernel launch cost)",
         "GPU only here: CUDA graphs and Triton autotuning do not exist on a CPU", gpu_only=True),
]
# fmt: on

# The original's tokens/s on one A6000 (GPT-2 124M), labelled as theirs: their ladder ran compile before flash
# attention, and had no fused-AdamW or max-autotune rung. Keyed by our rung names; "fp32 eager" is the base.
ORIGINAL_A6000 = {
    "fp32 eager": 21.1e3,
    "TF32 matmuls": 30.8e3,
    "bf16 autocast": 38.6e3,
    "torch.compile": 80.0e3,
    "SDPA attention": 104.5e3,
    "vocab 50304": 107.5e3,
}
BASE = "fp32 eager"


def rungs(names: list[str] | None = None) -> list[Rung]:
    """The rungs called NAMES (in ladder order), or all of them."""
    if names is None:
        return list(RUNGS)
    known = {r.name: r for r in RUNGS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown rung(s) {unknown}: choose from {', '.join(known)}")
    return [r for r in RUNGS if r.name in names]


def switch(settings: Settings, rung: Rung) -> Settings:
    """SETTINGS with RUNG's one field switched (a max-autotune rung also needs compile on)."""
    extra = {"compile": True} if rung.field == "compile_mode" else {}
    return dataclasses.replace(settings, **{rung.field: rung.value}, **extra)


def cumulative(selected: list[Rung] | None = None) -> list[tuple[str, Settings]]:
    """The ladder: the base, then each rung on top of every rung before it."""
    settings, out = Settings(), [(BASE, Settings())]
    for rung in RUNGS if selected is None else selected:
        settings = switch(settings, rung)
        out.append((rung.name, settings))
    return out


def ablation(selected: list[Rung] | None = None) -> list[tuple[str, Settings]]:
    """One rung at a time on the fp32 eager base."""
    return [(BASE, Settings())] + [(r.name, switch(Settings(), r)) for r in (RUNGS if selected is None else selected)]


def unavailable(name: str, device: torch.device) -> str | None:
    """Why the rung called NAME cannot run on DEVICE, or None when it can."""
    rung = next((r for r in RUNGS if r.name == name), None)
    if rung is not None and rung.gpu_only and device.type != "cuda":
        return f"not run: {rung.cpu}"
    return None


def model_config(settings: Settings, base: GPTConfig) -> GPTConfig:
    return dataclasses.replace(base, attention=settings.attention, pad_vocab_to=64 if settings.pad_vocab else 1)


def build(settings: Settings, base: GPTConfig, seed: int, device: torch.device | str) -> tuple[GPT, torch.optim.AdamW]:
    """The model and optimizer of SETTINGS, with the same initial weights on every rung: the padded-vocab model gets
    the unpadded model's weights (padding rows zero), so padding cannot change the RNG stream of the init."""
    torch.manual_seed(seed)
    model = GPT(model_config(dataclasses.replace(settings, pad_vocab=False), base))
    if settings.pad_vocab:
        padded = GPT(model_config(settings, base))
        state = model.state_dict()
        for key in ("transformer.wte.weight", "lm_head.weight"):
            rows = torch.zeros_like(padded.state_dict()[key])
            rows[: base.vocab_size] = state[key]
            state[key] = rows
        padded.load_state_dict(state)
        model = padded
    model = model.to(device)
    optimizer = model.configure_optimizers(0.1, 1.0, device_type=torch.device(device).type, fused=settings.fused_adamw)
    return model, optimizer


def maybe_compile(model: GPT, settings: Settings):
    return torch.compile(model, mode=settings.compile_mode) if settings.compile else model


@contextlib.contextmanager
def applied(settings: Settings) -> Iterator[None]:
    """The process-wide switches of SETTINGS (TF32 matmul precision), restored afterwards."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if settings.tf32 else "highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def tf32_changes_matmuls(device: torch.device | str) -> bool:
    """Whether 'high' matmul precision changes a float32 matmul's bits on DEVICE (False on CPU: no TF32 units)."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(256, 256, generator=g).to(device) for _ in range(2))
    with applied(Settings()):
        exact = a @ b
    with applied(Settings(tf32=True)):
        fast = a @ b
    return not torch.equal(exact, fast)
