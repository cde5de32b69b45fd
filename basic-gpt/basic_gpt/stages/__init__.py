"""The ladder: each stage adds one idea to the previous one. Read them in this order.

Each entry holds the model class and the settings the original lecture trained it with (the stated budget of
`stages.py`); the scaled stage has two presets, "cpu" (nanoGPT's baby GPT size) and "full" (the lecture's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from basic_gpt.model import CharLM
from basic_gpt.stages.bigram import BigramLM
from basic_gpt.stages.feed_forward import FeedForwardLM
from basic_gpt.stages.multi_head import MultiHeadLM
from basic_gpt.stages.post_layernorm import PostLayerNormLM
from basic_gpt.stages.pre_layernorm import PreLayerNormLM
from basic_gpt.stages.residual import ResidualLM
from basic_gpt.stages.scaled import GPT
from basic_gpt.stages.single_head import SingleHeadLM


@dataclass(frozen=True)
class Stage:
    name: str
    model_cls: type[CharLM]
    idea: str
    model: dict = field(default_factory=dict)  # GPTConfig overrides
    train: dict = field(default_factory=dict)  # TrainConfig overrides
    original: float | None = None  # the lecture's val loss for this stage


# The lecture's small-model settings: context 8, 32 dims, 4 heads, 3 layers, batch 32, lr 1e-3, 5000 iterations.
SMALL = dict(block_size=8, n_embd=32, n_head=4, n_layer=3)
SMALL_TRAIN = dict(batch_size=32, lr=1e-3, max_iters=5000)

# nanoGPT's CPU "baby GPT" size (<= 1.0M parameters, 12 x 64 = 768 tokens per iteration), with modern training.
SCALED_CPU = dict(block_size=64, n_embd=128, n_head=4, n_layer=4, dropout=0.0, rope=True, tie_weights=True, flash=True)
SCALED_CPU_TRAIN = dict(
    batch_size=12,
    lr=3e-3,
    min_lr=3e-4,
    warmup_iters=100,
    schedule="cosine",
    max_iters=2000,
    weight_decay=0.1,
    betas=(0.9, 0.99),
    eval_interval=250,
)
# The lecture's scaled-up model (10.8M parameters): a GPU job.
SCALED_FULL = dict(block_size=256, n_embd=384, n_head=6, n_layer=6, dropout=0.2, flash=True)
SCALED_FULL_TRAIN = dict(batch_size=64, lr=3e-4, max_iters=5000, eval_interval=500)

STAGES: dict[str, Stage] = {
    s.name: s
    for s in [
        Stage(
            "bigram",
            BigramLM,
            "a lookup table: next char from current char",
            dict(block_size=8),
            dict(batch_size=32, lr=1e-2, max_iters=3000),
            2.47,
        ),
        Stage("single-head", SingleHeadLM, "+ position embedding, one self-attention head", SMALL, SMALL_TRAIN, 2.45),
        Stage("multi-head", MultiHeadLM, "4 heads of size 8, concatenated", SMALL, SMALL_TRAIN, 2.38),
        Stage("feed-forward", FeedForwardLM, "+ per-position MLP; blocks stacked 3 deep", SMALL, SMALL_TRAIN, 2.27),
        Stage("residual", ResidualLM, "x = x + sublayer(x)", SMALL, SMALL_TRAIN, 2.20),
        Stage("post-layernorm", PostLayerNormLM, "LayerNorm after each residual add", SMALL, SMALL_TRAIN, 2.06),
        Stage("pre-layernorm", PreLayerNormLM, "LayerNorm before each sublayer, + ln_f", SMALL, SMALL_TRAIN, 2.07),
        Stage(
            "scaled",
            GPT,
            "batched heads, GPT-2 init, RoPE, tying, AdamW+cosine; bigger",
            SCALED_CPU,
            SCALED_CPU_TRAIN,
            1.48,
        ),
    ]
}
PRESETS = {"cpu": (SCALED_CPU, SCALED_CPU_TRAIN), "full": (SCALED_FULL, SCALED_FULL_TRAIN)}
